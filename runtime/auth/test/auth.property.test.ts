/** Hostile bodies on every JSON endpoint of auth: never a 5xx, never a hang. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startService } from './helpers/service-process.ts';

let dir: string;
let svc: ServiceProcess;
let admin: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'auth-prop-'));
  svc = await startService('auth', { DATA_DIR: join(dir, 'auth'), AUTH_IP_FREE_FAILURES: '100000' });
  const creds = { email: 'root@example.com', password: 'root-password-1' };
  await post('/auth/signup', JSON.stringify(creds));
  admin = JSON.parse((await post('/auth/login', JSON.stringify(creds))).text).accessToken;
});

afterAll(async () => {
  expect(await svc?.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

async function post(
  path: string,
  body: string,
  contentType = 'application/json',
  headers: Record<string, string> = {},
) {
  const res = await fetch(svc.url + path, {
    method: path.includes('/role') ? 'PUT' : 'POST',
    headers: { 'content-type': contentType, ...headers },
    body,
  });
  return { status: res.status, text: await res.text() };
}

const jsonish = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        email: fc.oneof(
          fc.string(),
          fc.emailAddress(),
          fc.integer(),
          fc.constant(null),
          fc.array(fc.string()),
        ),
        password: fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.constant(null), fc.object()),
        refreshToken: fc.oneof(fc.string(), fc.constant(null), fc.integer()),
        grant_type: fc.oneof(fc.constant('client_credentials'), fc.string()),
        client_id: fc.oneof(fc.string(), fc.integer()),
        client_secret: fc.oneof(fc.string(), fc.constant(null)),
        role: fc.oneof(fc.constantFrom('admin', 'editor', 'viewer'), fc.string()),
        revokePrevious: fc.oneof(fc.boolean(), fc.string()),
        __proto__: fc.object(),
        constructor: fc.string(),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', '{', '[', 'null', '"x"', '{"email":', '\u0000', '{"a":1}{"b":2}', 'x'.repeat(20_000)),
);

const endpoints = [
  '/auth/signup',
  '/auth/login',
  '/auth/refresh',
  '/auth/logout',
  '/auth/token',
  '/auth/admin/rotate-keys',
  '/auth/admin/clients',
  '/auth/admin/users/00000000-0000-4000-8000-000000000000/role',
];

describe('hostile bodies', () => {
  for (const path of endpoints) {
    it(`${path} never answers 5xx`, async () => {
      await fc.assert(
        fc.asyncProperty(
          jsonish,
          fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain'),
          async (body, ct) => {
            // Admin endpoints are probed both anonymously and as admin so the body validation is reached.
            const headers: Record<string, string> = path.includes('/admin/')
              ? { authorization: `Bearer ${admin}` }
              : {};
            const r = await post(path, body, ct, headers);
            expect(r.status, `${path} ${ct} ${body.slice(0, 200)} -> ${r.text}`).toBeLessThan(500);
          },
        ),
        // Public endpoints get the full 1000 hostile bodies; admin ones (behind a token) fewer.
        { numRuns: path.includes('/admin/') ? 100 : 1000 },
      );
    }, 300_000);
  }

  it('hostile Authorization headers never produce 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
          fc
            .string({ maxLength: 300 })
            .filter((s) => /^[\x20-\x7e]*$/.test(s))
            .map((s) => `Bearer ${s}`),
          fc.base64String().map((s) => `Basic ${s}`),
          fc
            .tuple(fc.base64String(), fc.base64String(), fc.base64String())
            .map(([a, b, c]) => `Bearer ${a}.${b}.${c}`),
        ),
        async (authorization) => {
          const me = await fetch(`${svc.url}/auth/me`, { headers: { authorization } });
          expect(me.status).toBeLessThan(500);
          const tok = await post(
            '/auth/token',
            'grant_type=client_credentials',
            'application/x-www-form-urlencoded',
            { authorization },
          );
          expect(tok.status).toBeLessThan(500);
        },
      ),
      { numRuns: 60 },
    );
  });
});
