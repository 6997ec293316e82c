/**
 * Content asks auth over gRPC (platform.auth.v1.Auth/GetPrincipal, on auth's one port) for the
 * caller's current role before uploads and deletes: both services as real processes, called as
 * the gateway calls content (the caller's bearer token plus the identity headers it verified).
 * A role change or a revoked client counts at once; the call shows in the trace; a stalled or
 * stopped auth makes content fall back to the token's role within its deadline, with retries
 * bounded by the retry budget; a restarted auth is asked again.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/core/ports.ts';
import { waitFor } from '../../../test/helpers/poll.ts';
import { type ServiceProcess, startService } from '../../auth/test/helpers/service-process.ts';
import { traceFile } from '../../contract/state-paths.ts';

const PNG = readFileSync(join(import.meta.dirname, '..', 'samples', 'sample.png'));
const METHOD = 'platform.auth.v1.Auth/GetPrincipal';
let dir: string;
let tracesDir: string;
let authPort: number;
let auth: ServiceProcess;
let content: ServiceProcess;
let ip = 0;
const tokens: Record<string, string> = {};
const ids: Record<string, string> = {};

function startAuth() {
  return startService('auth', {
    DATA_DIR: join(dir, 'auth'),
    PORT: String(authPort),
    AUTH_KEY_ENCRYPTION_KEY: 'content-auth-grpc-test-key-0123456789',
    TRACES_DIR: tracesDir,
  });
}

async function authCall(path: string, body: unknown, token?: string, method = 'POST') {
  const res = await fetch(`http://127.0.0.1:${authPort}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': `10.9.0.${++ip}`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function account(name: string) {
  const credentials = { email: `${name}@example.com`, password: `${name}-correct-horse-42` };
  const created = await authCall('/auth/signup', credentials);
  expect(created.status).toBe(201);
  ids[name] = created.body.id;
  tokens[name] = (await authCall('/auth/login', credentials)).body.accessToken;
}

/** What the gateway sends content for a caller with this token: the token and its verified claims. */
function asCaller(token: string, extra: Record<string, string> = {}): Record<string, string> {
  const claims = decodeJwt(token);
  return {
    authorization: `Bearer ${token}`,
    'x-user-id': String(claims.sub),
    'x-user-role': String(claims.role),
    ...extra,
  };
}

async function upload(headers: Record<string, string>) {
  const res = await fetch(`${content.url}/content`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...headers },
    body: PNG,
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

async function remove(id: string, headers: Record<string, string>) {
  return (await fetch(`${content.url}/content/${id}`, { method: 'DELETE', headers })).status;
}

async function checks(): Promise<Record<string, number>> {
  const text = await (await fetch(`${content.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^content_principal_checks_total\{[^}]*outcome="(\w+)"[^}]*\} (\d+)/gm))
    out[m[1]!] = Number(m[2]);
  return out;
}

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
  status: string;
  attributes: Record<string, unknown>;
}

function spans(service: string): Span[] {
  try {
    return readFileSync(traceFile(tracesDir, service), 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Span);
  } catch {
    return [];
  }
}

const traceparent = (traceId: string) => `00-${traceId}-b7ad6b7169203331-01`;
const newTraceId = () => crypto.randomUUID().replace(/-/g, '');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'content-auth-grpc-'));
  tracesDir = join(dir, 'traces');
  authPort = await freePort();
  auth = await startAuth();
  content = await startService('content', {
    DATA_DIR: join(dir, 'content'),
    AUTH_URL: `http://127.0.0.1:${authPort}`,
    CONTENT_AUTH_DEADLINE_MS: '400',
    TRACES_DIR: tracesDir,
  });
  await account('root'); // the first account is admin
  await account('carol');
  await account('dave');
});

