/**
 * Requests compiled for the hot path: templates become functions, static parts are computed once,
 * the weighted mix becomes a cumulative table, and checks become predicates.
 */
import { readFileSync } from 'node:fs';
import { frameMessage, type GrpcCodec, grpcCodec } from './grpc-client.ts';
import type { CheckSpec, RequestSpec } from './scenario.ts';
import { compileString, compileValue, hasTemplate, jsonPathGet, type TemplateContext } from './template.ts';

export interface CompiledCheck {
  name: string;
  needsBody: boolean;
  test(status: number, body: string, json: () => unknown): boolean;
}

export interface CompiledRequest {
  index: number;
  name: string;
  method: string;
  tags: Record<string, string>;
  /** Statuses that count as success; null = 200-399. */
  expect: Set<number> | null;
  checks: CompiledCheck[];
  /** The response body must be collected (body checks or captures). */
  needsBody: boolean;
  /** A gRPC call: the codec of its method (the status is the gRPC status, the body its reply frames). */
  grpc: GrpcCodec | undefined;
  /** Nothing is templated: options() always returns the same object. */
  static: boolean;
  /** Dispatch options; the same object every time when nothing is templated. */
  options(ctx: TemplateContext): {
    method: string;
    path: string;
    headers: Record<string, string>;
    body?: string | Buffer;
  };
}

/** What a request needs beyond its own spec. */
export interface PlanInput {
  headers: Record<string, string>;
  /** Bearer token from the auth service, if the scenario has `auth`. */
  token?: string | undefined;
  timeoutMs: number;
}

export function compileRequest(
  spec: RequestSpec & { bodyPath?: string },
  index: number,
  input: PlanInput,
  extraNeedsBody = false,
): CompiledRequest {
  const headersSrc: Record<string, string> = { ...lower(input.headers), ...lower(spec.headers) };
  if (spec.auth && input.token) headersSrc.authorization = `Bearer ${input.token}`;
  let body: ((c: TemplateContext) => string | Buffer) | undefined;
  let staticBody = true;
  const codec = spec.grpc ? grpcCodec(spec.grpc.method) : undefined;
  if (spec.grpc && codec) {
    // Metadata on top of the defaults; the HTTP body headers of the defaults do not apply.
    delete headersSrc['content-type'];
    delete headersSrc['content-length'];
    Object.assign(headersSrc, lower(spec.grpc.metadata));
    const message = compileValue(spec.grpc.message);
    staticBody = !hasTemplate(JSON.stringify(spec.grpc.message));
    body = (c) => frameMessage(codec.serialize(message(c)));
  } else if (spec.bodyPath) {
    const buf = readFileSync(spec.bodyPath);
    body = () => buf;
    headersSrc['content-type'] ??= 'application/octet-stream';
  } else if (spec.rawBody !== undefined) {
    const f = compileString(spec.rawBody);
    staticBody = !hasTemplate(spec.rawBody);
    body = f;
    headersSrc['content-type'] ??= 'text/plain';
  } else if (spec.body !== undefined) {
    const f = compileValue(spec.body);
    staticBody = !hasTemplate(JSON.stringify(spec.body));
    body = (c) => JSON.stringify(f(c));
    headersSrc['content-type'] ??= 'application/json';
  }
  const headerFns = Object.entries(headersSrc).map(
    ([k, v]) => [k, compileString(v), hasTemplate(v)] as const,
  );
  const staticHeaders = headerFns.every(([, , t]) => !t);
  const pathFn = compileString(spec.path);
  const staticPath = !hasTemplate(spec.path);
  const checks = spec.checks.map((c) => compileCheck(c));
  const needsBody = extraNeedsBody || checks.some((c) => c.needsBody);
  let options: CompiledRequest['options'];
  const isStatic = staticHeaders && staticPath && staticBody;
  const dummy: TemplateContext = { vu: 0, iter: 0, data: {}, env: {} };
  if (isStatic) {
    const headers = Object.fromEntries(headerFns.map(([k, f]) => [k, f(dummy)]));
    const fixed = {
      method: spec.method,
      path: pathFn(dummy),
      headers,
      ...(body ? { body: body(dummy) } : {}),
    };
    options = () => fixed;
  } else {
    options = (c) => {
      const headers: Record<string, string> = {};
      for (const [k, f] of headerFns) headers[k] = f(c);
      return { method: spec.method, path: pathFn(c), headers, ...(body ? { body: body(c) } : {}) };
    };
  }
  return {
    index,
    name: spec.name,
    method: spec.method,
    tags: { name: spec.name, method: spec.method, ...spec.tags },
    expect: spec.expect ? new Set(spec.expect) : null,
    checks,
    needsBody,
    grpc: codec,
    static: isStatic,
    options,
  };
}

function lower(h: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
}

export function compileCheck(c: CheckSpec): CompiledCheck {
  if ('status' in c) {
    const set = new Set(c.status);
    return { name: c.name ?? `status in [${c.status.join(',')}]`, needsBody: false, test: (s) => set.has(s) };
  }
  if ('bodyContains' in c) {
    const needle = c.bodyContains;
    return {
      name: c.name ?? `body contains ${JSON.stringify(needle)}`,
      needsBody: true,
      test: (_s, body) => body.includes(needle),
    };
  }
  const path = c.jsonPath;
  if (c.equals !== undefined) {
    const want = c.equals;
    return {
      name: c.name ?? `${path} == ${JSON.stringify(want)}`,
      needsBody: true,
      test: (_s, _b, json) => jsonPathGet(json(), path) === want,
    };
  }
  const exists = c.exists ?? true;
  return {
    name: c.name ?? `${path} ${exists ? 'exists' : 'is absent'}`,
    needsBody: true,
    test: (_s, _b, json) => (jsonPathGet(json(), path) !== undefined) === exists,
  };
}

/** Picks a request index by weight with one random number and a short scan. */
export function weightedPicker(weights: number[]): () => number {
  if (weights.length === 1) return () => 0;
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const w of weights) {
    acc += w / total;
    cumulative.push(acc);
  }
  const last = weights.length - 1;
  return () => {
    const r = Math.random();
    for (let i = 0; i < last; i++) if (r < (cumulative[i] as number)) return i;
    return last;
  };
}

/** Whether a status counts as a failure for http_req_failed (for a gRPC call: any status but OK). */
export function isFailure(req: CompiledRequest, status: number): boolean {
  if (req.grpc) return status !== 0;
  return req.expect ? !req.expect.has(status) : status < 200 || status >= 400;
}
