/**
 * bench:analytics-soak — sustained maximum ingest through the gateway into the analytics service
 * for SOAK_S seconds (300), sampling every SAMPLE_S (10) seconds: events/s acknowledged (202),
 * projection lag (`/analytics/status` lagSeconds: age of the oldest unapplied batch), the
 * analytics process's RSS (all its threads) and the load average. Afterwards it waits for the
 * projector to drain and checks that every acknowledged event was applied exactly once.
 *
 * Targets (issue #21): lag < 2 s at the end (both in the last sample under load and once the
 * clients have stopped; the maximum is reported beside them), RSS < 512 MiB and flat (< 10 %
 * growth over the last 4 minutes, i.e. from the 60 s sample to the last), every acknowledged
 * event applied.
 *
 * Traffic: CONNECTIONS (32) keep-alive clients post batches of BATCH (100) `view` events with
 * random UUID ids (the costly case for the dedup structures), over ITEMS (10000) items with
 * Zipf-like popularity and USERS (1000000) users — enough distinct users and items that any
 * structure growing with them shows within minutes. A batch refused with 503 and Retry-After
 * (admission control while the projector catches up) is sent again after that wait, so only what
 * the service acknowledged (202) counts. The gateway runs with its defaults (access
 * log on) and verifies a bearer JWT on every request: a server-side producer's service token with
 * the `analytics:write` scope (signed here, its key served as the JWKS the gateway fetches), as
 * the analytics service only accepts events from a verified caller. The analytics service runs
 * with its defaults, and with the V8 options `up` gives it (node-options.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { ANALYTICS_NODE_OPTIONS } from '../runtime/analytics/src/node-options.ts';
import { freePort } from '../src/core/ports.ts';
import { benchSigner, serveJwks } from './bench-token.ts';
import { printTable, writeResult } from './harness.ts';

const SOAK_S = Number(process.env.SOAK_S ?? 300);
const SAMPLE_S = Number(process.env.SAMPLE_S ?? 10);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const BATCH = Number(process.env.BATCH ?? 100);
const ITEMS = Number(process.env.ITEMS ?? 10_000);
const USERS = Number(process.env.USERS ?? 1_000_000);
const ROOT = join(import.meta.dirname, '..');

const dir = mkdtempSync(join(tmpdir(), 'bench-soak-'));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not become ready`);
}

function startNode(
  name: string,
  main: string,
  env: Record<string, string>,
  args: string[] = [],
): ChildProcess {
  const out = openSync(join(dir, `${name}.log`), 'w');
  const c = spawn(process.execPath, [...args, main], {
    env: { ...process.env, ...env },
    stdio: ['ignore', out, out],
  });
  children.push(c);
  return c;
}

function pickItem(): number {
  return Math.min(ITEMS - 1, Math.floor(ITEMS * Math.random() ** 3));
}

function body(now: number): string {
  const parts: string[] = new Array(BATCH);
  for (let i = 0; i < BATCH; i++) {
    parts[i] =
      `{"id":"${randomUUID()}","type":"view","contentId":"item-${pickItem()}",` +
      `"userId":"user-${Math.floor(Math.random() * USERS)}","ts":${now}}`;
  }
  return `{"events":[${parts.join(',')}]}`;
}

interface Status {
  lag: number;
  lagSeconds: number;
  acknowledged: number;
  projected: { applied: number };
  memory: { heapBytes: number; projectorHeapBytes: number };
}

async function status(base: string): Promise<Status> {
  return (await (await fetch(`${base}/analytics/status`)).json()) as Status;
}

/** A JWKS endpoint with one signing key, and a producer token signed with it. */
async function producerToken(): Promise<{ jwksUrl: string; token: string; close: () => void }> {
  const signer = await benchSigner('soak');
  const served = await serveJwks(signer.jwks);
  const token = await signer.token('svc_soak-producer', { role: 'viewer', scope: 'analytics:write' });
  return { jwksUrl: served.url, token, close: served.close };
}