afterAll(async () => {
  expect(content.logs().filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  await content?.stop();
  await auth?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('content asks auth for the current role', () => {
  it("a demoted admin's token no longer deletes other people's content", async () => {
    expect(
      (await authCall(`/auth/admin/users/${ids.carol}/role`, { role: 'admin' }, tokens.root, 'PUT')).status,
    ).toBe(200);
    const credentials = { email: 'carol@example.com', password: 'carol-correct-horse-42' };
    const carolAdmin = (await authCall('/auth/login', credentials)).body.accessToken as string;
    expect(decodeJwt(carolAdmin).role).toBe('admin');

    const first = await upload(asCaller(tokens.dave!));
    const second = await upload(asCaller(tokens.dave!));
    expect([first.status, second.status]).toEqual([201, 201]);
    // An admin deletes someone else's item...
    expect(await remove(first.body.id!, asCaller(carolAdmin))).toBe(204);
    // ...until demoted: the same token, still saying admin, is refused at once.
    expect(
      (await authCall(`/auth/admin/users/${ids.carol}/role`, { role: 'viewer' }, tokens.root, 'PUT')).status,
    ).toBe(200);
    expect(await remove(second.body.id!, asCaller(carolAdmin))).toBe(403);
    expect(await remove(second.body.id!, asCaller(tokens.dave!))).toBe(204);
    expect(await checks()).toMatchObject({ changed: 1 });
  });

  it('a revoked service client is refused, and a token whose identity headers lie too', async () => {
    const created = await authCall('/auth/admin/clients', { name: 'importer', role: 'editor' }, tokens.root);
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: created.body.clientId,
      client_secret: created.body.clientSecret,
    });
    const issued = await fetch(`http://127.0.0.1:${authPort}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '10.9.1.1' },
      body: form,
    });
    const clientToken = ((await issued.json()) as { access_token: string }).access_token;
    expect((await upload(asCaller(clientToken))).status).toBe(201);
    const revoked = await fetch(`http://127.0.0.1:${authPort}/auth/admin/clients/${created.body.clientId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${tokens.root}`, 'x-forwarded-for': '10.9.1.2' },
    });
    expect(revoked.status).toBe(204);
    const refused = await upload(asCaller(clientToken));
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('UNAUTHENTICATED');

    const forged = await upload(asCaller(tokens.dave!, { 'x-user-id': ids.root!, 'x-user-role': 'admin' }));
    expect(forged.status).toBe(401);
    expect(forged.body.code).toBe('BAD_IDENTITY');
  });

  it("shows the gRPC call in the request's trace: content's client span, auth's server span under it", async () => {
    const traceId = newTraceId();
    expect((await upload(asCaller(tokens.dave!, { traceparent: traceparent(traceId) }))).status).toBe(201);
    const client = await waitFor('the client span in content.jsonl', () =>
      spans('content').find((s) => s.traceId === traceId && s.name === METHOD),
    );
    expect(client).toMatchObject({ kind: 'client', status: 'ok' });
    expect(client.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.grpc.status_code': 0 });
    const server = await waitFor('the server span in auth.jsonl', () =>
      spans('auth').find((s) => s.traceId === traceId && s.kind === 'server'),
    );
    expect(server.parentSpanId).toBe(client.spanId);
    const request = spans('content').find((s) => s.traceId === traceId && s.kind === 'server');
    expect(client.parentSpanId).toBe(request?.spanId);
  });
});

describe('when auth cannot answer', () => {
  it('a stalled auth costs one deadline, then content trusts the token (degraded, counted, logged)', async () => {
    const before = await checks();
    auth.proc.kill('SIGSTOP');
    try {
      const res = await upload(asCaller(tokens.dave!));
      expect(res.status).toBe(201);
    } finally {
      auth.proc.kill('SIGCONT');
    }
    expect((await checks()).degraded).toBe((before.degraded ?? 0) + 1);
    expect(content.logs().some((l) => String(l.msg).startsWith('auth cannot check principals'))).toBe(true);
    const timedOut = await waitFor('a DEADLINE_EXCEEDED client span', () =>
      spans('content').find((s) => s.name === METHOD && s.attributes['rpc.grpc.status_code'] === 4),
    );
    expect(timedOut.status).toBe('error');
  });

  it('a stopped auth: uploads go on, retries stay within the budget; a restarted auth is asked again', async () => {
    expect(await auth.stop()).toBe(0);
    const traces: string[] = [];
    const started = Date.now();
    for (let i = 0; i < 30; i++) {
      const traceId = newTraceId();
      traces.push(traceId);
      expect((await upload(asCaller(tokens.dave!, { traceparent: traceparent(traceId) }))).status).toBe(201);
    }
    const windows = Math.ceil((Date.now() - started) / 10_000) + 1;
    const attempts = await waitFor('a client span for every upload', () => {
      const mine = spans('content').filter((s) => s.name === METHOD && traces.includes(s.traceId));
      return new Set(mine.map((s) => s.traceId)).size === traces.length ? mine : undefined;
    });
    expect(attempts.every((s) => s.attributes['rpc.grpc.status_code'] === 14)).toBe(true);
    const retries = attempts.length - traces.length;
    // Three attempts per call would be 60 retries; the budget (10 per 10 s window + 20 % of calls) allows far fewer.
    expect(retries).toBeGreaterThan(0);
    expect(retries).toBeLessThanOrEqual(10 * windows + 0.2 * traces.length);

    auth = await startAuth();
    await waitFor(
      'content to ask the restarted auth',
      async () => {
        const before = (await checks()).confirmed ?? 0;
        expect((await upload(asCaller(tokens.dave!))).status).toBe(201);
        return ((await checks()).confirmed ?? 0) > before ? true : undefined;
      },
      50,
      200,
    );
    expect(content.logs().some((l) => l.msg === 'auth answers principal checks again')).toBe(true);
  });
});
