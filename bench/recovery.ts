/**
 * bench:recovery — time from `kill -9` of a service instance to its first 200 through the gateway,
 * with the local provider's detached supervisor (median of RUNS, default 10; target <= 1 s).
 * Reference, interleaved in the same run: the same release started by hand with the instance's
 * exact environment, straight to /readyz (no supervisor, no gateway) — the floor any restart
 * pays. Also prints where the recovery time goes, from the supervisor's event log.
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
const cli = (dir: string, ...args: string[]) =>
  execFileSync(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();

interface Inst {
  id: string;
  pid?: number;
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
/**
 * CPU time the supervised restarts used up to their first 200 through the gateway: set against
 * bareCpu, it says whether a restart does more work than a bare start or only waits longer.
 */
const restartCpu: number[] = [];

async function bareStart(pid: number, entry: string): Promise<number> {
  const env = Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  // The supervisor's notification pipe is not part of the instance's environment: nothing is on
  // descriptor 3 here (the kit would ignore it anyway, as it is not a socket).
  delete env.NOTIFY_FD;
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
}

/** Splits one recovery into phases from the supervisor's event log (epoch ms per event). */
function phases(dir: string, instance: string, killedAt: number, servedAt: number): Phases | undefined {
  const events = readFileSync(join(dir, '.platform', 'logs', 'supervisor.log'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { time: number; msg: string; instance?: string })
    .filter((e) => e.instance === instance && e.time >= killedAt);
  const at = (msg: string) => events.find((e) => e.msg === msg)?.time;
  const exited = at('instance.exited');
  const starting = at('instance.starting');
  const ready = at('instance.ready');
  if (!exited || !starting || !ready) return undefined;
  return {
    detect: exited - killedAt,
    spawn: starting - exited,
    start: ready - starting,
    route: servedAt - ready,
  };
}

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

try {
  cli(dir, 'up', '--detach');
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

  // Reference and recovery alternate so both see the same machine load.
  const recovery: number[] = [];
  const bare: number[] = [];
  const split: Phases[] = [];
  for (let i = 0; i < RUNS; i++) {
    const inst = readInstances(dir).find((x) => x.id === `${SERVICE}-1`) as Inst;
    const wait = SETTLE_MS - (Date.now() - Date.parse(inst.startedAt ?? '0'));
    if (wait > 0) await sleep(wait);
    bare.push(await bareStart(inst.pid as number, inst.entry));
    const killedAt = Date.now();
    process.kill(inst.pid as number, 'SIGKILL');
    recovery.push(await until200(probe, auth));
    const restarted = readInstances(dir).find((x) => x.id === `${SERVICE}-1`);
    if (restarted?.pid && restarted.pid !== inst.pid) restartCpu.push(cpuMsOf(restarted.pid));
    const p = phases(dir, `${SERVICE}-1`, killedAt, Date.now());
    if (p) split.push(p);
  }
  // The same kill with two replicas: the gateway drops the dead one at once and retries on the other.
  cli(dir, 'scale', SERVICE, '2');
  const replicated: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const inst = readInstances(dir).find((x) => x.id === `${SERVICE}-1`) as Inst;
    const wait = SETTLE_MS - (Date.now() - Date.parse(inst.startedAt ?? '0'));
    if (wait > 0) await sleep(wait);
    process.kill(inst.pid as number, 'SIGKILL');
    replicated.push(await until200(probe, auth));
    // The other replica answered at once; let the killed one come back before the next round.
    for (let t = 0; t < 600; t++) {
      const now = readInstances(dir).find((x) => x.id === `${SERVICE}-1`);
      if (now?.state === 'ready' && now.pid !== inst.pid) break;
      await sleep(50);
    }
  }
  cli(dir, 'down');
  const m = median(recovery);
  const c = median(bare);
  printTable(
    ['measurement', 'median ms', 'min ms', 'max ms'],
    [
      [
        `kill -9 ${SERVICE} → first 200 via gateway`,
        m.toFixed(0),
        Math.min(...recovery).toFixed(0),
        Math.max(...recovery).toFixed(0),
      ],
      [
        `kill -9 ${SERVICE}-1 of 2 replicas → first 200`,
        median(replicated).toFixed(0),
        Math.min(...replicated).toFixed(0),
        Math.max(...replicated).toFixed(0),
      ],
      [
        `reference: bare start of ${SERVICE} → /readyz`,
        c.toFixed(0),
        Math.min(...bare).toFixed(0),
        Math.max(...bare).toFixed(0),
      ],
    ],
  );
  const phase = (k: keyof Phases) => median(split.map((p) => p[k]));
  console.log(
    `\nCPU time (user + system, medians): bare start to /readyz ${median(bareCpu).toFixed(0)} ms, restarted instance to its first 200 via the gateway ${median(restartCpu).toFixed(0)} ms`,
  );
  console.log(
    `where the time goes (medians): detect exit ${phase('detect').toFixed(0)} ms, spawn ${phase('spawn').toFixed(0)} ms, service start to /readyz ${phase('start').toFixed(0)} ms, ready → first 200 via gateway ${phase('route').toFixed(0)} ms`,
  );
  const file = writeResult('recovery', {
    service: SERVICE,
    runs: RUNS,
    recoveryMs: recovery.map((x) => Math.round(x)),
    bareStartMs: bare.map((x) => Math.round(x)),
    medianRecoveryMs: Math.round(m),
    medianBareStartMs: Math.round(c),
    bareStartCpuMs: bareCpu,
    medianBareStartCpuMs: median(bareCpu),
    restartCpuMs: restartCpu,
    medianRestartCpuMs: median(restartCpu),
    twoReplicasMs: replicated.map((x) => Math.round(x)),
    medianTwoReplicasMs: Math.round(median(replicated)),
    ratio: Number((m / c).toFixed(2)),
    phasesMs: {
      detect: phase('detect'),
      spawn: phase('spawn'),
      start: phase('start'),
      route: phase('route'),
    },
    loadAverage: loadavg().map((x) => Number(x.toFixed(1))),
    targetMs: 1000,
  });
  console.log(
    `\nmedian recovery ${m.toFixed(0)} ms (target <= 1000 ms), ${(m / c).toFixed(2)}× a bare start — ${file}`,
  );
  process.exitCode = m <= 1000 ? 0 : 1;
} finally {
  try {
    cli(dir, 'down');
  } catch {
    // already down
  }
  rmSync(dir, { recursive: true, force: true });
}
