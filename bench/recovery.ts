/**
 * bench:recovery — time from `kill -9` of a service instance to its first 200 through the gateway,
 * with the local provider's detached supervisor (median of RUNS, default 10; target <= 1 s).
 * Two platforms run side by side: one as `up` makes it (the instance has a standby, which the
 * restart starts), one with PLATFORMCTL_STANDBY=off (the restart starts a new process). Reference,
 * interleaved in the same run: the same release started by hand with the instance's exact
 * environment, straight to /readyz (no supervisor, no gateway) — what a cold restart cannot beat.
 * Also prints where the recovery time goes, from the supervisor's event log, and what a standby
 * costs in memory.
 *
 *   npm run bench:recovery            # content behind the gateway (needs runtime gateway/auth/content)
 *   BENCH_SERVICE=auth npm run bench:recovery
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/core/ports.ts';
import { median, printTable, writeResult } from './harness.ts';

const RUNS = Number(process.env.RUNS ?? 10);
const SERVICE = process.env.BENCH_SERVICE ?? 'content';
const BIN = join(import.meta.dirname, '..', 'bin', 'platformctl');
// A run that stayed ready this long clears the crash history (restart-policy.ts healthyRunMs), so
// every kill is measured as a first crash — the case the target is about.
const SETTLE_MS = 5_500;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cli = (dir: string, env: Record<string, string>, ...args: string[]) =>
  execFileSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();

interface Inst {
  id: string;
  pid?: number;
  standbyPid?: number;
  startedAt?: string;
  state: string;
  entry: string;
}
const readInstances = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, '.platform', 'state.json'), 'utf8')) as { instances: Inst[] }).instances;

async function json(url: string, init: RequestInit = {}): Promise<Record<string, unknown>> {
  const res = await fetch(url, init);
  if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${url} → ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

async function until200(url: string, headers: Record<string, string>, limitMs = 30_000): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < limitMs) {
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - start;
    } catch {
      // connection refused while restarting
    }
    await sleep(5);
  }
  throw new Error(`${url} did not answer 200 within ${limitMs} ms`);
}

/**
 * The reference: the same release started by hand with the supervised instance's exact
 * environment (read from /proc; only PORT and INSTANCE_ID differ) straight to /readyz.
 */
/** CPU time (user + system, ms) a live process has used, from /proc. */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** CPU time the bare starts used up to /readyz: what a busy machine inflates far less than wall time. */
const bareCpu: number[] = [];

