/**
 * The load scenario file format (YAML), validated with zod so every mistake is reported as
 * file:line:column with a fix. Flags from `load run` are applied to the raw document before
 * validation, so an invalid override is reported the same way.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { closest } from '../core/closest.ts';
import { strict } from '../core/config/strict.ts';
import { readYamlFile, validateWith } from '../core/config/yaml-source.ts';
import { durationSchema } from '../core/duration-schema.ts';
import { UsageError } from '../core/errors.ts';
import { parseThresholdExpression, parseThresholdKey, type ThresholdKey } from './thresholds.ts';
import { VALIDITY_LIMITS, type ValidityLimits } from './validity.ts';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const headersSchema = z.record(z.string(), z.union([z.string(), z.number()]).transform(String));
const statusList = z.array(z.number().int().min(100).max(599)).min(1);

const checkSchema = z.union([
  strict({ name: z.string().optional(), status: statusList }),
  strict({ name: z.string().optional(), bodyContains: z.string().min(1) }),
  strict({
    name: z.string().optional(),
    jsonPath: z.string().min(1),
    equals: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    exists: z.boolean().optional(),
  }),
]);
export type CheckSpec = z.output<typeof checkSchema>;

const requestFields = {
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, {
    error: 'request names are letters, digits, dot, dash or underscore',
  }),
  weight: z.number().positive().default(1),
  method: z
    .string()
    .transform((m) => m.toUpperCase())
    .pipe(z.enum(METHODS)),
  path: z.string().refine((p) => p.startsWith('/'), {
    error: 'path must start with "/"',
    params: { fix: 'write the path from the root of the target, e.g. "/content"' },
  }),
  headers: headersSchema.default({}),
  /** JSON body; string values may use {{templates}}. */
  body: z.unknown().optional(),
  /** A raw text body (templated). */
  rawBody: z.string().optional(),
  /** A file sent as the raw body, relative to the scenario file. */
  bodyFile: z.string().optional(),
  /** Statuses that count as success for http_req_failed (default: 200-399). */
  expect: statusList.optional(),
  checks: z.array(checkSchema).default([]),
  tags: z.record(z.string(), z.string()).default({}),
  /** Send the auth token (when the scenario has `auth`). */
  auth: z.boolean().default(true),
};

/** A gRPC call (k6's `client.invoke(method, message, { metadata })`), sent as HTTP/2 to the target. */
const grpcCallSchema = strict({
  /** `package.Service/Method`, e.g. platform.analytics.v1.Analytics/Ingest. */
  method: z.string().regex(/^[A-Za-z_][\w.]*\.[A-Za-z_]\w*\/[A-Za-z_]\w*$/, {
    error: 'a gRPC method is package.Service/Method, e.g. platform.analytics.v1.Analytics/Ingest',
  }),
  /** The request message as JSON (proto3 JSON names); string values may use {{templates}}. */
  message: z.record(z.string(), z.unknown()).default({}),
  /** Metadata sent with the call (lower-case keys; `authorization` comes from `auth`). */
  metadata: headersSchema.default({}),
});
export type GrpcCallSpec = z.output<typeof grpcCallSchema>;

/**
 * A request is HTTP (method + path) or a gRPC call (`grpc:`); a gRPC call is a POST of its
 * method's path over HTTP/2, so both share the request's tags, weight and summary lines.
 */
const requestSchema = z.preprocess(
  (raw) => {
    if (typeof raw !== 'object' || raw === null || !('grpc' in raw)) return raw;
    const r = raw as Record<string, unknown>;
    const method = (r.grpc as { method?: unknown } | null)?.method;
    return { method: 'POST', path: typeof method === 'string' ? `/${method}` : '/', ...r };
  },
  strict({ ...requestFields, grpc: grpcCallSchema.optional() }),
);
export type RequestSpec = z.output<typeof requestSchema>;

const setupSchema = strict({
  ...requestFields,
  weight: z.number().optional(),
  /** How many times to send it. */
  repeat: z.number().int().min(1).max(1000).default(1),
  /** Values captured from the JSON response into data lists: { listName: 'json.path' }. */
  capture: z.record(z.string(), z.string()).default({}),
});
export type SetupSpec = z.output<typeof setupSchema>;

const thinkTimeSchema = z.union([durationSchema, strict({ min: durationSchema, max: durationSchema })]);
const stageSchema = strict({ duration: durationSchema, target: z.number().min(0) });

