/**
 * bench:loadgen — maximum requests/s against the same trivial node:http server (its own process)
 * for `platformctl load run` (closed model, no think time: its max-throughput mode), autocannon and
 * wrk, with the same connections and duration, in one run. Targets: >= 1.0x autocannon, >= 0.6x wrk.
 *
 * A row for platformctl with `client: undici` (the client of the open-model executors) shows what
 * the lean max-throughput client buys; WITH_UNDICI=0 leaves it out.
 *
 * The machine is shared, so the tools run interleaved for ROUNDS rounds and each one's median
 * requests/s is compared: noise from other processes then hits all three alike.
 *
 *   CONNECTIONS=50 DURATION=5 ROUNDS=3 PIPELINING=1 npm run bench:loadgen
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { median, printTable, writeResult } from './harness.ts';

const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const DURATION = Number(process.env.DURATION ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const PIPELINING = Number(process.env.PIPELINING ?? 1);
const WORKERS = process.env.WORKERS;
const WRK_THREADS = Number(process.env.WRK_THREADS ?? 2);
const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'platformctl');

const SERVER = `
const http = require('node:http');
const body = Buffer.from('{"ok":true}');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
`;

async function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/`, child };
}

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/** Runs a tool; with GNU time also returns the CPU seconds (user + system) it used. */
function run(cmd: string, args: string[]): { stdout: string; cpuS: number | null } {
  const [bin, argv] = TIME ? [TIME, ['-f', 'CPU %U %S', cmd, ...args]] : [cmd, args];
  const r = spawnSync(bin, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, cwd: ROOT });
  if (r.status !== 0 && r.status !== 3) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stderr}`);
  }
  const cpu = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr);
  return { stdout: r.stdout, cpuS: cpu ? Number(cpu[1]) + Number(cpu[2]) : null };
}

interface Measurement {
  tool: string;
  command: string;
  rps: number;
  /** CPU time the tool itself used per request (µs), start-up included: its efficiency. */
  cpuUsPerReq: number | null;
  p99ms: number | null;
  errors: number;
}

function wrk(url: string): Measurement | null {
  if (spawnSync('wrk', ['--version']).error) return null;
  const args = [`-t${WRK_THREADS}`, `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency', url];
  const { stdout: out, cpuS } = run('wrk', args);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p99 = /99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99ms = p99 ? Number(p99[1]) * (p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1) : null;
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  return {
    tool: 'wrk',
    command: `wrk ${args.join(' ')}`,
    rps,
    cpuUsPerReq: perReq(cpuS, rps),
    p99ms,
    errors,
  };
}

function autocannon(url: string): Measurement {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
  const args = ['-c', String(CONNECTIONS), '-d', String(DURATION), '-p', String(PIPELINING), '-j', url];
  const { stdout, cpuS } = run(process.execPath, [bin, ...args]);
  const out = JSON.parse(stdout) as {
    requests: { total: number };
    duration: number;
    latency: { p99: number };
    non2xx: number;
    errors: number;
  };
  return {
    tool: 'autocannon',
    command: `autocannon ${args.join(' ')}`,
    rps: out.requests.total / out.duration,
    cpuUsPerReq: perReq(cpuS, out.requests.total / out.duration),
    p99ms: out.latency.p99,
    errors: out.non2xx + out.errors,
  };
}

function platformctl(url: string, client: 'auto' | 'undici' = 'auto'): Measurement {
  const dir = mkdtempSync(join(tmpdir(), 'bench-loadgen-'));
  const scenario = join(dir, 'max.yaml');
  writeFileSync(
    scenario,
    `name: max-throughput
requests: [{ name: root, method: GET, path: / }]
executor: { type: ramping-vus, vus: ${CONNECTIONS}, duration: ${DURATION}s, connections: ${CONNECTIONS}, pipelining: ${PIPELINING}, client: ${client} }
`,
  );
  const args = [
    '--json',
    'load',
    'run',
    scenario,
    '--target',
    url,
    ...(WORKERS ? ['--workers', WORKERS] : []),
  ];
  const { stdout, cpuS } = run(process.execPath, [BIN, ...args]);
  const summary = JSON.parse(stdout) as {
    metrics: Record<string, { values: Record<string, number> }>;
    state: { testRunDurationMs: number };
  };
  const reqs = summary.metrics.http_reqs?.values ?? {};
  return {
    tool: client === 'auto' ? 'platformctl load' : `platformctl load (client: ${client})`,
    command: `platformctl ${args.join(' ').replace(scenario, 'max.yaml').replace(url, '$URL')} (max.yaml: ramping-vus, vus ${CONNECTIONS}, duration ${DURATION}s, pipelining ${PIPELINING}, client ${client})`,
    rps: reqs.rate ?? 0,
    cpuUsPerReq: perReq(cpuS, reqs.rate ?? 0),
    p99ms: summary.metrics.http_req_duration?.values['p(99)'] ?? null,
    errors: Math.round((summary.metrics.http_req_failed?.values.rate ?? 0) * (reqs.count ?? 0)),
  };
}

