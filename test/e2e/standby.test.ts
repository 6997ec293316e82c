/**
 * Standbys on the local provider (src/providers/local/standby.ts): an instance of a runtime kit
 * service gets a loaded process beside it, which takes over when the instance's process dies; a
 * standby that no longer fits the instance's start is thrown away; services that do not say they
 * can have one (the fixture service) get none; `down` leaves none behind; PLATFORMCTL_STANDBY=off
 * turns them off.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';
import { alive, until, valueUntil } from '../helpers/poll.ts';
import { freePorts } from '../helpers/runtime-platform.ts';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'local', 'fixture-service');

interface Instance {
  id: string;
  pid?: number;
  standbyPid?: number;
  state: string;
  restarts: number;
}

function platformYaml([auth, store, extra]: number[], withExtra = false): string {
  return `apiVersion: platformctl/v1
name: standby
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  auth: { path: "builtin:auth", port: ${auth}, routes: [/auth, /.well-known] }
  store:
    path: ${FIXTURE}
    port: ${store}
    env: { FIXTURE_NOTIFY: "1" }
${withExtra ? `  extra: { path: ${FIXTURE}, port: ${extra} }\n` : ''}`;
}

async function instance(dir: string, id: string): Promise<Instance> {
  const r = await runCli(['status', '--json'], { cwd: dir });
  if (r.exitCode !== 0) throw new Error(r.stderr);
  const st = JSON.parse(r.stdout) as { services: { instances: Instance[] }[] };
  const found = st.services.flatMap((s) => s.instances).find((i) => i.id === id);
  if (!found) throw new Error(`no instance ${id}`);
  return found;
}

/** `up` events of the supervisor for one instance, from its event log. */
function starts(dir: string, id: string): { fromStandby?: boolean }[] {
  return readFileSync(join(dir, '.platform', 'logs', 'supervisor.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; instance?: string; fromStandby?: boolean })
    .filter((e) => e.msg === 'instance.starting' && e.instance === id);
}

const withStandby = (dir: string, id: string, not?: number) =>
  valueUntil(
    () => instance(dir, id),
    (i) => i.state === 'ready' && i.standbyPid !== undefined && i.standbyPid !== not,
    `a standby of ${id}`,
    400,
  );

describe('standbys', () => {
  let ws: ReturnType<typeof workspace>;
  let ports: number[];

  beforeAll(async () => {
    ports = await freePorts(3);
    ws = workspace({ 'platform.yaml': platformYaml(ports) });
    const r = await runCli(['up', '--detach'], { cwd: ws.dir, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
  });

  afterAll(async () => {
    await runCli(['down'], { cwd: ws.dir });
    ws.dispose();
  });

  it('a kit instance gets a standby; after kill -9 the standby is the instance, and a new standby follows', async () => {
    const before = await withStandby(ws.dir, 'auth-1');
    expect(alive(before.standbyPid)).toBe(true);
    // The fixture says STATUS=starting but not that it can be a standby: it gets none.
    expect((await instance(ws.dir, 'store-1')).standbyPid).toBeUndefined();

    process.kill(before.pid as number, 'SIGKILL');
    const after = await valueUntil(
      () => instance(ws.dir, 'auth-1'),
      (i) => i.state === 'ready' && i.pid !== before.pid,
      'auth-1 to be ready again',
    );
    expect(after.pid).toBe(before.standbyPid);
    expect(after.restarts).toBe(1);
    expect(starts(ws.dir, 'auth-1').at(-1)?.fromStandby).toBe(true);
    const jwks = await fetch(`http://127.0.0.1:${ports[0]}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);

    // A log past the rotation size (20 MiB) when the next standby starts: rotating it then would
    // leave the live process writing to `.log.1`, out of `logs`' sight.
    const log = join(ws.dir, '.platform', 'logs', 'auth-1.log');
    appendFileSync(log, `${'x'.repeat(1023)}\n`.repeat(21 * 1024));
    const next = await withStandby(ws.dir, 'auth-1', before.standbyPid);
    expect(next.pid).toBe(before.standbyPid);
    expect(alive(next.standbyPid)).toBe(true);
    expect(existsSync(`${log}.1`)).toBe(false);
    await fetch(`http://127.0.0.1:${ports[0]}/.well-known/jwks.json`);
    await until(() => readFileSync(log, 'utf8').endsWith('"msg":"request"}\n'), 'the request logged');
  });

  it('a standby started before the instance environment changed is thrown away, and the restart is cold', async () => {
    const before = await withStandby(ws.dir, 'auth-1');
    // A new service gives every instance a new EXTRA_URL: the standby's environment is stale.
    writeFileSync(join(ws.dir, 'platform.yaml'), platformYaml(ports, true));
    const r = await runCli(['up', '--detach'], { cwd: ws.dir, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);

    process.kill(before.pid as number, 'SIGKILL');
    const after = await valueUntil(
      () => instance(ws.dir, 'auth-1'),
      (i) => i.state === 'ready' && i.pid !== before.pid,
      'auth-1 to be ready again',
    );
    expect(after.pid).not.toBe(before.standbyPid);
    expect(starts(ws.dir, 'auth-1').at(-1)?.fromStandby).toBeUndefined();
    await until(() => !alive(before.standbyPid), 'the stale standby to be gone');
    const env = readFileSync(`/proc/${after.pid}/environ`, 'utf8');
    expect(env).toContain(`EXTRA_URL=http://127.0.0.1:${ports[2]}`);
  });

  it('down stops the standbys with the instances', async () => {
    const { pid, standbyPid } = await withStandby(ws.dir, 'auth-1');
    const r = await runCli(['down'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(alive(standbyPid)).toBe(false);
  });
});

describe('PLATFORMCTL_STANDBY=off', () => {
  it('keeps no standby', async () => {
    const ports = await freePorts(3);
    const ws = workspace({ 'platform.yaml': platformYaml(ports) });
    const env = { PLATFORMCTL_STANDBY: 'off' };
    try {
      const r = await runCli(['up', '--detach'], { cwd: ws.dir, env, timeoutMs: 60_000 });
      expect(r.exitCode, r.stderr).toBe(0);
      // Past the moment a standby would have been made (2 s after ready) and loaded.
      await new Promise((resolve) => setTimeout(resolve, 4000));
      expect((await instance(ws.dir, 'auth-1')).standbyPid).toBeUndefined();
    } finally {
      await runCli(['down'], { cwd: ws.dir, env });
      ws.dispose();
    }
  });
});
