/**
 * bench:abuse — the image-variant attack of issue 17 against the real content service behind the
 * real gateway, while a steady client reads a cached variant and a raw file through the gateway.
 *
 * Phases run back to back in one run, so the machine's background load hits all of them alike:
 *   quiet            the steady client alone (the reference)
 *   attack/unsigned  + 16 loops asking a 7000×7000 image for distinct widths/qualities in AVIF,
 *                    unsigned (what anyone can send; the default policy refuses them)
 *   quiet            the steady client alone again (recovery: content must not keep encoding)
 *   attack/signed    + the same 16 loops with valid signatures: the worst case, an attacker who
 *                    holds signed URLs, which only the bounded transform queue stops
 * For each phase: the steady client's p50/p99 and errors, the attack's answers, content's peak
 * RSS (sampled from /proc every 100 ms), failed content /healthz probes, gateway ejections, and
 * the 1-minute load average beside it. The gateway runs with what `up` gives it (the anonymous
 * rate limit, 50/s per address); the attacker connects from 127.0.0.2, the steady client from
 * 127.0.0.1. Targets: steady p99 under attack ≤ 2× quiet p99, no 5xx for cached reads, content peak
 * RSS < 512 MB, content healthy throughout.
 *
 * Env: PHASE_S (20), LOOPS (16), STEADY_RPS (20), SRC (7000, the source image's side).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { Agent, request } from 'undici';
import { signVariant } from '../runtime/content/src/variant-policy.ts';
import { GATEWAY_UP_DEFAULTS } from '../src/providers/local/edge-defaults.ts';
import { printTable, writeResult } from './harness.ts';

const PHASE_S = Number(process.env.PHASE_S ?? 20);
const LOOPS = Number(process.env.LOOPS ?? 16);
const STEADY_RPS = Number(process.env.STEADY_RPS ?? 20);
const SRC = Number(process.env.SRC ?? 7000);
const RUNTIME = join(import.meta.dirname, '..', 'runtime');
const ADMIN_TOKEN = 'bench-abuse-admin-token-0123456789';
const SIGNING_KEY = 'bench-abuse-variant-signing-key-0123456789';

interface Proc {
  proc: ChildProcess;
  port: number;
}

/** Starts `node runtime/<name>/src/main.ts` on an ephemeral port; resolves once it logs `listening`. */
function start(name: string, env: Record<string, string>): Promise<Proc> {
  const proc = spawn(process.execPath, ['--no-warnings', join(RUNTIME, name, 'src', 'main.ts')], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not log "listening" within 30 s`)), 30_000);
    let out = '';
    const onData = (d: Buffer) => {
      out += String(d);
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (!line) return;
      clearTimeout(timer);
      proc.stdout?.off('data', onData);
      proc.stdout?.resume();
      resolve({ proc, port: JSON.parse(line).port as number });
    };
    proc.stdout?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${name} exited ${code} before listening`)));
  });
}