const common = {
  /** HTTP connections per worker (default: enough for the load). */
  connections: z.number().int().min(1).max(10_000).optional(),
  /** Requests pipelined per connection; 1 = no pipelining. */
  pipelining: z.number().int().min(1).max(100).default(1),
  /** Worker threads (default: 1 unless the rate needs more; at most the CPU count). */
  workers: z.number().int().min(1).max(64).optional(),
  /**
   * HTTP client: `fast` (pre-encoded requests on raw keep-alive sockets, http only) or `undici`.
   * `auto` picks fast for plain-http closed-model runs without think time (max-throughput mode).
   */
  client: z.enum(['auto', 'undici', 'fast']).default('auto'),
};

const constantArrival = strict({
  type: z.literal('constant-arrival-rate'),
  rate: z.number().positive(),
  timeUnit: durationSchema.default(1000),
  duration: durationSchema,
  /** Iterations in flight at most; beyond it a scheduled iteration is dropped and counted. */
  maxInFlight: z.number().int().min(1).optional(),
  ...common,
});
const rampingArrival = strict({
  type: z.literal('ramping-arrival-rate'),
  startRate: z.number().min(0).default(0),
  timeUnit: durationSchema.default(1000),
  stages: z.array(stageSchema).min(1),
  maxInFlight: z.number().int().min(1).optional(),
  ...common,
});
const rampingVus = strict({
  type: z.literal('ramping-vus'),
  /** Constant VUs for `duration` (when no stages are given). */
  vus: z.number().int().min(1).optional(),
  duration: durationSchema.optional(),
  startVUs: z.number().int().min(0).default(0),
  stages: z.array(stageSchema).optional(),
  thinkTime: thinkTimeSchema.default(0),
  ...common,
});

const executorSchema = z.discriminatedUnion('type', [constantArrival, rampingArrival, rampingVus], {
  error: (issue) =>
    issue.code === 'invalid_union'
      ? {
          message: 'unknown executor type: use constant-arrival-rate, ramping-arrival-rate or ramping-vus',
        }
      : undefined,
});
export type ExecutorSpec = z.output<typeof executorSchema>;

const thresholdItem = z.union([
  z.string(),
  strict({
    threshold: z.string(),
    abortOnFail: z.boolean().default(false),
    delayAbortEval: durationSchema.default(0),
  }),
]);

const scenarioSchema = strict({
  name: z.string().min(1).optional(),
  description: z.string().optional(),
  target: z.url({ error: 'target must be a URL such as http://127.0.0.1:8080' }).optional(),
  defaults: strict({
    headers: headersSchema.default({}),
    timeout: durationSchema.default(30_000),
  }).default({ headers: {}, timeout: 30_000 }),
  auth: strict({
    email: z.string().optional(),
    password: z.string().optional(),
    /** Sign the user up first (an existing account is fine). */
    signup: z.boolean().default(true),
  }).optional(),
  data: z.record(z.string(), z.array(z.union([z.string(), z.number(), z.boolean()])).min(1)).default({}),
  setup: z.array(setupSchema).default([]),
  /** The protos gRPC requests are encoded with (k6's `client.load(importPaths, ...files)`). */
  grpc: strict({
    /** .proto files, relative to the scenario file. */
    protos: z.array(z.string().min(1)).min(1),
    /** Directories imports are resolved in, relative to the scenario file (default: each proto's own). */
    importPaths: z.array(z.string().min(1)).default([]),
  }).optional(),
  executor: executorSchema.default({
    type: 'constant-arrival-rate',
    rate: 10,
    timeUnit: 1000,
    duration: 30_000,
    pipelining: 1,
    client: 'auto',
  }),
  requests: z.array(requestSchema).min(1, { error: 'a scenario needs at least one request' }),
  thresholds: z.record(z.string(), z.array(thresholdItem)).default({}),
  /** Run-validity limits other than the documented defaults (docs/guides/load.md, "Run validity"). */
  validity: strict({
    maxAvgScheduleLag: durationSchema.optional(),
    maxDroppedRatio: z.number().min(0).max(1).optional(),
    maxGeneratorErrorRatio: z.number().min(0).max(1).optional(),
  }).optional(),
});
export type ScenarioSpec = z.output<typeof scenarioSchema>;

