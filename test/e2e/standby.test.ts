/**
 * Standbys on the local provider (src/providers/local/standby.ts, standbys.ts): the only instance
 * of a runtime kit service gets a loaded process beside it, which takes over when the instance's
 * process dies. The tests start the supervisor with PLATFORMCTL_STANDBY_DELAY_MS=0, so a standby
 * exists as soon as an instance that should have one is ready, and every check below is about
 * what the supervisor decided, not about how long it took.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';
import { alive, until, valueUntil } from '../helpers/poll.ts';
import { freePorts } from '../helpers/runtime-platform.ts';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'local', 'fixture-service');
const NOW = { PLATFORMCTL_STANDBY_DELAY_MS: '0' };

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

async function instances(dir: string): Promise<Instance[]> {
  const r = await runCli(['status', '--json'], { cwd: dir });
  if (r.exitCode !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { services: { instances: Instance[] }[] }).services.flatMap(
    (s) => s.instances,
  );
}

async function instance(dir: string, id: string): Promise<Instance> {
  const found = (await instances(dir)).find((i) => i.id === id);
  if (!found) throw new Error(`no instance ${id}`);
  return found;
}

/** The supervisor's events (its log) of one kind for one instance. */
function events(dir: string, msg: string, id: string): { fromStandby?: boolean }[] {
  return readFileSync(join(dir, '.platform', 'logs', 'supervisor.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; instance?: string; fromStandby?: boolean })
    .filter((e) => e.msg === msg && e.instance === id);
}

/** `id` ready with a standby, other than `not` (a previous one). */
const withStandby = (dir: string, id: string, not?: number) =>
  valueUntil(
    () => instance(dir, id),
    (i) => i.state === 'ready' && i.standbyPid !== undefined && i.standbyPid !== not,
    `a standby of ${id}`,
    400,
  );

/** Kills `before`'s process and waits until its instance is ready again. */
async function crash(dir: string, before: Instance): Promise<Instance> {
  process.kill(before.pid as number, 'SIGKILL');
  return valueUntil(
    () => instance(dir, before.id),
    (i) => i.state === 'ready' && i.pid !== before.pid,
    `${before.id} to be ready again`,
  );
}

describe('standbys', () => {
  let ws: ReturnType<typeof workspace>;
  let ports: number[];

  beforeAll(async () => {
    ports = await freePorts(3);
    ws = workspace({ 'platform.yaml': platformYaml(ports) });
    const r = await runCli(['up', '--detach'], { cwd: ws.dir, env: NOW, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
  });

  afterAll(async () => {
    await runCli(['down'], { cwd: ws.dir });
    ws.dispose();
  });

  it('the only instance of a kit service gets one; after kill -9 the standby is the instance, and a new one follows', async () => {
    const before = await withStandby(ws.dir, 'auth-1');
    expect(alive(before.standbyPid)).toBe(true);
    const after = await crash(ws.dir, before);
    expect(after.pid).toBe(before.standbyPid);
    expect(after.restarts).toBe(1);
    expect(events(ws.dir, 'instance.starting', 'auth-1').at(-1)?.fromStandby).toBe(true);
    expect((await fetch(`http://127.0.0.1:${ports[0]}/.well-known/jwks.json`)).status).toBe(200);
    const next = await withStandby(ws.dir, 'auth-1', before.standbyPid);
    expect(next.pid).toBe(before.standbyPid);
    expect(alive(next.standbyPid)).toBe(true);
  });

  it('a restart with a log due for rotation is cold, so the log rotates and the standby goes', async () => {
    const before = await withStandby(ws.dir, 'auth-1');
    const log = join(ws.dir, '.platform', 'logs', 'auth-1.log');
    appendFileSync(log, `${'x'.repeat(1023)}\n`.repeat(21 * 1024));
    const after = await crash(ws.dir, before);
    expect(after.pid).not.toBe(before.standbyPid);
    expect(events(ws.dir, 'instance.starting', 'auth-1').at(-1)?.fromStandby).toBeUndefined();
    expect(existsSync(`${log}.1`)).toBe(true);
    await until(() => !alive(before.standbyPid), 'the unused standby to be gone');
    await fetch(`http://127.0.0.1:${ports[0]}/.well-known/jwks.json`);
    await until(
      () => readFileSync(log, 'utf8').includes('"msg":"request"'),
      'the request logged in the new file',
    );
  });

  it('a standby that no longer fits the instance (up added a service: a new <SERVICE>_URL) is replaced at once', async () => {
    const before = await withStandby(ws.dir, 'auth-1');
    writeFileSync(join(ws.dir, 'platform.yaml'), platformYaml(ports, true));
    const r = await runCli(['up', '--detach'], { cwd: ws.dir, env: NOW, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    await until(() => !alive(before.standbyPid), 'the stale standby to be gone');
    const fresh = await withStandby(ws.dir, 'auth-1', before.standbyPid);
    expect(readFileSync(`/proc/${fresh.standbyPid}/environ`, 'utf8')).toContain(
      `EXTRA_URL=http://127.0.0.1:${ports[2]}`,
    );
    const after = await crash(ws.dir, fresh);
    expect(after.pid).toBe(fresh.standbyPid);
  });

  it('a service scaled out keeps none (the gateway fails over); back to one instance, it has one again', async () => {
    const { standbyPid } = await withStandby(ws.dir, 'auth-1');
    expect((await runCli(['scale', 'auth', '2'], { cwd: ws.dir })).exitCode).toBe(0);
    await until(() => !alive(standbyPid), 'the standby of a scaled-out service to be gone');
    const two = (await instances(ws.dir)).filter((i) => i.id.startsWith('auth-'));
    expect(two.map((i) => [i.state, i.standbyPid])).toEqual([
      ['ready', undefined],
      ['ready', undefined],
    ]);
    expect((await runCli(['scale', 'auth', '1'], { cwd: ws.dir })).exitCode).toBe(0);
    await withStandby(ws.dir, 'auth-1', standbyPid);
  });

  it('a standby that dies before it started is not counted as another crash: the instance starts afresh', async () => {
    const before = await withStandby(ws.dir, 'auth-1');
    const restarts = before.restarts;
    // Stopped, it cannot read START; killed then, it dies as a standby that never started.
    process.kill(before.standbyPid as number, 'SIGSTOP');
    process.kill(before.pid as number, 'SIGKILL');
    await until(
      () => events(ws.dir, 'instance.starting', 'auth-1').at(-1)?.fromStandby === true,
      'the hand-over',
    );
    process.kill(before.standbyPid as number, 'SIGKILL');
    const after = await valueUntil(
      () => instance(ws.dir, 'auth-1'),
      (i) => i.state === 'ready' && i.pid !== before.pid && i.pid !== before.standbyPid,
      'auth-1 started afresh',
    );
    expect(after.restarts).toBe(restarts + 1);
    expect(events(ws.dir, 'instance.crash-loop', 'auth-1')).toEqual([]);
  });

  it('services that do not say they can have one get none; down stops the standbys with the instances', async () => {
    // The fixture says STATUS=starting and READY=1, not CAPABILITIES=standby.
    expect(events(ws.dir, 'instance.standby', 'store-1')).toEqual([]);
    expect((await instance(ws.dir, 'store-1')).standbyPid).toBeUndefined();
    const { pid, standbyPid } = await withStandby(ws.dir, 'auth-1');
    const r = await runCli(['down'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(alive(standbyPid)).toBe(false);
  });
});

describe('without a live supervisor, or with standbys off', () => {
  async function up(env: Record<string, string>) {
    const ports = await freePorts(3);
    const ws = workspace({ 'platform.yaml': platformYaml(ports) });
    const r = await runCli(['up', '--detach'], { cwd: ws.dir, env, timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    return ws;
  }

  it('a standby exits by itself when its supervisor is killed, and status no longer shows it', async () => {
    const ws = await up(NOW);
    try {
      const { standbyPid } = await withStandby(ws.dir, 'auth-1');
      const state = JSON.parse(readFileSync(join(ws.dir, '.platform', 'state.json'), 'utf8'));
      process.kill(state.supervisor.pid, 'SIGKILL');
      await until(() => !alive(standbyPid), 'the standby to exit with its supervisor gone');
      expect((await instance(ws.dir, 'auth-1')).standbyPid).toBeUndefined();
    } finally {
      await runCli(['down'], { cwd: ws.dir });
      ws.dispose();
    }
  });

  it('a malformed standby setting is refused by up (exit 2) before any supervisor starts', async () => {
    const ports = await freePorts(3);
    const ws = workspace({ 'platform.yaml': platformYaml(ports) });
    try {
      for (const [name, value] of [
        ['PLATFORMCTL_STANDBY', 'of'],
        ['PLATFORMCTL_STANDBY_DELAY_MS', '2s'],
      ] as const) {
        const r = await runCli(['up', '--detach', '--json'], { cwd: ws.dir, env: { [name]: value } });
        expect(r.exitCode, r.stderr).toBe(2);
        expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'ENV_INVALID' });
        expect(r.stderr).toContain(name);
      }
      expect(existsSync(join(ws.dir, '.platform', 'state.json'))).toBe(false);
    } finally {
      ws.dispose();
    }
  });

  it('PLATFORMCTL_STANDBY=off: none is made, and a restart is a new process', async () => {
    const env = { ...NOW, PLATFORMCTL_STANDBY: 'off' };
    const ws = await up(env);
    try {
      // With no delay, a supervisor that made standbys would have one loading or loaded by now.
      const before = await instance(ws.dir, 'auth-1');
      expect(before.standbyPid).toBeUndefined();
      await crash(ws.dir, before);
      expect(events(ws.dir, 'instance.starting', 'auth-1').at(-1)?.fromStandby).toBeUndefined();
      expect(events(ws.dir, 'instance.standby', 'auth-1')).toEqual([]);
    } finally {
      await runCli(['down'], { cwd: ws.dir, env });
      ws.dispose();
    }
  });
});