async function stop(p: Proc): Promise<void> {
  if (p.proc.exitCode !== null) return;
  const exited = new Promise((r) => p.proc.once('exit', r));
  p.proc.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** A photo-like square: gradients plus noise, so the JPEG and its decode cost are realistic. */
async function bigImage(side: number): Promise<Buffer> {
  const base = sharp({
    create: {
      width: side,
      height: side,
      channels: 3,
      background: '#4a7',
      noise: { type: 'gaussian', mean: 128, sigma: 30 },
    },
  });
  return base.jpeg({ quality: 70 }).toBuffer();
}

interface AttackJob {
  gw: string;
  bigId: string;
  signed: boolean;
  deadline: number;
  loops: number;
}

/** Runs the attack loops in a worker thread; resolves with the answers they got, by status. */
function runAttacker(job: AttackJob): Promise<Record<string, number>> {
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

/** The attack: `loops` closed loops of distinct AVIF variants, never honouring Retry-After. */
async function attackLoops(job: AttackJob): Promise<Record<string, number>> {
  // The attacker comes from another address (127.0.0.2 is loopback too), so the gateway's
  // per-address limits tell it from the steady client, as they would two hosts.
  const agent = new Agent({ connections: job.loops, connect: { localAddress: '127.0.0.2' } });
  const answers: Record<string, number> = {};
  let width = 100;
  await Promise.all(
    Array.from({ length: job.loops }, async () => {
      while (Date.now() < job.deadline) {
        width = (width % 3900) + 101;
        const query = { w: String(width), q: String(51 + (width % 40)), format: 'avif' };
        const sig = job.signed ? `&sig=${signVariant(job.bigId, query, SIGNING_KEY)}` : '';
        const path = `/content/${job.bigId}/variant?${new URLSearchParams(query)}${sig}`;
        try {
          const r = await request(`${job.gw}${path}`, {
            dispatcher: agent,
            headersTimeout: 60_000,
            bodyTimeout: 60_000,
          });
          await r.body.dump();
          answers[r.statusCode] = (answers[r.statusCode] ?? 0) + 1;
        } catch (err) {
          const code = (err as { code?: string }).code ?? 'error';
          answers[code] = (answers[code] ?? 0) + 1;
        }
      }
    }),
  );
  await agent.close();
  return answers;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-abuse-'));
  const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  const procs: Proc[] = [];
  try {
    console.log(`load average at start ${loadavg()[0]!.toFixed(1)}; making a ${SRC}×${SRC} JPEG…`);
    const big = await bigImage(SRC);
    const small = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#a47' } })
      .jpeg()
      .toBuffer();

    const content = await start('content', {
      DATA_DIR: join(dir, 'content'),
      CONTENT_VARIANT_KEYS: SIGNING_KEY,
      MAX_UPLOAD_BYTES: String(200 * 1024 * 1024),
    });
    procs.push(content);
    const contentUrl = `http://127.0.0.1:${content.port}`;
    const config = join(dir, 'gateway.json');
    writeFileSync(
      config,
      JSON.stringify({
        routes: [{ prefix: '/content', service: 'content', auth: 'none', maxBodyBytes: 200 * 1024 * 1024 }],
        services: { content: { instances: [{ id: 'content-1', url: contentUrl }] } },
      }),
    );
    const gateway = await start('gateway', {
      // What `up` gives the built-in gateway (the anonymous rate limit).
      ...GATEWAY_UP_DEFAULTS,
      GATEWAY_CONFIG: config,
      ADMIN_TOKEN,
      ACCESS_LOG: 'false',
      DATA_DIR: join(dir, 'gateway'),
    });
    procs.push(gateway);
    const gw = `http://127.0.0.1:${gateway.port}`;

    const put = async (body: Buffer) => {
      const r = await request(`${contentUrl}/content`, {
        method: 'POST',
        body,
        dispatcher,
        headers: { 'x-user-id': 'bench', 'x-user-role': 'editor' },
      });
      const json = (await r.body.json()) as { id: string };
      if (r.statusCode !== 201) throw new Error(`upload answered ${r.statusCode}: ${JSON.stringify(json)}`);
      return json.id;
    };
    const bigId = await put(big);
    const smallId = await put(small);
    const cachedPath = `/content/${bigId}/variant?preset=thumb&format=webp`;
    const rawPath = `/content/${smallId}/raw`;
    for (const p of [cachedPath, rawPath]) {
      const r = await request(`${gw}${p}`, { dispatcher });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`warming ${p} answered ${r.statusCode}`);
    }

    type PhaseResult = {
      phase: string;
      load1: number;
      steady: { n: number; p50: number; p99: number; fiveXx: number; other: number };
      attack: Record<string, number>;
      peakRssMb: number;
      healthFailures: number;
    };
    const results: PhaseResult[] = [];

    async function phase(name: string, attack: 'none' | 'unsigned' | 'signed'): Promise<PhaseResult> {
      const deadline = Date.now() + PHASE_S * 1000;
      const latencies: number[] = [];
      let fiveXx = 0;
      let other = 0;
      const attackAnswers: Record<string, number> = {};
      let peak = rssMb(content.proc.pid!);
      let healthFailures = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMb(content.proc.pid!));
      }, 100);
      const health = setInterval(() => {
        request(`${contentUrl}/healthz`, { dispatcher, headersTimeout: 2000, bodyTimeout: 2000 }).then(
          async (r) => {
            await r.body.dump();
            if (r.statusCode !== 200) healthFailures++;
          },
          () => {
            healthFailures++;
          },
        );
      }, 500);
      // The steady client: an open model, STEADY_RPS requests per second whatever the answers take.
      const inflight = new Set<Promise<void>>();
      let turn = 0;
      const steady = setInterval(() => {
        const path = turn++ % 2 === 0 ? cachedPath : rawPath;
        const t0 = performance.now();
        const p = request(`${gw}${path}`, { dispatcher, headersTimeout: 30_000, bodyTimeout: 30_000 })
          .then(async (r) => {
            await r.body.dump();
            latencies.push(performance.now() - t0);
            if (r.statusCode >= 500) fiveXx++;
            else if (r.statusCode !== 200) other++;
          })
          .catch(() => {
            latencies.push(performance.now() - t0);
            fiveXx++;
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }, 1000 / STEADY_RPS);
      // The attacker runs on its own thread (its own event loop), as it would on its own host:
      // the steady client's latencies are then the platform's, not this process's queueing.
      const loops =
        attack === 'none'
          ? Promise.resolve({})
          : runAttacker({ gw, bigId, signed: attack === 'signed', deadline, loops: LOOPS });
      await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())));
      clearInterval(steady);
      Object.assign(attackAnswers, await loops);
      await Promise.allSettled([...inflight]);
      clearInterval(sampler);
      clearInterval(health);
      const sorted = latencies.sort((a, b) => a - b);
      const result: PhaseResult = {
        phase: name,
        load1: Number(loadavg()[0]!.toFixed(1)),
        steady: {
          n: sorted.length,
          p50: Number(quantile(sorted, 0.5).toFixed(1)),
          p99: Number(quantile(sorted, 0.99).toFixed(1)),
          fiveXx,
          other,
        },
        attack: attackAnswers,
        peakRssMb: Math.round(peak),
        healthFailures,
      };
      console.log(
        `${name}: steady p99 ${result.steady.p99} ms, 5xx ${fiveXx}, attack ${JSON.stringify(attackAnswers)}, ` +
          `peak RSS ${result.peakRssMb} MB, load ${result.load1}`,
      );
      return result;
    }

    results.push(await phase('quiet', 'none'));
    results.push(await phase('attack/unsigned', 'unsigned'));
    results.push(await phase('quiet (after)', 'none'));
    results.push(await phase('attack/signed', 'signed'));

    const state = (await (
      await request(`${gw}/admin/state`, { dispatcher, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).body.json()) as { services: { content: { instances: { ejections: number }[] } } };
    const ejections = state.services.content.instances.reduce((s, i) => s + i.ejections, 0);
    // Every distinct variant rendered is a file kept: the budget bounds those too.
    const variantFiles = readdirSync(join(dir, 'content'), { recursive: true, withFileTypes: true }).filter(
      (d) => d.isFile() && d.parentPath.includes('variants'),
    ).length;

    const quiet = results[0]!.steady.p99;
    printTable(
      [
        'phase',
        'load avg 1m',
        'steady n',
        'p50 ms',
        'p99 ms',
        'p99 / quiet',
        'steady 5xx',
        'attack answers',
        'content peak RSS MB',
        'health failures',
      ],
      results.map((r) => [
        r.phase,
        r.load1,
        r.steady.n,
        r.steady.p50,
        r.steady.p99,
        (r.steady.p99 / quiet).toFixed(2),
        r.steady.fiveXx,
        Object.entries(r.attack)
          .map(([k, v]) => `${k}:${v}`)
          .join(' ') || '-',
        r.peakRssMb,
        r.healthFailures,
      ]),
    );
    console.log(
      `gateway ejections of content over the run: ${ejections}; variant files kept: ${variantFiles}`,
    );
    const file = writeResult('abuse', {
      config: {
        phaseS: PHASE_S,
        loops: LOOPS,
        steadyRps: STEADY_RPS,
        source: `${SRC}x${SRC} JPEG (${big.length} bytes)`,
      },
      loadAverage: loadavg(),
      phases: results,
      ejections,
      variantFiles,
      targets: { p99Ratio: 2, peakRssMb: 512 },
    });
    console.log(`load average ${loadavg()[0]!.toFixed(1)} — ${file}`);
  } finally {
    await dispatcher.close().catch(() => undefined);
    for (const p of procs.reverse()) await stop(p);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMainThread) await main();
else parentPort?.postMessage(await attackLoops(workerData as AttackJob));
