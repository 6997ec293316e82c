/**
 * bench:canary — a release failing 20% of requests under 200 req/s on the local platform (real
 * gateway, supervised processes, `bin/platformctl deploy --wait` with the DEFAULT delivery
 * settings): seconds from the first request the canary serves to 100% of traffic back on stable.
 * Target: <= 10 s.
 *
 * Reference measured in the same run, interleaved: the same rollout with the statistical early
 * abort disabled (`--no-early-abort`), i.e. the threshold conditions alone — what analysis tools
 * that only compare a metric with a threshold per interval achieve with the same settings.
 *
 * Then, interleaved (GATE_RUNS each, default 3), the two gates of issue 19:
 * - an inconclusive rollout: a good release at 2 req/s (the default canary needs ~100 req/s) with
 *   `progressDeadline: 6s` and a huge `inconclusiveLimit` — seconds from `rollout.started` to 100%
 *   back on stable; target: the deadline + at most one interval (8 s). Beside it the defaults
 *   (inconclusiveLimit 3 × 2 s intervals: documented outcome after 4 intervals, 8 s);
 * - a latency regression under rolling: `--strategy rolling --replicas 2` of a release adding
 *   300 ms to every request, at RPS — seconds from the first bad batch (its traffic change, and
 *   the start of its analysis) to 100% back on stable; target: <= one analysis interval (2 s).
 * The 1-minute load average is printed beside every figure.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { obtainToken } from '../src/load/setup.ts';
import { startCli } from '../test/helpers/cli.ts';
import { freePorts } from '../test/helpers/runtime-platform.ts';
import { steadyTraffic } from '../test/helpers/traffic.ts';
import { median, printTable, writeResult } from './harness.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const GATE_RUNS = Number(process.env.GATE_RUNS ?? 3);
const RPS = Number(process.env.RPS ?? 200);
const BIN = join(import.meta.dirname, '..', 'bin', 'platformctl');
const FIXTURE = join(import.meta.dirname, '..', 'test', 'delivery', 'fixtures', 'web');

function cli(dir: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true' },
  });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** The signed-in user the traffic comes from: `up` limits anonymous clients to 50 requests/s per address. */
let bearer: Record<string, string> = {};
const traffic = (url: string, rps: number) => steadyTraffic(url, rps, { headers: bearer, maxSeconds: 600 });

/** Runs `deploy --wait` in the background so traffic keeps flowing from this process. */
async function deploy(
  dir: string,
  version: string,
  extra: string[],
): Promise<{ code: number; stdout: string }> {
  const run = startCli(['deploy', 'web', '--release', version, '--wait', '--json', ...extra], {
    cwd: dir,
    env: { CI: 'true' },
  });
  return { code: await run.exited, stdout: run.stdout() };
}

interface Trial {
  mode: string;
  /** First canary-served request sent → the traffic change back to stable acknowledged. */
  detectToStableS: number;
  /** First canary-served request sent → last canary-served request sent. */
  lastCanaryRequestS: number;
  canaryRequests: number;
  failedRequests: number;
  totalRequests: number;
  decidedBy: string;
}

async function trial(
  dir: string,
  url: string,
  version: string,
  mode: 'early abort' | 'conditions only',
): Promise<Trial> {
  const load = traffic(url, RPS);
  await new Promise((r) => setTimeout(r, 1500)); // steady state before the rollout starts
  const r = await deploy(dir, version, mode === 'conditions only' ? ['--no-early-abort'] : []);
  await new Promise((r) => setTimeout(r, 500));
  const samples = await load.stop();
  if (r.code === 8) {
    throw new Error(
      `the canary got too little traffic for its analysis (exit 8): this machine did not deliver ${RPS} req/s; lower the load or run RUNS=0 for the gates only`,
    );
  }
  if (r.code !== 4) throw new Error(`expected a rollback (exit 4), got ${r.code}:\n${r.stdout}`);
  const events = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; at?: string; message?: string });
  const back = events.find((e) => e.type === 'traffic.set' && e.message?.startsWith('100% of traffic back'));
  const decision = events.find((e) => e.type === 'rollout.aborting');
  const canary = samples.filter((s) => s.version === version);
  const first = Math.min(...canary.map((s) => s.sent));
  const last = Math.max(...canary.map((s) => s.sent));
  return {
    mode,
    detectToStableS: (Date.parse(back?.at ?? '') - first) / 1000,
    lastCanaryRequestS: (last - first) / 1000,
    canaryRequests: canary.length,
    failedRequests: samples.filter((s) => s.status >= 500 || s.status === 0).length,
    totalRequests: samples.length,
    decidedBy: (decision?.message ?? '').replace(/^rolling back [^:]+: /, '').slice(0, 90),
  };
}