async function bareStart(pid: number, entry: string): Promise<number> {
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  // The supervisor's notification pipe is not part of the instance's environment: nothing is on
  // descriptor 3 here (the kit would ignore it anyway, as it is not a socket). An instance that was
  // a standby was started with NOTIFY_STANDBY=1 as well.
  delete env.NOTIFY_FD;
  delete env.NOTIFY_STANDBY;
  const port = await freePort();
  const start = performance.now();
  const child = spawn(process.execPath, [entry], {
    env: { ...env, PORT: String(port), INSTANCE_ID: 'bench-reference' },
    stdio: 'ignore',
  });
  try {
    await until200(`http://127.0.0.1:${port}/readyz`, {});
    const wall = performance.now() - start;
    bareCpu.push(cpuMsOf(child.pid as number));
    return wall;
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
}

interface Phases {
  detect: number;
  spawn: number;
  start: number;
  route: number;
  /** The restart started the instance's standby. */
  fromStandby: boolean;
}

/** Splits one recovery into phases from the supervisor's event log (epoch ms per event). */
function phases(dir: string, instance: string, killedAt: number, servedAt: number): Phases | undefined {
  const events = readFileSync(join(dir, '.platform', 'logs', 'supervisor.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { time: number; msg: string; instance?: string; fromStandby?: boolean })
    .filter((e) => e.instance === instance && e.time >= killedAt);
  const at = (msg: string) => events.find((e) => e.msg === msg);
  const exited = at('instance.exited')?.time;
  const starting = at('instance.starting');
  const ready = at('instance.ready')?.time;
  if (!exited || !starting || !ready) return undefined;
  return {
    detect: exited - killedAt,
    spawn: starting.time - exited,
    start: ready - starting.time,
    route: servedAt - ready,
    fromStandby: starting.fromStandby === true,
  };
}

/** Resident and anonymous (private, not file-backed) memory of a process, MiB. */
function memoryOf(pid: number): { rss: number; anon: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0);
  return { rss: kb('Rss') / 1024, anon: kb('Anonymous') / 1024 };
}

interface Platform {
  label: string;
  dir: string;
  env: Record<string, string>;
  probe: string;
  auth: Record<string, string>;
  recovery: number[];
  split: Phases[];
  /** CPU the restarted instances used up to their first 200 via the gateway. */
  restartCpu: number[];
}

/** Gateway, auth and content up in a new project under `env`, with an item to read back. */
async function setUp(label: string, env: Record<string, string>): Promise<Platform> {
  const dir = mkdtempSync(join(tmpdir(), 'platformctl-bench-recovery-'));
  const ports = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'platform.yaml'),
    `apiVersion: platformctl/v1
name: bench
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway: { path: "builtin:gateway", port: ${ports[0]}, kind: gateway, dependsOn: [auth, content] }
  auth: { path: "builtin:auth", port: ${ports[1]}, routes: [/auth, /.well-known] }
  content: { path: "builtin:content", port: ${ports[2]}, routes: [/content] }
`,
  );
  platforms.push({ dir, env });
  cli(dir, env, 'up', '--detach');
  const gw = `http://127.0.0.1:${ports[0]}`;
  const body = JSON.stringify({ email: 'bench@example.com', password: 'bench-password-1234' });
  const headers = { 'content-type': 'application/json' };
  await json(`${gw}/auth/signup`, { method: 'POST', headers, body });
  const token = String((await json(`${gw}/auth/login`, { method: 'POST', headers, body })).accessToken);
  const auth = { authorization: `Bearer ${token}` };
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
    'base64',
  );
  const uploaded = await json(`${gw}/content`, {
    method: 'POST',
    headers: { ...auth, 'x-filename': 'pixel.png' },
    body: png,
  });
  // The probe: an authenticated read of data acknowledged before the kills (so a 200 also proves
  // nothing acknowledged was lost).
  const probe = SERVICE === 'auth' ? `${gw}/.well-known/jwks.json` : `${gw}/content/${String(uploaded.id)}`;
  await until200(probe, auth);
  return { label, dir, env, probe, auth, recovery: [], split: [], restartCpu: [] };
}

/** The instance once it has run long enough that a kill is a first crash (and its standby is loaded). */
async function settled(p: Platform, id: string): Promise<Inst> {
  const inst = readInstances(p.dir).find((x) => x.id === id) as Inst;
  const wait = SETTLE_MS - (Date.now() - Date.parse(inst.startedAt ?? '0'));
  if (wait > 0) await sleep(wait);
  return readInstances(p.dir).find((x) => x.id === id) as Inst;
}

/** One `kill -9` of the instance, timed to its first 200 through the gateway. */
async function recover(p: Platform): Promise<void> {
  const inst = await settled(p, `${SERVICE}-1`);
  const killedAt = Date.now();
  process.kill(inst.pid as number, 'SIGKILL');
  p.recovery.push(await until200(p.probe, p.auth));
  const restarted = readInstances(p.dir).find((x) => x.id === `${SERVICE}-1`);
  if (restarted?.pid && restarted.pid !== inst.pid) p.restartCpu.push(cpuMsOf(restarted.pid));
  const split = phases(p.dir, `${SERVICE}-1`, killedAt, Date.now());
  if (split) p.split.push(split);
}

