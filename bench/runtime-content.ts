/**
 * bench:runtime:content — image variants/s made by the content service over HTTP, against raw
 * sharp doing the same resize in a loop in this process (the reference). Both sides decode the
 * same JPEG, auto-orient, resize to the same widths (100 distinct ones, cycled, so no request can
 * be served by coalescing with an identical one) and encode WebP at the same quality, with the
 * same number of operations in flight. The service runs with CONTENT_VARIANT_CACHE=off so every
 * request really resizes (and still records a `content.viewed` event through its outbox, as in
 * production). Phases alternate (sharp, service, sharp, service, ...) so background noise on the
 * shared machine hits both alike; the ratio of the medians is the figure. Target: >= 0.8.
 *
 * On a machine shared with other busy processes, wall-clock throughput also depends on how many
 * runnable threads each side has when competing for the cores, so the benchmark also reports
 * variants per CPU-second (CPU time of the service process plus this client process, read from
 * /proc, against this process's CPU time for raw sharp): that ratio is robust to contention.
 *
 * Env: DURATION_S (2 per phase), ROUNDS (8), CONCURRENCY (4), WIDTH (200), SRC_W (1600), SRC_H (1200),
 * SHARP_CONCURRENCY (libvips threads per image, both sides; default sharp's).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Pool } from 'undici';
import { median, printTable, writeResult } from './harness.ts';

const DURATION_S = Number(process.env.DURATION_S ?? 2);
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const WIDTH = Number(process.env.WIDTH ?? 200);
const SRC_W = Number(process.env.SRC_W ?? 1600);
const SRC_H = Number(process.env.SRC_H ?? 1200);
const QUALITY = 80;
const TARGET = 0.8;
const ENTRY = join(import.meta.dirname, '..', 'runtime', 'content', 'src', 'main.ts');

/** A photo-like source: smooth gradients plus noise, so the JPEG has realistic entropy. */
async function sourceImage(): Promise<Buffer> {
  const px = Buffer.alloc(SRC_W * SRC_H * 3);
  let seed = 42;
  for (let y = 0; y < SRC_H; y++)
    for (let x = 0; x < SRC_W; x++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      const n = (seed >> 16) & 31;
      const i = (y * SRC_W + x) * 3;
      px[i] = ((x * 255) / SRC_W + n) & 255;
      px[i + 1] = ((y * 255) / SRC_H + n) & 255;
      px[i + 2] = (((x + y) * 128) / (SRC_W + SRC_H) + 64 + n) & 255;
    }
  return sharp(px, { raw: { width: SRC_W, height: SRC_H, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

function startService(dataDir: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, ['--no-warnings', ENTRY], {
    env: {
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      CONTENT_VARIANT_CACHE: 'off',
      // Distinct widths on purpose (see below), as many transforms at once as the reference runs,
      // and the same libvips threads per image as the reference.
      CONTENT_VARIANT_UNSIGNED: 'on',
      CONTENT_TRANSFORM_CONCURRENCY: String(CONCURRENCY),
      CONTENT_TRANSFORM_QUEUE: String(CONCURRENCY * 4),
      SHARP_CONCURRENCY: String(sharp.concurrency()),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    // The port is learnt from the `listening` log line (info level, always logged here).
    const timer = setTimeout(() => reject(new Error('content did not log "listening" within 30 s')), 30_000);
    let out = '';
    const onData = (d: Buffer) => {
      out += String(d);
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        proc.stdout!.resume(); // keep draining request logs
        resolve({ proc, port: JSON.parse(line).port as number });
      }
    };
    proc.stdout!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`content exited ${code} before listening`)));
  });
}

const CLK_TCK = 100;
/** CPU seconds (user + system, all threads) used so far by another process. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
const selfCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Runs `op` with CONCURRENCY in flight for DURATION_S; returns operations per wall second and per
 * CPU second (CPU of this process plus `otherPid`'s, when given).
 */
async function closedLoop(
  op: () => Promise<void>,
  otherPid?: number,
): Promise<{ wall: number; cpu: number; otherCpu: number }> {
  const end = performance.now() + DURATION_S * 1000;
  let done = 0;
  const start = performance.now();
  const other0 = otherPid ? cpuOf(otherPid) : 0;
  const self0 = selfCpu();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        await op();
        done++;
      }
    }),
  );
  const other = otherPid ? cpuOf(otherPid) - other0 : 0;
  const cpu = selfCpu() - self0 + other;
  return {
    wall: done / ((performance.now() - start) / 1000),
    cpu: done / cpu,
    otherCpu: other > 0 ? done / other : 0,
  };
}

