/**
 * Secrets reach the services `up` starts: the plan handed to the supervisor carries each service's
 * secrets (`<service>.<VAR>` for one service, `*.<VAR>` for all), the service's own env wins, and a
 * wrong master key stops `up` before anything starts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { renderPlatformYaml } from '../../src/core/config/template.ts';
import { makePlan } from '../../src/providers/local/plan.ts';
import { runCli, workspace } from '../helpers/cli.ts';

const KEY = randomBytes(32).toString('hex');
let ws: ReturnType<typeof workspace>;

beforeAll(async () => {
  ws = workspace({
    'platform.yaml': renderPlatformYaml({ name: 'acme', owner: 'ops', cloud: 'aws', region: 'eu-west-1' }),
  });
  for (const [name, value] of [
    ['auth.AUTH_KEY_ENCRYPTION_KEY', 'auth-only-secret-value'],
    ['*.SHARED_TOKEN', 'shared-secret-value'],
  ]) {
    const r = await runCli(['secrets', 'set', name as string, '--env', 'dev'], {
      cwd: ws.dir,
      input: value,
      env: { PLATFORMCTL_MASTER_KEY: KEY },
    });
    expect(r.exitCode, r.stderr).toBe(0);
  }
});
afterAll(() => ws.dispose());

// Releases are not built: every service is "already running" in this plan.
const running = Object.fromEntries(
  ['gateway', 'auth', 'content', 'analytics'].map((s) => [s, { version: 'v1', entry: '/dev/null' }]),
);

function withKey<T>(key: string | undefined, fn: () => Promise<T>): Promise<T> {
  const before = process.env.PLATFORMCTL_MASTER_KEY;
  if (key === undefined) delete process.env.PLATFORMCTL_MASTER_KEY;
  else process.env.PLATFORMCTL_MASTER_KEY = key;
  return fn().finally(() => {
    if (before === undefined) delete process.env.PLATFORMCTL_MASTER_KEY;
    else process.env.PLATFORMCTL_MASTER_KEY = before;
  });
}

describe('secrets injected at up', () => {
  it('gives each service its own and the shared secrets', async () => {
    const plan = await withKey(KEY, () => makePlan(loadPlatform(ws.dir, undefined, {}), { running }));
    const env = Object.fromEntries(plan.services.map((s) => [s.name, s.env]));
    expect(env.auth).toMatchObject({
      AUTH_KEY_ENCRYPTION_KEY: 'auth-only-secret-value',
      SHARED_TOKEN: 'shared-secret-value',
    });
    expect(env.content).toMatchObject({ SHARED_TOKEN: 'shared-secret-value' });
    expect(env.content).not.toHaveProperty('AUTH_KEY_ENCRYPTION_KEY');
  });

  it('refuses to plan with the wrong master key', async () => {
    await expect(
      withKey(randomBytes(32).toString('hex'), () =>
        makePlan(loadPlatform(ws.dir, undefined, {}), { running }),
      ),
    ).rejects.toThrow(/master key/i);
  });
});