function perReq(cpuS: number | null, rps: number): number | null {
  return cpuS === null || rps === 0 ? null : Math.round(((cpuS * 1e6) / (rps * DURATION)) * 10) / 10;
}

if (!existsSync(join(ROOT, 'dist'))) throw new Error('build first: npm run build');
const { url, child } = await startServer();
try {
  // Warm the server's JIT so the first tool measured is not penalised.
  if (!spawnSync('wrk', ['--version']).error) run('wrk', ['-t1', '-c10', '-d2s', url]);
  const rounds: Measurement[][] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Rotate the order every round so no tool always runs right after another one.
    const tools: (() => Measurement | null)[] = [
      () => platformctl(url),
      () => autocannon(url),
      () => wrk(url),
    ];
    if (process.env.WITH_UNDICI !== '0') tools.push(() => platformctl(url, 'undici'));
    const order = tools.map((_, k) => tools[(k + i) % tools.length] as () => Measurement | null);
    const round = order.map((f) => f()).filter((m): m is Measurement => m !== null);
    rounds.push(round);
    console.error(
      `round ${i + 1}/${ROUNDS}: ${round.map((r) => `${r.tool} ${r.rps.toFixed(0)}/s`).join(', ')}`,
    );
  }
  // Per tool, the round with the median requests/s.
  const names = ['platformctl load', 'autocannon', 'wrk', 'platformctl load (client: undici)'];
  const firstRound = names
    .map((n) => rounds[0]?.find((m) => m.tool === n))
    .filter((m): m is Measurement => m !== undefined);
  const results: Measurement[] = firstRound.map((first) => {
    const all = rounds.map((r) => r.find((m) => m.tool === first.tool) as Measurement);
    const mid = median(all.map((m) => m.rps));
    const cpus = all.map((m) => m.cpuUsPerReq).filter((c): c is number => c !== null);
    return {
      ...(all.find((m) => m.rps === mid) ?? first),
      rps: mid,
      cpuUsPerReq: cpus.length ? median(cpus) : null,
    };
  });
  const ours = results[0] as Measurement;
  const ac = results.find((r) => r.tool === 'autocannon');
  const wr = results.find((r) => r.tool === 'wrk');
  printTable(
    ['tool', 'requests/s', 'CPU µs/req', 'p99 ms', 'errors', 'platformctl ratio'],
    results.map((r) => [
      r.tool,
      r.rps.toFixed(0),
      r.cpuUsPerReq?.toFixed(1) ?? 'n/a',
      r.p99ms?.toFixed(2) ?? 'n/a',
      r.errors,
      r === ours ? '1.00' : (ours.rps / r.rps).toFixed(2),
    ]),
  );
  const vsAutocannon = ac ? ours.rps / ac.rps : null;
  const vsWrk = wr ? ours.rps / wr.rps : null;
  const file = writeResult('loadgen', {
    connections: CONNECTIONS,
    durationS: DURATION,
    rounds: ROUNDS,
    perRound: rounds.map((r) =>
      Object.fromEntries(r.map((m) => [m.tool, { rps: Math.round(m.rps), cpuUsPerReq: m.cpuUsPerReq }])),
    ),
    pipelining: PIPELINING,
    workers: WORKERS ?? 'auto',
    results,
    ratios: { vsAutocannon, vsWrk },
    targets: { vsAutocannon: 1.0, vsWrk: 0.6 },
  });
  console.log(
    `\nplatformctl/autocannon ${vsAutocannon?.toFixed(2) ?? 'n/a'} (target >= 1.0), platformctl/wrk ${vsWrk?.toFixed(2) ?? 'n/a'} (target >= 0.6) — ${file}`,
  );
  process.exitCode = (vsAutocannon ?? 1) >= 1.0 && (vsWrk ?? 1) >= 0.6 ? 0 : 1;
} finally {
  child.kill();
}
