/**
 * bench:runtime:analytics — events/s acknowledged (HTTP 202) by the analytics service for
 * batches of 100 events from concurrent keep-alive clients on loopback, against a reference
 * measured in the same run: a bare node:http server that reads and JSON-parses the same bodies
 * and answers 202 without storing anything (the cost floor of HTTP + JSON on this machine).
 * Afterwards it measures how long the projector needs to make every acknowledged event visible
 * in the read models, and checks that the totals match what was acknowledged.
 *
 * Env: PROJECTION (concurrent | deferred), ROUNDS (3), DURATION_S (10), CONNECTIONS (32), BATCH (100), ITEMS (1000), USERS (500000), TARGET (100000).
 * 500k users: at 100k views/s and a view every ~5 s per active user, that is the active audience;
 * fewer users would make each one view dozens of items per second (and co-views explode).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { printTable, writeResult } from './harness.ts';

const DURATION_S = Number(process.env.DURATION_S ?? 10);
const WARMUP_S = Number(process.env.WARMUP_S ?? 2);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const BATCH = Number(process.env.BATCH ?? 100);
const ITEMS = Number(process.env.ITEMS ?? 1000);
const USERS = Number(process.env.USERS ?? 500_000);
const TARGET = Number(process.env.TARGET ?? 100_000);
const LOG_LEVEL = process.env.LOG_LEVEL ?? 'info';

const SINK = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString());
    const n = Array.isArray(body.events) ? body.events.length : 1;
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ accepted: n, duplicates: 0 }));
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ msg: 'listening', port: server.address().port })));
`;

function start(args: string[], env: NodeJS.ProcessEnv): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += String(d);
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line) {
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        resolve({ proc, port: JSON.parse(line).port as number });
      }
    };
    proc.stdout!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`server exited ${code} before listening`)));
  });
}

/** Zipf-like popularity: a few items get most views, as on a real content platform. */
function pickItem(): number {
  return Math.min(ITEMS - 1, Math.floor(ITEMS * Math.random() ** 3));
}

let counter = 0;
const runId = Date.now().toString(36);
function body(): string {
  const now = Date.now();
  const parts: string[] = new Array(BATCH);
  for (let i = 0; i < BATCH; i++) {
    parts[i] =
      `{"id":"${runId}-${counter++}","type":"view","contentId":"item-${pickItem()}",` +
      `"userId":"user-${Math.floor(Math.random() * USERS)}","ts":${now}}`;
  }
  return `{"events":[${parts.join(',')}]}`;
}

interface LoadResult {
  events: number;
  requests: number;
  errors: number;
  seconds: number;
  eventsPerSecond: number;
  p50ms: number;
  p99ms: number;
}