export interface ThresholdSpec {
  /** The key as written, e.g. `http_req_duration{name:upload}`. */
  key: string;
  expression: string;
  abortOnFail: boolean;
  delayAbortEval: number;
}

/** A validated scenario with resolved file paths and thresholds flattened. */
export interface Scenario {
  name: string;
  file: string;
  target: string | undefined;
  headers: Record<string, string>;
  timeoutMs: number;
  auth: ScenarioSpec['auth'];
  data: Record<string, (string | number | boolean)[]>;
  setup: (SetupSpec & { bodyPath?: string })[];
  /** Absolute paths of the protos gRPC requests are encoded with. */
  grpc: { protos: string[]; importPaths: string[] } | undefined;
  executor: ExecutorSpec;
  requests: (RequestSpec & { bodyPath?: string })[];
  thresholds: ThresholdSpec[];
  /** The limits the run's validity is judged against: the defaults, or the scenario's `validity:`. */
  validity: ValidityLimits;
}

/** Overrides from `load run` flags; applied to the document before validation. */
export interface ScenarioOverrides {
  rate?: number;
  duration?: string;
  vus?: number;
  target?: string;
  workers?: number;
  connections?: number;
  pipelining?: number;
  noThresholds?: boolean;
}

/** Reads, overrides and validates a scenario file. */
export function loadScenario(file: string, overrides: ScenarioOverrides = {}, displayName = file): Scenario {
  const source = readYamlFile(file, displayName);
  const raw = applyOverrides(source.value, overrides);
  const spec = validateWith(scenarioSchema.superRefine(checkSemantics), source, raw);
  const base = dirname(resolve(file));
  const resolveBody = <T extends { bodyFile?: string | undefined }>(r: T) =>
    r.bodyFile ? { ...r, bodyPath: resolve(base, r.bodyFile) } : r;
  return {
    name: spec.name ?? displayName.replace(/^.*\//, '').replace(/\.ya?ml$/, ''),
    file: displayName,
    target: spec.target,
    headers: spec.defaults.headers,
    timeoutMs: spec.defaults.timeout,
    auth: spec.auth,
    data: spec.data,
    setup: spec.setup.map(resolveBody),
    grpc: spec.grpc && {
      protos: spec.grpc.protos.map((p) => resolve(base, p)),
      importPaths: spec.grpc.importPaths.map((p) => resolve(base, p)),
    },
    executor: spec.executor,
    requests: spec.requests.map(resolveBody),
    thresholds: overrides.noThresholds ? [] : flattenThresholds(spec.thresholds),
    validity: {
      maxAvgScheduleLagMs: spec.validity?.maxAvgScheduleLag ?? VALIDITY_LIMITS.maxAvgScheduleLagMs,
      maxDroppedRatio: spec.validity?.maxDroppedRatio ?? VALIDITY_LIMITS.maxDroppedRatio,
      maxGeneratorErrorRatio: spec.validity?.maxGeneratorErrorRatio ?? VALIDITY_LIMITS.maxGeneratorErrorRatio,
    },
  };
}

function flattenThresholds(map: ScenarioSpec['thresholds']): ThresholdSpec[] {
  return Object.entries(map).flatMap(([key, items]) =>
    items.map((item) =>
      typeof item === 'string'
        ? { key, expression: item, abortOnFail: false, delayAbortEval: 0 }
        : {
            key,
            expression: item.threshold,
            abortOnFail: item.abortOnFail,
            delayAbortEval: item.delayAbortEval,
          },
    ),
  );
}

function applyOverrides(value: unknown, o: ScenarioOverrides): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const doc = structuredClone(value) as Record<string, unknown>;
  const ex = { ...((doc.executor as Record<string, unknown> | undefined) ?? {}) };
  const type = (ex.type as string | undefined) ?? 'constant-arrival-rate';
  if (o.rate !== undefined && o.vus !== undefined) {
    throw new UsageError('--rate and --vus select different executors', 'pass only one of them');
  }
  if (o.rate !== undefined) {
    const duration = o.duration ?? (type === 'constant-arrival-rate' ? ex.duration : undefined);
    if (duration === undefined && type !== 'constant-arrival-rate') {
      throw new UsageError(
        `--rate turns the ${type} executor into constant-arrival-rate, which needs a duration`,
        'pass --duration too, e.g. --rate 100 --duration 30s',
      );
    }
    doc.executor = pick({ ...ex, type: 'constant-arrival-rate', rate: o.rate, duration }, ARRIVAL_KEYS);
  } else if (o.vus !== undefined) {
    const duration = o.duration ?? (type === 'ramping-vus' && !ex.stages ? ex.duration : undefined);
    if (duration === undefined) {
      throw new UsageError('--vus runs a constant number of VUs and needs a duration', 'pass --duration too');
    }
    doc.executor = pick({ ...ex, type: 'ramping-vus', vus: o.vus, duration }, VU_KEYS);
  } else if (o.duration !== undefined) {
    if (ex.stages) {
      throw new UsageError(
        `--duration cannot override the stages of the ${type} executor`,
        'edit the stages in the scenario, or pass --rate/--vus with --duration',
      );
    }
    doc.executor = {
      ...ex,
      type,
      duration: o.duration,
      ...(type === 'constant-arrival-rate' && ex.rate === undefined ? { rate: 10 } : {}),
    };
  }
  for (const key of ['workers', 'connections', 'pipelining'] as const) {
    if (o[key] === undefined) continue;
    const current = (doc.executor as Record<string, unknown> | undefined) ?? {
      type: 'constant-arrival-rate',
      rate: 10,
      duration: '30s',
    };
    doc.executor = { ...current, [key]: o[key] };
  }
  if (o.target !== undefined) doc.target = o.target;
  return doc;
}

