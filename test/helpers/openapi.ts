/**
 * Checks a stand-in's traffic against a published OpenAPI description, so a stand-in proves that
 * platformctl speaks the real API rather than agreeing with itself: every request's path, query
 * and JSON body are validated against the operation the description declares, and every response
 * the stand-in sends against the documented response schema. Descriptions are installed by
 * `.ci/run` into a cache (they are far too large to be dependencies); tests skip with the reason
 * when one is missing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';

type Json = Record<string, unknown>;

interface Operation {
  template: string;
  method: string;
  pattern: RegExp;
  op: Json;
}

/** Where `.ci/run` installs the API descriptions (`npm install --prefix <dir> @octokit/openapi`). */
export const SPECS_DIR = process.env.PLATFORMCTL_SPECS_DIR ?? join(homedir(), '.cache', 'platformctl-specs');

/** The GitHub REST description (@octokit/openapi), or why it is unavailable. */
export function githubSpecFile(): { file: string } | { missing: string } {
  const file = join(SPECS_DIR, 'node_modules', '@octokit', 'openapi', 'generated', 'api.github.com.json');
  return existsSync(file)
    ? { file }
    : {
        missing: `GitHub's OpenAPI description is not installed at ${file} (.ci/run installs @octokit/openapi there)`,
      };
}

/**
 * OpenAPI 3.0's `nullable: true` is not JSON Schema: turn it into a `null` type (or an `anyOf` with
 * null where the schema has no type of its own) so ajv reads the schemas as the description means them.
 */
function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json))
    out[k] = k === 'example' || k === 'examples' ? v : toJsonSchema(v);
  if (out.nullable !== true) return out;
  delete out.nullable;
  if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'] };
  return { anyOf: [out, { type: 'null' }] };
}

const pointer = (...parts: string[]) =>
  parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

/** A validator for one OpenAPI 3.0 document. */
export class OpenApiChecker {
  private readonly doc: Json;
  private readonly ajv: Ajv;
  private readonly ops: Operation[] = [];

  constructor(file: string) {
    this.doc = toJsonSchema(JSON.parse(readFileSync(file, 'utf8'))) as Json;
    // OpenAPI 3.0 schemas are not strict JSON Schema (nullable, example, format names); ajv's
    // strict mode would reject the description itself, not our traffic.
    this.ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
    this.ajv.addSchema(this.doc, 'spec');
    for (const [template, item] of Object.entries(this.doc.paths as Record<string, Json>)) {
      const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      for (const method of Object.keys(item))
        if (['get', 'post', 'put', 'patch', 'delete'].includes(method))
          this.ops.push({ template, method, pattern, op: item[method] as Json });
    }
  }

  private find(method: string, path: string): Operation | undefined {
    const m = method.toLowerCase();
    // A literal segment beats a parameter: /repos/{o}/{r}/issues/comments before /issues/{number}.
    return this.ops
      .filter((o) => o.method === m && o.pattern.test(path))
      .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0))[0];
  }

  private resolve(node: unknown): Json {
    let n = node as Json;
    while (n && typeof n.$ref === 'string') {
      n = (n.$ref as string)
        .slice(2)
        .split('/')
        .reduce<unknown>(
          (acc, k) => (acc as Json)[k.replace(/~1/g, '/').replace(/~0/g, '~')],
          this.doc,
        ) as Json;
    }
    return n;
  }

  private validate(ref: string, value: unknown, what: string): string[] {
    const validator = this.ajv.getSchema(`spec#/${ref}`);
    if (!validator) return [`${what}: no schema at ${ref}`];
    return validator(value)
      ? []
      : (validator.errors ?? []).map(
          (e) => `${what}${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`,
        );
  }

  /** Problems with one request; empty when it is what the description allows. */
  checkRequest(method: string, path: string, query: Record<string, string>, body: unknown): string[] {
    const found = this.find(method, path);
    if (!found) return [`${method} ${path}: no such operation in the description`];
    const where = `${method} ${found.template}`;
    const problems: string[] = [];
    const params = ((found.op.parameters as unknown[]) ?? []).map((p) => this.resolve(p));
    for (const p of params.filter((p) => p.in === 'query')) {
      const name = p.name as string;
      if (!(name in query)) {
        if (p.required) problems.push(`${where}: query parameter ${name} is required`);
        continue;
      }
      const schema = this.resolve(p.schema) as Json;
      const raw = query[name] as string;
      const value =
        schema.type === 'integer' || schema.type === 'number'
          ? Number(raw)
          : schema.type === 'boolean'
            ? raw === 'true'
            : raw;
      if (!this.ajv.validate(schema, value))
        problems.push(`${where}: query ${name}=${raw} ${this.ajv.errorsText()}`);
    }
    const declared = new Set(params.filter((p) => p.in === 'query').map((p) => p.name));
    for (const name of Object.keys(query))
      if (!declared.has(name)) problems.push(`${where}: undeclared query parameter ${name}`);
    const requestBody = found.op.requestBody ? this.resolve(found.op.requestBody) : undefined;
    if (requestBody) {
      if (body === undefined) {
        if (requestBody.required) problems.push(`${where}: a JSON body is required`);
      } else
        problems.push(
          ...this.validate(
            pointer(
              'paths',
              found.template,
              found.method,
              'requestBody',
              'content',
              'application/json',
              'schema',
            ),
            body,
            `${where} body`,
          ),
        );
    } else if (body !== undefined && body !== '') problems.push(`${where}: takes no body`);
    return problems;
  }

  /** Problems with one response the stand-in sends. */
  checkResponse(method: string, path: string, status: number, body: unknown): string[] {
    const found = this.find(method, path);
    if (!found) return [];
    const responses = found.op.responses as Record<string, unknown>;
    const response = responses[String(status)] ? this.resolve(responses[String(status)]) : undefined;
    if (!response) return [`${method} ${found.template}: status ${status} is not documented`];
    const content = response.content as Json | undefined;
    if (!content?.['application/json']) return [];
    const ref = (responses[String(status)] as Json).$ref;
    const base =
      typeof ref === 'string'
        ? ref.slice(2)
        : pointer('paths', found.template, found.method, 'responses', String(status));
    return this.validate(
      `${base}/${pointer('content', 'application/json', 'schema')}`,
      body,
      `${method} ${found.template} ${status}`,
    );
  }

  /** A named example of the description (`#/components/examples/<name>`), as GitHub documents it. */
  example(name: string): Json {
    return structuredClone(this.resolve({ $ref: `#/components/examples/${name}` }).value as Json);
  }
}