interface Event {
  type: string;
  at: string;
  message?: string;
}

function eventsOf(stdout: string): Event[] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Event);
}

const at = (events: Event[], pred: (e: Event) => boolean): number => {
  const e = events.find(pred);
  if (!e) throw new Error(`event not found in:\n${events.map((x) => `${x.type} ${x.message}`).join('\n')}`);
  return Date.parse(e.at);
};
const backToStable = (e: Event) =>
  e.type === 'traffic.set' && !!e.message?.startsWith('100% of traffic back');

function release(dir: string, behaviour: { errorRate: number; delayMs: number }): string {
  writeFileSync(
    join(dir, 'web', 'src', 'behaviour.ts'),
    `export const behaviour = ${JSON.stringify(behaviour)};\n`,
  );
  const built = cli(dir, ['release', 'build', 'web', '--json']);
  return (JSON.parse(built.stdout) as { version: string }).version;
}

/** The inconclusive-deadline and rolling-regression trials, interleaved. */
async function gateTrials(dir: string, url: string) {
  const config = join(dir, 'platform.yaml');
  const defaults = readFileSync(config, 'utf8');
  const good = release(dir, { errorRate: 0, delayMs: 1 });
  const slow = release(dir, { errorRate: 0, delayMs: 300 });
  const rows: { case: string; seconds: number; load: number; outcome: string }[] = [];
  const record = (label: string, seconds: number, outcome: string) => {
    const load = loadavg()[0] as number;
    rows.push({ case: label, seconds, load, outcome });
    console.error(`${label}: ${seconds.toFixed(2)} s (load ${load.toFixed(2)}; ${outcome})`);
  };
  for (let i = 0; i < GATE_RUNS; i++) {
    for (const variant of ['deadline', 'defaults'] as const) {
      writeFileSync(
        config,
        variant === 'deadline'
          ? `${defaults}delivery:\n  analysis: { progressDeadline: 6s, inconclusiveLimit: 1000 }\n`
          : defaults,
      );
      const load = steadyTraffic(url, 2, { headers: bearer, maxSeconds: 120 });
      const r = await deploy(dir, good, []);
      await load.stop();
      if (r.code !== 8) throw new Error(`expected exit 8 (out of time), got ${r.code}:\n${r.stdout}`);
      const ev = eventsOf(r.stdout);
      const s = (at(ev, backToStable) - at(ev, (e) => e.type === 'rollout.started')) / 1000;
      record(
        variant === 'deadline'
          ? 'inconclusive at 2 req/s, progressDeadline 6s'
          : 'inconclusive at 2 req/s, defaults',
        s,
        ev.find((e) => e.type === 'rollout.aborting')?.message?.slice(0, 80) ?? '',
      );
    }
    writeFileSync(config, defaults);
    const load = traffic(url, RPS);
    await new Promise((r) => setTimeout(r, 1500));
    const r = await deploy(dir, slow, ['--strategy', 'rolling', '--replicas', '2']);
    await load.stop();
    if (r.code !== 4) throw new Error(`expected a rollback (exit 4), got ${r.code}:\n${r.stdout}`);
    const ev = eventsOf(r.stdout);
    const back = at(ev, backToStable);
    const batch = at(
      ev,
      (e) => e.type === 'traffic.set' && !!e.message?.startsWith('1/2 instances replaced'),
    );
    const analysis = at(ev, (e) => e.type === 'analysis.started');
    const why = ev.find((e) => e.type === 'rollout.aborting')?.message?.slice(0, 80) ?? '';
    record('rolling +300 ms: first bad batch traffic -> stable', (back - batch) / 1000, why);
    record('rolling +300 ms: batch analysis start -> stable', (back - analysis) / 1000, why);
  }
  const labels = [...new Set(rows.map((r) => r.case))];
  const targets: Record<string, string> = {
    'inconclusive at 2 req/s, progressDeadline 6s': '<= 8 (6 s deadline + 2 s interval)',
    'inconclusive at 2 req/s, defaults': '8 (documented: 4 intervals of 2 s)',
    'rolling +300 ms: first bad batch traffic -> stable': '<= 2 (one interval)',
    'rolling +300 ms: batch analysis start -> stable': '<= 2 (one interval)',
  };
  const summary = labels.map((label) => {
    const of = rows.filter((r) => r.case === label);
    return {
      label,
      median: median(of.map((r) => r.seconds)),
      max: Math.max(...of.map((r) => r.seconds)),
      target: targets[label] ?? '',
      load: of.map((r) => r.load.toFixed(2)).join(' '),
    };
  });
  return { rows, summary };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-canary-'));
try {
  const [gw, web, auth] = await freePorts(3);
  // No `delivery` section: the defaults (10% → analysis 3 × 2s → 50% → analysis → 100%).
  writeFileSync(
    join(dir, 'platform.yaml'),
    `name: bench-canary
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway: { path: builtin:gateway, port: ${gw}, kind: gateway, dependsOn: [web, auth] }
  # the bench outlives the default 10-minute access token
  auth: { path: builtin:auth, port: ${auth}, routes: [/auth, /.well-known], env: { AUTH_ACCESS_TTL_SECONDS: '3600' } }
  web: { path: ./web, port: ${web}, routes: [/web] }
`,
  );
  cpSync(FIXTURE, join(dir, 'web'), { recursive: true });
  const up = cli(dir, ['up', '--detach']);
  if (up.status !== 0) throw new Error(`up failed: ${up.stderr}`);
  writeFileSync(
    join(dir, 'web', 'src', 'behaviour.ts'),
    'export const behaviour = { errorRate: 0.2, delayMs: 1 };\n',
  );
  const built = cli(dir, ['release', 'build', 'web', '--json']);
  const bad = (JSON.parse(built.stdout) as { version: string }).version;
  const gateway = `http://127.0.0.1:${gw}`;
  bearer = { authorization: `Bearer ${(await obtainToken(gateway, { signup: true })).token}` };
  const url = `${gateway}/web/x`;

  const trials: Trial[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const mode of ['early abort', 'conditions only'] as const) {
      const t = await trial(dir, url, bad, mode);
      trials.push(t);
      console.error(`run ${i + 1} ${mode}: ${t.detectToStableS.toFixed(2)} s (${t.decidedBy})`);
    }
  }
  const gates = await gateTrials(dir, url);
  cli(dir, ['down']);

  const of = (mode: string) => trials.filter((t) => t.mode === mode);
  // RUNS=0 measures only the gates below (the first table needs RPS delivered to the canary).
  let early: Record<string, unknown> = {};
  if (trials.length > 0) {
    const rows = ['early abort', 'conditions only'].map((mode) => {
      const ts = of(mode);
      const secs = ts.map((t) => t.detectToStableS);
      const failedShare =
        ts.reduce((s, t) => s + t.failedRequests, 0) / ts.reduce((s, t) => s + t.totalRequests, 0);
      return [
        mode,
        median(secs).toFixed(2),
        Math.max(...secs).toFixed(2),
        median(ts.map((t) => t.canaryRequests)).toFixed(0),
        `${(failedShare * 100).toFixed(2)}%`,
      ];
    });
    console.log(`\n${RUNS} runs each, ${RPS} req/s, release failing 20%, default analysis settings\n`);
    printTable(['mode', 'median s to 100% stable', 'max s', 'canary requests', 'failed user requests'], rows);
    const best = median(of('early abort').map((t) => t.detectToStableS));
    const reference = median(of('conditions only').map((t) => t.detectToStableS));
    console.log(
      `\nmedian ${best.toFixed(2)} s (target <= 10 s); conditions only ${reference.toFixed(2)} s; ratio ${(best / reference).toFixed(2)}`,
    );
    early = { target: 10, medianSeconds: best, referenceMedianSeconds: reference, ratio: best / reference };
    process.exitCode = best <= 10 ? 0 : 1;
  }
  console.log(`\n${GATE_RUNS} runs each, interleaved (issue 19 gates)\n`);
  printTable(
    ['case', 'median s', 'max s', 'target s', 'load avg (1 min) per run'],
    gates.summary.map((g) => [g.label, g.median.toFixed(2), g.max.toFixed(2), g.target, g.load]),
  );
  const file = writeResult('canary', { runs: RUNS, gateRuns: GATE_RUNS, rps: RPS, ...early, trials, gates });
  console.log(`\n${file}`);
} finally {
  spawnSync(process.execPath, [BIN, 'down'], { cwd: dir, stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
}