const COMMON_KEYS = ['type', 'connections', 'pipelining', 'workers', 'client'];
const ARRIVAL_KEYS = [...COMMON_KEYS, 'rate', 'timeUnit', 'duration', 'maxInFlight'];
const VU_KEYS = [...COMMON_KEYS, 'vus', 'duration', 'thinkTime'];
function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => keys.includes(k) && v !== undefined));
}

function checkSemantics(spec: ScenarioSpec, ctx: z.RefinementCtx): void {
  const names = new Set<string>();
  spec.requests.forEach((r, i) => {
    if (names.has(r.name)) {
      ctx.addIssue({
        code: 'custom',
        path: ['requests', i, 'name'],
        message: `duplicate request name "${r.name}"`,
        params: { fix: 'give every request a unique name (it is the `name` tag in thresholds)' },
      });
    }
    names.add(r.name);
    if (r.grpc) checkGrpcRequest(spec, r, i, ctx);
    const bodies = [r.body !== undefined, r.rawBody !== undefined, r.bodyFile !== undefined].filter(Boolean);
    if (bodies.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['requests', i],
        message: 'a request has one body: body, rawBody or bodyFile',
        params: { fix: 'keep only one of body, rawBody and bodyFile' },
      });
    }
  });
  const ex = spec.executor;
  if (ex.type === 'ramping-vus' && ex.vus === undefined && ex.stages === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['executor'],
      message: 'ramping-vus needs `vus` with `duration`, or `stages`',
      params: { fix: 'add e.g. "vus: 10" and "duration: 30s", or a list of stages' },
    });
  }
  if (ex.type === 'ramping-vus' && ex.vus !== undefined && ex.duration === undefined && !ex.stages) {
    ctx.addIssue({
      code: 'custom',
      path: ['executor', 'vus'],
      message: '`vus` needs a `duration`',
      params: { fix: 'add e.g. "duration: 30s" to the executor' },
    });
  }
  for (const [key, items] of Object.entries(spec.thresholds)) {
    const parsedKey = parseThresholdKey(key);
    if (typeof parsedKey === 'string') {
      ctx.addIssue({
        code: 'custom',
        path: ['thresholds', key],
        message: parsedKey,
        params: {
          fix: 'use http_req_duration, http_req_failed, http_reqs, checks, dropped_iterations or iterations, optionally with {tag:value}',
        },
      });
      continue;
    }
    const tagProblem = unmatchedTags(spec.requests, parsedKey);
    if (tagProblem) {
      ctx.addIssue({
        code: 'custom',
        path: ['thresholds', key],
        message: tagProblem.message,
        params: { fix: tagProblem.fix },
      });
    }
    items.forEach((item, i) => {
      const expr = typeof item === 'string' ? item : item.threshold;
      const parsed = parseThresholdExpression(expr, parsedKey.metric);
      if (typeof parsed === 'string') {
        ctx.addIssue({
          code: 'custom',
          path: ['thresholds', key, i],
          message: parsed,
          params: { fix: "write it like 'p(95)<200', 'avg<100', 'rate<0.01' or 'count>100'" },
        });
      }
    });
  }
  const dataRefs = JSON.stringify([spec.requests, spec.setup]).matchAll(
    /\{\{\s*(?:pick|seq)\s+([\w-]+)\s*\}\}/g,
  );
  const captured = new Set(spec.setup.flatMap((s) => Object.keys(s.capture)));
  for (const m of dataRefs) {
    const list = m[1] as string;
    if (!(list in spec.data) && !captured.has(list)) {
      ctx.addIssue({
        code: 'custom',
        path: ['data'],
        message: `template refers to the data list "${list}", which is not defined`,
        params: { fix: `add "data: { ${list}: [...] }" or capture it in a setup request` },
      });
    }
  }
}