const platforms: { dir: string; env: Record<string, string> }[] = [];
try {
  const withStandby = await setUp('restart (standby, the default)', {});
  const cold = await setUp('restart (PLATFORMCTL_STANDBY=off)', { PLATFORMCTL_STANDBY: 'off' });

  // The reference and both restarts alternate so all see the same machine load; which restart goes
  // first changes every round.
  const bare: number[] = [];
  const standbyMemory: { rss: number; anon: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const inst = await settled(withStandby, `${SERVICE}-1`);
    if (inst.standbyPid) standbyMemory.push(memoryOf(inst.standbyPid));
    bare.push(await bareStart(inst.pid as number, inst.entry));
    for (const p of i % 2 ? [cold, withStandby] : [withStandby, cold]) await recover(p);
  }
  // The same kill with two replicas: the gateway drops the dead one at once and retries on the other.
  cli(withStandby.dir, {}, 'scale', SERVICE, '2');
  const replicated: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const inst = await settled(withStandby, `${SERVICE}-1`);
    process.kill(inst.pid as number, 'SIGKILL');
    replicated.push(await until200(withStandby.probe, withStandby.auth));
    // The other replica answered at once; let the killed one come back before the next round.
    for (let t = 0; t < 600; t++) {
      const now = readInstances(withStandby.dir).find((x) => x.id === `${SERVICE}-1`);
      if (now?.state === 'ready' && now.pid !== inst.pid) break;
      await sleep(50);
    }
  }
  const c = median(bare);
  const range = (xs: number[]) => [
    median(xs).toFixed(0),
    Math.min(...xs).toFixed(0),
    Math.max(...xs).toFixed(0),
  ];
  printTable(
    ['measurement', 'median ms', 'min ms', 'max ms', '× bare start'],
    [
      ...[withStandby, cold].map((p) => [
        `kill -9 ${SERVICE} → first 200 via gateway, ${p.label}`,
        ...range(p.recovery),
        (median(p.recovery) / c).toFixed(2),
      ]),
      [`kill -9 ${SERVICE}-1 of 2 replicas → first 200`, ...range(replicated), ''],
      [`reference: bare start of ${SERVICE} → /readyz`, ...range(bare), '1.00'],
    ],
  );
  const phase = (p: Platform, k: Exclude<keyof Phases, 'fromStandby'>) => median(p.split.map((x) => x[k]));
  console.log(`
CPU time (user + system, medians): bare start to /readyz ${median(bareCpu).toFixed(0)} ms`);
  for (const p of [withStandby, cold]) {
    const fromStandby = p.split.filter((x) => x.fromStandby).length;
    console.log(
      `${p.label}: the restarted instance used ${median(p.restartCpu).toFixed(0)} ms of CPU to its first 200; ` +
        `${fromStandby} of ${p.split.length} restarts started a standby; where the time goes (medians): detect exit ${phase(p, 'detect').toFixed(0)} ms, ` +
        `spawn ${phase(p, 'spawn').toFixed(0)} ms, service start to ready ${phase(p, 'start').toFixed(0)} ms, ready → first 200 via gateway ${phase(p, 'route').toFixed(0)} ms`,
    );
  }
  if (standbyMemory.length > 0) {
    console.log(
      `a standby of ${SERVICE} holds ${median(standbyMemory.map((x) => x.rss)).toFixed(0)} MiB resident, ` +
        `${median(standbyMemory.map((x) => x.anon)).toFixed(0)} MiB of it anonymous (the rest is Node's binary and libraries, shared)`,
    );
  }
  const m = median(withStandby.recovery);
  const summary = (p: Platform) => ({
    recoveryMs: p.recovery.map((x) => Math.round(x)),
    medianRecoveryMs: Math.round(median(p.recovery)),
    ratio: Number((median(p.recovery) / c).toFixed(2)),
    restartCpuMs: p.restartCpu,
    medianRestartCpuMs: median(p.restartCpu),
    restartsFromStandby: p.split.filter((x) => x.fromStandby).length,
    phasesMs: {
      detect: phase(p, 'detect'),
      spawn: phase(p, 'spawn'),
      start: phase(p, 'start'),
      route: phase(p, 'route'),
    },
  });
  const file = writeResult('recovery', {
    service: SERVICE,
    runs: RUNS,
    ...summary(withStandby),
    cold: summary(cold),
    bareStartMs: bare.map((x) => Math.round(x)),
    medianBareStartMs: Math.round(c),
    bareStartCpuMs: bareCpu,
    medianBareStartCpuMs: median(bareCpu),
    standbyMemoryMiB: standbyMemory,
    twoReplicasMs: replicated.map((x) => Math.round(x)),
    medianTwoReplicasMs: Math.round(median(replicated)),
    loadAverage: loadavg().map((x) => Number(x.toFixed(1))),
    targetMs: 1000,
    targetRatio: 1.05,
  });
  console.log(
    `\nmedian recovery ${m.toFixed(0)} ms (target <= 1000 ms), ${(m / c).toFixed(2)}× a bare start (target <= 1.05) — ${file}`,
  );
  process.exitCode = m <= 1000 && m / c <= 1.05 ? 0 : 1;
} finally {
  for (const p of platforms) {
    try {
      cli(p.dir, p.env, 'down');
    } catch {
      // already down
    }
    rmSync(p.dir, { recursive: true, force: true });
  }
}
