/**
 * A release bundle loads fastify's default schema compilers only at the first route with a schema,
 * and its proxy-addr only for `trustProxy` (src/providers/local/release-lazy-requires.ts): a
 * bundled service with schemas still validates its header schema as fastify does by default (keys
 * matched case-insensitively, which a custom compiler would not get) and serializes by its
 * response schema, and one behind a trusted proxy sees the client's address.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { buildRelease } from '../../src/providers/local/releases.ts';
import { REPO_ROOT, workspace } from '../helpers/cli.ts';
import { startRelease } from '../helpers/release-start.ts';

const ws = workspace({
  'platform.yaml': `apiVersion: platformctl/v1
name: lazy-requires
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  schemas: { path: "${join(REPO_ROOT, 'test', 'fixtures', 'local', 'schema-service')}", port: 39011, routes: [/token] }
`,
});
const dataDir = mkdtempSync(join(tmpdir(), 'lazy-requires-'));
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  ws.dispose();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a release with fastify schemas', () => {
  it('validates headers case-insensitively, serializes by the response schema and trusts its proxy', async () => {
    const { release } = await buildRelease(loadPlatform(ws.dir), 'schemas', { version: 'v1' });
    const started = await startRelease(release.entryPath, {
      ...process.env,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    });
    child = started.child;
    const { base } = started;

    const missing = await fetch(`${base}/token`);
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { code: string }).code).toBe('INVALID_INPUT');
    const tooShort = await fetch(`${base}/token`, { headers: { 'x-token': 'ab' } });
    expect(tooShort.status).toBe(400);
    const ok = await fetch(`${base}/token`, { headers: { 'X-Token': 'abc' } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ token: 'abc' });

    const forwarded = await fetch(`${base}/ip`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
    expect(await forwarded.json()).toEqual({ ip: '203.0.113.7' });
  });
});
