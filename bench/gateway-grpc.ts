/**
 * bench:gateway-grpc — what the gateway's gRPC proxy costs a unary call, next to what its HTTP/1.1
 * proxy costs a GET, measured side by side in one run with the load average printed:
 * - one child process serves the same tiny answer as a gRPC unary call (@grpc/grpc-js) and as an
 *   HTTP GET (node:http); the gateway runs as its own process (`node runtime/gateway/src/main.ts`)
 *   routing both;
 * - a closed loop of CONCURRENCY calls in flight for DURATION seconds, in alternating rounds:
 *   gRPC straight to the upstream, gRPC through the gateway, HTTP straight, HTTP through the gateway.
 *   gRPC is sent with node:http2 on one session (what a gRPC client does), HTTP with undici.
 * Ratios are what to read; absolute figures depend on the machine's load.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:http2';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { median, printTable, writeResult } from './harness.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DURATION_S = Number(process.env.DURATION ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const PROTO_DIR = join(import.meta.dirname, '..', 'runtime', 'gateway', 'test', 'fixtures', 'proto');
const MAIN = join(import.meta.dirname, '..', 'runtime', 'gateway', 'src', 'main.ts');

/** A SayRequest { text: "hello" } in gRPC framing. */
const FRAME = (() => {
  const msg = Buffer.concat([Buffer.from([0x0a, 5]), Buffer.from('hello')]);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(msg.length, 1);
  return Buffer.concat([head, msg]);
})();

interface Result {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

function summarise(latencies: number[], failed: number, seconds: number): Result {
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { perSecond: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99), failed };
}

/** Unary calls on one HTTP/2 session, CONCURRENCY at a time, for DURATION seconds. */
async function grpcLoop(origin: string): Promise<Result> {
  const session = connect(origin);
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  const latencies: number[] = [];
  let failed = 0;
  const end = performance.now() + DURATION_S * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const s = session.request({
        ':method': 'POST',
        ':path': '/platform.echo.v1.Echo/Say',
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let status = '';
      s.on('response', (h) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      });
      s.on('trailers', (t) => {
        status = String(t['grpc-status']);
      });
      s.on('error', () => {});
      s.resume();
      s.on('close', () => {
        if (status === '0') latencies.push(performance.now() - t0);
        else failed++;
        resolve();
      });
      s.end(FRAME);
    });
  const worker = async () => {
    while (performance.now() < end) await one();
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t) / 1000;
  session.close();
  return summarise(latencies, failed, seconds);
}

/** GETs over kept-alive HTTP/1.1 connections, CONCURRENCY at a time, for DURATION seconds. */
async function httpLoop(origin: string, path: string): Promise<Result> {
  const pool = new Pool(origin, { connections: CONCURRENCY, pipelining: 1 });
  const latencies: number[] = [];
  let failed = 0;
  const end = performance.now() + DURATION_S * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await pool.request({ method: 'GET', path });
        await r.body.dump();
        if (r.statusCode === 200) latencies.push(performance.now() - t0);
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - t) / 1000;
  await pool.close();
  return summarise(latencies, failed, seconds);
}

async function startChild(args: string[], env: Record<string, string>, ready: RegExp) {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const found = out.split('\n').find((l) => ready.test(l));
      if (found) resolve(found);
    });
  });
  return { child, line };
}

async function main(): Promise<void> {
  const upstream = await startChild([import.meta.filename, 'serve'], {}, /"grpc"/);
  const { grpc, http } = JSON.parse(upstream.line) as { grpc: string; http: string };
  const dir = mkdtempSync(join(tmpdir(), 'bench-gw-grpc-'));
  const config = join(dir, 'gateway.json');
  writeFileSync(
    config,
    JSON.stringify({
      routes: [
        { prefix: '/echo', service: 'echo', auth: 'none' },
        { prefix: '/api', service: 'api', auth: 'none' },
      ],
      services: {
        echo: { instances: [{ id: 'echo-1', url: grpc, version: 'v1' }] },
        api: { instances: [{ id: 'api-1', url: http, version: 'v1' }] },
      },
    }),
  );
  const gateway = await startChild(
    [MAIN],
    {
      PORT: '0',
      GATEWAY_CONFIG: config,
      DATA_DIR: join(dir, 'data'),
      ACCESS_LOG: 'false',
      GRPC_PROTO_DIRS: PROTO_DIR,
      MAX_CONNECTIONS_PER_CLIENT: '0',
    },
    /"listening"/,
  );
  const gw = `http://127.0.0.1:${(JSON.parse(gateway.line) as { port: number }).port}`;
  const kinds = {
    'gRPC direct': () => grpcLoop(grpc),
    'gRPC via gateway': () => grpcLoop(gw),
    'HTTP direct': () => httpLoop(http, '/api/x'),
    'HTTP via gateway': () => httpLoop(gw, '/api/x'),
  };
  const runs: Record<string, Result[]> = {};
  const loads: number[] = [];
  try {
    // Warm-up: JIT, connections, the gateway's sessions.
    for (const run of Object.values(kinds)) await run();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, run] of Object.entries(kinds)) {
        loads.push(loadavg()[0] as number);
        const result = await run();
        runs[name] = [...(runs[name] ?? []), result];
      }
    }
  } finally {
    gateway.child.kill('SIGTERM');
    upstream.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (name: string, key: keyof Result) => median((runs[name] ?? []).map((r) => r[key]));
  const rows = Object.keys(kinds).map((name) => [
    name,
    Math.round(med(name, 'perSecond')),
    med(name, 'p50Ms').toFixed(2),
    med(name, 'p99Ms').toFixed(2),
    (runs[name] ?? []).reduce((n, r) => n + r.failed, 0),
  ]);
  printTable(
    [`${CONCURRENCY} in flight, ${DURATION_S} s x ${ROUNDS}`, 'calls/s', 'p50 ms', 'p99 ms', 'failed'],
    rows,
  );
  const ratio = (a: string, b: string) => med(a, 'perSecond') / med(b, 'perSecond');
  const ratios = {
    grpcGatewayOverDirect: ratio('gRPC via gateway', 'gRPC direct'),
    httpGatewayOverDirect: ratio('HTTP via gateway', 'HTTP direct'),
    grpcOverHttpViaGateway: ratio('gRPC via gateway', 'HTTP via gateway'),
  };
  const load = { min: Math.min(...loads), max: Math.max(...loads) };
  process.stdout.write(
    `throughput via gateway / direct: gRPC ${ratios.grpcGatewayOverDirect.toFixed(2)}, HTTP ${ratios.httpGatewayOverDirect.toFixed(2)}; gRPC / HTTP via gateway ${ratios.grpcOverHttpViaGateway.toFixed(2)}\n` +
      `load average (1 min) during the rounds: ${load.min.toFixed(1)}-${load.max.toFixed(1)}\n`,
  );
  writeResult('gateway-grpc', {
    rounds: ROUNDS,
    durationS: DURATION_S,
    concurrency: CONCURRENCY,
    runs,
    ratios,
    load,
  });
}

if (process.argv[2] === 'serve') {
  const { echoGrpcUpstream } = await import('../runtime/gateway/test/grpc-helpers.ts');
  const grpc = await echoGrpcUpstream('bench-1', 'v1');
  const body = JSON.stringify({ text: 'hello' });
  const http = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const address = http.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ grpc: grpc.url, http: `http://127.0.0.1:${address.port}` })}\n`);
  process.on('SIGTERM', () => process.exit(0));
} else {
  await main();
}
