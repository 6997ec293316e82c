/**
 * bench:recovery — time from `kill -9` of a service instance to its first 200 through the gateway,
 * with the local provider's detached supervisor (median of RUNS, default 10; target <= 1 s).
 * Reference measured in the same run: a start of the same release on existing data straight to
 * /readyz (no supervisor, no gateway) — the floor any restart pays. The ratio is the supervisor's and
 * gateway's overhead on top of that floor.
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

/** Cold start of the release straight to /readyz: the floor of any restart. */
async function coldStart(entry: string, dataDir: string): Promise<number> {
  const port = await freePort();
  const start = performance.now();
  const child = spawn(process.execPath, [entry], {
    env: {
      ...process.env,
      PORT: String(port),
      DATA_DIR: dataDir,
      BUS_URL: `embedded://${join(dataDir, 'bus')}`,
      SERVICE_NAME: SERVICE,
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  try {
    await until200(`http://127.0.0.1:${port}/readyz`, {});
    return performance.now() - start;
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
  }
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

  const recovery: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const inst = readInstances(dir).find((x) => x.id === `${SERVICE}-1`) as Inst;
    const wait = SETTLE_MS - (Date.now() - Date.parse(inst.startedAt ?? '0'));
    if (wait > 0) await sleep(wait);
    process.kill(inst.pid as number, 'SIGKILL');
    recovery.push(await until200(probe, auth));
  }
  const entry = (readInstances(dir).find((x) => x.id === `${SERVICE}-1`) as Inst).entry;
  cli(dir, 'down');

  // Like a restart, the reference starts on existing data: one unmeasured run migrates it first.
  const cold: number[] = [];
  const data = mkdtempSync(join(tmpdir(), 'platformctl-bench-cold-'));
  try {
    await coldStart(entry, data);
    for (let i = 0; i < RUNS; i++) cold.push(await coldStart(entry, data));
  } finally {
    rmSync(data, { recursive: true, force: true });
  }
  const m = median(recovery);
  const c = median(cold);
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
        `reference: bare start of ${SERVICE} → /readyz`,
        c.toFixed(0),
        Math.min(...cold).toFixed(0),
        Math.max(...cold).toFixed(0),
      ],
    ],
  );
  const file = writeResult('recovery', {
    service: SERVICE,
    runs: RUNS,
    recoveryMs: recovery.map((x) => Math.round(x)),
    coldStartMs: cold.map((x) => Math.round(x)),
    medianRecoveryMs: Math.round(m),
    medianColdStartMs: Math.round(c),
    ratio: Number((m / c).toFixed(2)),
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