// SHARP_CONCURRENCY (libvips threads per image) applies to both sides: the service reads it from
// the inherited environment.
if (process.env.SHARP_CONCURRENCY) sharp.concurrency(Number(process.env.SHARP_CONCURRENCY));
const src = await sourceImage();
const dir = mkdtempSync(join(tmpdir(), 'bench-content-'));
const { proc, port } = await startService(join(dir, 'content'));
const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONCURRENCY, pipelining: 1 });
try {
  const up = await pool.request({
    method: 'POST',
    path: '/content',
    headers: { 'x-user-id': 'bench', 'x-user-role': 'editor', 'content-type': 'application/octet-stream' },
    body: src,
  });
  const item = (await up.body.json()) as { id: string };
  if (up.statusCode !== 201) throw new Error(`upload failed: ${up.statusCode} ${JSON.stringify(item)}`);
  const path = (w: number) => `/content/${item.id}/variant?w=${w}&format=webp&q=${QUALITY}`;
  // Every request asks for a different width (cycling through 100 of them) so the service's
  // single-flight coalescing of identical concurrent requests cannot save work; the reference
  // cycles through the same widths.
  let nextService = 0;
  let nextSharp = 0;
  const width = (i: number) => WIDTH - 50 + (i % 100);

  const viaService = async () => {
    const r = await pool.request({ method: 'GET', path: path(width(nextService++)) });
    const body = Buffer.from(await r.body.arrayBuffer());
    if (r.statusCode !== 200 || body.length === 0) throw new Error(`variant failed: ${r.statusCode}`);
  };
  const rawSharp = async () => {
    const out = await sharp(src, { limitInputPixels: 50_000_000 })
      .autoOrient()
      .resize({ width: width(nextSharp++), fit: 'cover', withoutEnlargement: true })
      .webp({ quality: QUALITY })
      .toBuffer();
    if (out.length === 0) throw new Error('empty output');
  };

  // Same output from both paths (sanity), and warm-up of both.
  const check = await pool.request({ method: 'GET', path: path(WIDTH) });
  const meta = await sharp(Buffer.from(await check.body.arrayBuffer())).metadata();
  if (meta.width !== WIDTH || meta.format !== 'webp')
    throw new Error(`unexpected variant ${meta.width} ${meta.format}`);
  for (let i = 0; i < 10; i++) {
    await rawSharp();
    await viaService();
  }

  const sharpRates: number[] = [];
  const serviceRates: number[] = [];
  const sharpPerCpu: number[] = [];
  const servicePerCpu: number[] = [];
  const serviceOnlyPerCpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await closedLoop(rawSharp);
    sharpRates.push(a.wall);
    sharpPerCpu.push(a.cpu);
    const b = await closedLoop(viaService, proc.pid);
    serviceRates.push(b.wall);
    servicePerCpu.push(b.cpu);
    serviceOnlyPerCpu.push(b.otherCpu);
  }
  const refRate = median(sharpRates);
  const svcRate = median(serviceRates);
  const ratio = svcRate / refRate;
  const cpuRatio = median(servicePerCpu) / median(sharpPerCpu);
  console.log(
    `source ${SRC_W}x${SRC_H} JPEG (${(src.length / 1024).toFixed(0)} KiB) -> ${WIDTH - 50}..${WIDTH + 49}px WebP q${QUALITY}, ` +
      `${CONCURRENCY} in flight, ${ROUNDS} rounds x ${DURATION_S}s per side, sharp.concurrency=${sharp.concurrency()}\n`,
  );
  const rounds = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
  printTable(
    ['path', 'variants/s (median)', 'variants per CPU-s (median)', 'variants/s per round'],
    [
      ['raw sharp (in process)', refRate.toFixed(1), median(sharpPerCpu).toFixed(1), rounds(sharpRates)],
      ['content service (HTTP)', svcRate.toFixed(1), median(servicePerCpu).toFixed(1), rounds(serviceRates)],
      ['  of which service process', '', median(serviceOnlyPerCpu).toFixed(1), ''],
    ],
  );
  const file = writeResult('runtime-content', {
    source: { width: SRC_W, height: SRC_H, bytes: src.length },
    variant: { widths: [WIDTH - 50, WIDTH + 49], format: 'webp', quality: QUALITY },
    concurrency: CONCURRENCY,
    durationS: DURATION_S,
    rounds: ROUNDS,
    sharpConcurrency: sharp.concurrency(),
    loadAverage: loadavg(),
    rawSharpPerSecond: sharpRates,
    servicePerSecond: serviceRates,
    rawSharpPerCpuSecond: sharpPerCpu,
    servicePerCpuSecond: servicePerCpu,
    serviceProcessOnlyPerCpuSecond: serviceOnlyPerCpu,
    ratio,
    cpuRatio,
    target: TARGET,
  });
  console.log(
    `\nratio ${ratio.toFixed(2)} (target >= ${TARGET}); per CPU-second ${cpuRatio.toFixed(2)}; ` +
      `load average ${loadavg()[0]!.toFixed(1)} — ${file}`,
  );
  process.exitCode = ratio >= TARGET ? 0 : 1;
} finally {
  await pool.close();
  proc.kill('SIGTERM');
  await new Promise((r) => proc.once('exit', r));
  rmSync(dir, { recursive: true, force: true });
}