function checkGrpcRequest(spec: ScenarioSpec, r: RequestSpec, i: number, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string, fix: string) =>
    ctx.addIssue({ code: 'custom', path: ['requests', i, ...path], message, params: { fix } });
  if (!spec.grpc) {
    issue(
      ['grpc'],
      'a gRPC request needs the protos its messages are encoded with',
      'add "grpc: { protos: [path/to/service.proto] }" at the top of the scenario',
    );
  }
  if (r.body !== undefined || r.rawBody !== undefined || r.bodyFile !== undefined) {
    issue(
      [],
      'a gRPC request sends grpc.message, not a body',
      'move the message under grpc.message and drop body/rawBody/bodyFile',
    );
  }
  if (r.expect)
    issue(['expect'], 'a gRPC call succeeds with status OK only; expect lists HTTP statuses', 'drop expect');
  if (r.method !== 'POST' || r.path !== `/${r.grpc?.method}`) {
    issue(
      [],
      'a gRPC request has no method or path of its own',
      'drop method and path: grpc.method says where the call goes',
    );
  }
  if (r.checks.some((c) => 'status' in c)) {
    issue(
      ['checks'],
      'a gRPC call has no HTTP status to check',
      'check the reply with jsonPath or bodyContains; non-OK statuses already count as failed',
    );
  }
}

/** The tags a request carries: its name and method, and those it declares. */
export function requestTags(r: Pick<RequestSpec, 'name' | 'method' | 'tags'>): Record<string, string> {
  return { name: r.name, method: r.method, ...r.tags };
}

/**
 * Why a threshold's `{tag:value}` filter can match no request, if it cannot. Such a threshold
 * would never receive a sample, so a typo (`{nmae:get}`) would silently pass: it is caught here,
 * before the run, like any other mistake in the file.
 */
function unmatchedTags(requests: RequestSpec[], key: ThresholdKey): { message: string; fix: string } | null {
  const filter = Object.entries(key.tags);
  if (filter.length === 0) return null;
  if (key.metric === 'iterations' || key.metric === 'dropped_iterations') {
    return {
      message: `${key.metric} counts iterations, not requests: it has no tags to filter by`,
      fix: `write the threshold on plain "${key.metric}"`,
    };
  }
  const tagged = requests.map(requestTags);
  for (const [k, v] of filter) {
    const keys = [...new Set(tagged.flatMap((t) => Object.keys(t)))];
    if (!keys.includes(k)) {
      const guess = closest(k, keys);
      return {
        message: `no request sets the tag "${k}", so this threshold would never get a sample`,
        fix: `${guess ? `did you mean "${guess}"? ` : ''}tags the requests set: ${keys.join(', ')}`,
      };
    }
    const values = [...new Set(tagged.map((t) => t[k]).filter((x): x is string => x !== undefined))];
    if (!values.includes(v)) {
      const guess = closest(v, values);
      return {
        message: `no request has ${k}:${v}, so this threshold would never get a sample`,
        fix: `${guess ? `did you mean "${k}:${guess}"? ` : ''}values of ${k}: ${values.join(', ')}`,
      };
    }
  }
  if (!tagged.some((t) => filter.every(([k, v]) => t[k] === v))) {
    return {
      message: `no request has all of ${filter.map(([k, v]) => `${k}:${v}`).join(', ')}`,
      fix: 'filter by tags that one request carries together',
    };
  }
  return null;
}