const auth = await producerToken();
try {
  const analyticsPort = await freePort();
  const gatewayPort = await freePort();
  const analytics = startNode(
    'analytics',
    join(ROOT, 'runtime', 'analytics', 'src', 'main.ts'),
    {
      PORT: String(analyticsPort),
      DATA_DIR: join(dir, 'analytics'),
      ANALYTICS_CONSUME: 'false',
      // Extra settings for experiments, e.g. ANALYTICS_ENV="ANALYTICS_RECENT_USERS=1000".
      ...Object.fromEntries(
        (process.env.ANALYTICS_ENV ?? '')
          .split(' ')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
      ),
    },
    // The V8 options `up` starts analytics with, unless ANALYTICS_NODE_ARGS says otherwise ('' for none).
    (process.env.ANALYTICS_NODE_ARGS ?? ANALYTICS_NODE_OPTIONS).split(' ').filter(Boolean),
  );
  const analyticsBase = `http://127.0.0.1:${analyticsPort}`;
  await waitReady(`${analyticsBase}/readyz`, analytics);
  const gwConfig = join(dir, 'gateway.json');
  writeFileSync(
    gwConfig,
    JSON.stringify({
      routes: [{ prefix: '/analytics', service: 'analytics' }],
      services: { analytics: { instances: [{ id: 'analytics-1', url: analyticsBase, version: 'v1' }] } },
    }),
  );
  const gateway = startNode('gateway', join(ROOT, 'runtime', 'gateway', 'src', 'main.ts'), {
    PORT: String(gatewayPort),
    GATEWAY_CONFIG: gwConfig,
    DATA_DIR: join(dir, 'gateway'),
    AUTH_JWKS_URL: auth.jwksUrl,
  });
  await waitReady(`http://127.0.0.1:${gatewayPort}/readyz`, gateway);

  const pool = new Pool(`http://127.0.0.1:${gatewayPort}`, { connections: CONNECTIONS, pipelining: 1 });
  let acknowledged = 0;
  let errors = 0;
  /** 503 INGEST_LAGGING answers: admission control while the projector catches up. */
  let refused = 0;
  const deadline = Date.now() + SOAK_S * 1000;
  async function client(): Promise<void> {
    let pending: string | undefined;
    while (Date.now() < deadline) {
      try {
        // A refused batch is sent again after Retry-After, as a producer would (same ids, so a
        // batch that was in fact logged is answered as duplicates, never counted twice).
        pending ??= body(Date.now());
        const res = await pool.request({
          path: '/analytics/events',
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${auth.token}` },
          body: pending,
        });
        const json = (await res.body.json()) as { accepted?: number; code?: string };
        if (res.statusCode === 202) {
          acknowledged += json.accepted ?? 0;
          pending = undefined;
        } else if (res.statusCode === 503 && res.headers['retry-after'] !== undefined) {
          refused++;
          const waitMs = Number(res.headers['retry-after']) * 1000;
          await new Promise((r) => setTimeout(r, Math.min(waitMs, Math.max(0, deadline - Date.now()))));
        } else {
          pending = undefined;
          if (errors++ === 0) console.error(`first error: HTTP ${res.statusCode} ${JSON.stringify(json)}`);
        }
      } catch {
        errors++;
      }
    }
  }

  interface Sample {
    t: number;
    eventsPerSecond: number;
    refused: number;
    lagSeconds: number;
    rssMiB: number;
    load1: number;
  }
  const samples: Sample[] = [];
  const started = Date.now();
  const sampler = (async () => {
    let lastAck = 0;
    let lastRefused = 0;
    let lastAt = started;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, Math.min(SAMPLE_S * 1000, Math.max(0, deadline - Date.now()))));
      const now = Date.now();
      const s = await status(analyticsBase);
      const sample = {
        t: Math.round((now - started) / 1000),
        eventsPerSecond: Math.round(((acknowledged - lastAck) * 1000) / (now - lastAt)),
        refused: refused - lastRefused,
        lagSeconds: s.lagSeconds,
        rssMiB: Math.round(rssMiB(analytics.pid!)),
        load1: Number(loadavg()[0]!.toFixed(1)),
      };
      samples.push(sample);
      console.error(
        `t=${sample.t}s ${sample.eventsPerSecond} events/s (${sample.refused} batches refused), lag ${sample.lagSeconds.toFixed(2)} s, rss ${sample.rssMiB} MiB ` +
          `(V8 heaps: main ${Math.round(s.memory.heapBytes / 2 ** 20)}, projector ${Math.round(s.memory.projectorHeapBytes / 2 ** 20)} MiB), load ${sample.load1}`,
      );
      lastAck = acknowledged;
      lastRefused = refused;
      lastAt = now;
    }
  })();
  await Promise.all([...Array.from({ length: CONNECTIONS }, client), sampler]);
  await pool.close();
  const end = await status(analyticsBase);
  const endLag = end.lagSeconds;
  const drainStart = Date.now();
  let final = end;
  while (final.lag > 0 && Date.now() - drainStart < 600_000) {
    await new Promise((r) => setTimeout(r, 200));
    final = await status(analyticsBase);
  }
  const drainSeconds = (Date.now() - drainStart) / 1000;
  // The applied count arrives from the projector thread just after its commit is visible.
  for (let i = 0; i < 50 && final.projected.applied < acknowledged; i++) {
    await new Promise((r) => setTimeout(r, 100));
    final = await status(analyticsBase);
  }

  printTable(
    ['t s', 'events/s acked', 'batches refused', 'lag s', 'RSS MiB', 'load avg'],
    samples.map((s) => [s.t, s.eventsPerSecond, s.refused, s.lagSeconds.toFixed(2), s.rssMiB, s.load1]),
  );
  const at60 = samples.find((s) => s.t >= 60) ?? samples[0]!;
  const last = samples[samples.length - 1]!;
  const growth = (last.rssMiB - at60.rssMiB) / at60.rssMiB;
  const maxRss = Math.max(...samples.map((s) => s.rssMiB));
  const meanRate = acknowledged / SOAK_S;
  const allApplied = final.projected.applied === acknowledged && final.acknowledged === acknowledged;
  // "At the end" is read twice: the last sample, taken under full load, and once the clients have
  // stopped (which alone could read low while the lag under load was high).
  const lastLag = last.lagSeconds;
  const maxLag = Math.max(...samples.map((s) => s.lagSeconds));
  const met = {
    lag: lastLag < 2 && endLag < 2,
    rssFlat: growth < 0.1,
    rssBelow512: maxRss < 512,
    allApplied,
  };
  console.log(
    `\n${acknowledged} events acknowledged in ${SOAK_S} s (${Math.round(meanRate)}/s mean), ${errors} errors, ` +
      `${refused} batches refused with 503 INGEST_LAGGING (retried after Retry-After); ` +
      `lag at the last sample under load ${lastLag.toFixed(2)} s and after the clients stopped ${endLag.toFixed(2)} s (target < 2), at most ${maxLag.toFixed(2)} s, drained ${drainSeconds.toFixed(1)} s later; ` +
      `RSS ${at60.rssMiB} MiB at ${at60.t} s -> ${last.rssMiB} MiB at ${last.t} s (${(growth * 100).toFixed(1)} %, target < 10 %), ` +
      `max ${maxRss} MiB (target < 512); applied ${final.projected.applied} of ${acknowledged} acknowledged`,
  );
  const file = writeResult('analytics-soak', {
    config: {
      soakS: SOAK_S,
      sampleS: SAMPLE_S,
      connections: CONNECTIONS,
      batch: BATCH,
      items: ITEMS,
      users: USERS,
    },
    acknowledged,
    errors,
    refused,
    meanEventsPerSecond: meanRate,
    samples,
    endLagSeconds: endLag,
    lastSampleLagSeconds: lastLag,
    maxLagSeconds: maxLag,
    drainSeconds,
    rssGrowthLast4Min: growth,
    maxRssMiB: maxRss,
    applied: final.projected.applied,
    met,
  });
  console.log(`${Object.values(met).every(Boolean) ? 'all targets met' : 'targets missed'} -> ${file}`);
  process.exitCode = Object.values(met).every(Boolean) ? 0 : 1;
} finally {
  for (const c of children) {
    if (c.exitCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  }
  auth.close();
  rmSync(dir, { recursive: true, force: true });
}