async function load(port: number, seconds: number, measure: boolean): Promise<LoadResult> {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS, pipelining: 1 });
  const deadline = Date.now() + seconds * 1000;
  let events = 0;
  let requests = 0;
  let errors = 0;
  const latencies: number[] = [];
  const started = performance.now();
  async function worker(): Promise<void> {
    while (Date.now() < deadline) {
      const t0 = performance.now();
      try {
        const res = await pool.request({
          path: '/analytics/events',
          method: 'POST',
          // A server-side producer's identity, as the gateway forwards it: any user, no quota.
          headers: {
            'content-type': 'application/json',
            'x-user-id': 'svc_bench',
            'x-user-role': 'viewer',
            'x-user-scope': 'analytics:write',
          },
          body: body(),
        });
        const json = (await res.body.json()) as { accepted?: number };
        if (res.statusCode === 202) {
          events += json.accepted ?? 0;
          requests++;
          if (measure) latencies.push(performance.now() - t0);
        } else errors++;
      } catch {
        errors++;
      }
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const elapsed = (performance.now() - started) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  return {
    events,
    requests,
    errors,
    seconds: elapsed,
    eventsPerSecond: events / elapsed,
    p50ms: q(0.5),
    p99ms: q(0.99),
  };
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.on('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

/** Waits until the projector has applied everything; with `push`, reads drive it (catch-up). */
async function drained(base: string, push = false): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < 12_000; i++) {
    const { lag } = (await (await fetch(`${base}/analytics/status`)).json()) as { lag: number };
    if (lag === 0) break;
    if (push) await (await fetch(`${base}/analytics/trending?k=1`)).arrayBuffer();
    else await new Promise((r) => setTimeout(r, 50));
  }
  return (performance.now() - t0) / 1000;
}

/**
 * PROJECTION=deferred measures ingest alone: the projector waits an hour before it starts, and
 * the read models are then built after the rounds, timed on their own (projection events/s).
 */
const DEFERRED = process.env.PROJECTION === 'deferred';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const dir = mkdtempSync(join(tmpdir(), 'bench-analytics-'));
const ROUNDS = Number(process.env.ROUNDS ?? 3);
try {
  const sink = await start(['-e', SINK], {});
  const nodeArgs = (process.env.ANALYTICS_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const analytics = await start(
    [...nodeArgs, join(import.meta.dirname, '..', 'runtime', 'analytics', 'src', 'main.ts')],
    {
      PORT: '0',
      DATA_DIR: join(dir, 'analytics'),
      LOG_LEVEL,
    },
  );
  const base = `http://127.0.0.1:${analytics.port}`;
  let acknowledged = (await load(analytics.port, WARMUP_S, false)).events;
  await load(sink.port, WARMUP_S, false);

  // Interleaved rounds so machine noise (other processes on this host) hits both alike. Before
  // each reference round the projector is allowed to drain, so it does not slow the reference.
  const refs: LoadResult[] = [];
  const runs: LoadResult[] = [];
  const drains: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const run = await load(analytics.port, DURATION_S, true);
    acknowledged += run.events;
    runs.push(run);
    if (!DEFERRED) drains.push(await drained(base));
    refs.push(await load(sink.port, DURATION_S, true));
  }
  let projectionEventsPerSecond: number | undefined;
  if (DEFERRED) {
    const seconds = await drained(base, true);
    projectionEventsPerSecond = acknowledged / seconds;
    console.log(`deferred projection: ${acknowledged} events in ${seconds.toFixed(1)} s`);
  }
  const top = (
    (await (await fetch(`${base}/analytics/trending?window=1h&k=100`)).json()) as {
      items: { views: number }[];
    }
  ).items;
  const stats = (await (await fetch(`${base}/analytics/status`)).json()) as {
    projected: { applied: number };
  };
  await stop(analytics.proc);
  await stop(sink.proc);

  const pick = (xs: LoadResult[]) => {
    const m = median(xs.map((x) => x.eventsPerSecond));
    return xs.find((x) => x.eventsPerSecond === m)!;
  };
  const reference = pick(refs);
  const result = pick(runs);
  const ratio = result.eventsPerSecond / reference.eventsPerSecond;
  const row = (name: string, x: LoadResult) => [
    name,
    Math.round(x.eventsPerSecond),
    Math.round(x.requests / x.seconds),
    x.p50ms.toFixed(1),
    x.p99ms.toFixed(1),
    x.errors,
  ];
  printTable(
    ['server (median of rounds)', 'events/s acked', 'req/s', 'p50 ms', 'p99 ms', 'errors'],
    [row('node:http parse+202 (reference)', reference), row('analytics', result)],
  );
  console.log(
    `\nrounds: analytics ${runs.map((x) => Math.round(x.eventsPerSecond)).join(', ')}; ` +
      `reference ${refs.map((x) => Math.round(x.eventsPerSecond)).join(', ')}`,
  );
  console.log(
    `ratio analytics/reference ${ratio.toFixed(2)}; ` +
      (DEFERRED
        ? ''
        : `projection drained ${drains.map((d) => d.toFixed(1)).join(', ')} s after each round; `) +
      `applied ${stats.projected.applied} of ${acknowledged} acknowledged (top-100 items hold ${top.reduce((s, i) => s + i.views, 0)} views)`,
  );
  const file = writeResult(DEFERRED ? 'runtime-analytics-deferred' : 'runtime-analytics', {
    config: {
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      rounds: ROUNDS,
      connections: CONNECTIONS,
      batch: BATCH,
      items: ITEMS,
      users: USERS,
      logLevel: LOG_LEVEL,
      projection: DEFERRED ? 'deferred' : 'concurrent',
    },
    reference,
    analytics: result,
    rounds: { analytics: runs, reference: refs, projectionDrainSeconds: drains },
    ratio,
    projectionEventsPerSecond,
    acknowledgedTotal: acknowledged,
    appliedTotal: stats.projected.applied,
    target: TARGET,
  });
  console.log(`${Math.round(result.eventsPerSecond)} events/s acknowledged (target >= ${TARGET}) — ${file}`);
  process.exitCode = result.eventsPerSecond >= TARGET && stats.projected.applied === acknowledged ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
