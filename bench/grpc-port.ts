/**
 * bench:grpc-port — what serving gRPC on the REST port costs REST, and what a gRPC call costs next
 * to a REST request, measured side by side in one run with the load average printed:
 * - two kit services in their own processes, identical but for `grpc` (so only the second splits
 *   its connections by protocol): REST throughput over kept-alive connections (autocannon) and the
 *   latency of a request on a fresh connection each time (where the preface check runs), in
 *   alternating rounds;
 * - on the split service, the same tiny answer as a REST GET (undici, kept alive) and as a gRPC
 *   unary call (@grpc/grpc-js, one HTTP/2 connection), sequential, alternating blocks.
 * Ratios are what to read; absolute figures depend on the machine's load.
 */
import { execFileSync, spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Agent, request } from 'undici';
import { callUnary, grpcClient } from '../test/helpers/grpc.ts';
import { median, printTable, writeResult } from './harness.ts';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DURATION_S = Number(process.env.DURATION ?? 3);
const FRESH = Number(process.env.FRESH ?? 300);
const CALLS = Number(process.env.CALLS ?? 1000);
const PROTO = join(import.meta.dirname, '..', 'runtime', 'lib', 'test', 'fixtures', 'kit-echo.proto');
const SERVICE = 'platform.kittest.v1.Echo';

if (process.argv[2] === 'serve') {
  // The child: a kit service with GET /hello and, with `grpc`, the Echo service on the same port.
  const { createService } = await import('../runtime/lib/server.ts');
  const withGrpc = process.argv[3] === 'grpc';
  const service = await createService({
    name: withGrpc ? 'bench-split' : 'bench-plain',
    requestLogging: false,
    routes(app) {
      app.get('/hello', async () => ({ text: 'hello' }));
    },
    ...(withGrpc
      ? {
          grpc: () => [
            {
              proto: PROTO,
              service: SERVICE,
              handlers: {
                Say: async () => ({ text: 'hello' }),
                Slow: async () => ({ text: 'hello' }),
                Wait: async () => ({ text: 'hello' }),
                Collect: async () => ({ text: 'hello' }),
                Repeat: async function* () {},
              },
            },
          ],
        }
      : {}),
  });
  const { port } = await service.listen();
  process.stdout.write(`${port}\n`);
  process.on('SIGTERM', () => void service.close().then(() => process.exit(0)));
} else {
  await main();
}

async function serve(kind: 'plain' | 'grpc') {
  const child = spawn(process.execPath, [import.meta.filename, 'serve', kind], {
    env: {
      ...process.env,
      PORT: '0',
      LOG_LEVEL: 'warn',
      DATA_DIR: join(tmpdir(), `bench-grpc-port-${kind}-${process.pid}`),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`bench service exited ${code}`)));
  });
  return { port, stop: () => child.kill('SIGTERM') };
}

function autocannonRps(port: number): number {
  const require = createRequire(import.meta.url);
  const bin = join(dirname(require.resolve('autocannon/package.json')), 'autocannon.js');
  const out = execFileSync(
    process.execPath,
    [bin, '-c', '10', '-d', String(DURATION_S), '-j', `http://127.0.0.1:${port}/hello`],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  const r = JSON.parse(out) as {
    requests: { total: number };
    duration: number;
    non2xx: number;
    errors: number;
  };
  if (r.non2xx + r.errors > 0) throw new Error(`autocannon saw ${r.non2xx + r.errors} failures`);
  return r.requests.total / r.duration;
}

/** Milliseconds of each of `n` sequential GETs, each on a new connection. */
async function freshConnectionMs(port: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/hello', agent: false }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
    out.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return out;
}

async function main() {
  const plain = await serve('plain');
  const split = await serve('grpc');
  const loads: number[] = [loadavg()[0]!];
  const rps = { plain: [] as number[], split: [] as number[] };
  const fresh = { plain: [] as number[], split: [] as number[] };
  const rest: number[] = [];
  const grpcMs: number[] = [];
  const agent = new Agent({ connections: 1 });
  const client = grpcClient(`127.0.0.1:${split.port}`, PROTO, SERVICE);
  try {
    // Warm both (JIT, connection set-up) before measuring.
    autocannonRps(plain.port);
    autocannonRps(split.port);
    await freshConnectionMs(plain.port, 50);
    await freshConnectionMs(split.port, 50);
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which goes first, so a trend in the machine's load hits both alike.
      const order = round % 2 === 0 ? (['plain', 'split'] as const) : (['split', 'plain'] as const);
      for (const kind of order) rps[kind].push(autocannonRps(kind === 'plain' ? plain.port : split.port));
      for (const kind of order)
        fresh[kind].push(...(await freshConnectionMs(kind === 'plain' ? plain.port : split.port, FRESH)));
      for (let block = 0; block < CALLS / 100; block++) {
        for (let i = 0; i < 100; i++) {
          const t = process.hrtime.bigint();
          const res = await request(`http://127.0.0.1:${split.port}/hello`, { dispatcher: agent });
          await res.body.text();
          rest.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
        for (let i = 0; i < 100; i++) {
          const t = process.hrtime.bigint();
          const { error } = await callUnary(client, 'Say', { name: 'x' });
          if (error) throw error;
          grpcMs.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      }
      loads.push(loadavg()[0]!);
    }
  } finally {
    client.close();
    await agent.close();
    plain.stop();
    split.stop();
  }
  const p = (values: number[], q: number) =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length * q)] ?? Number.NaN;
  const rows: (string | number)[][] = [
    [
      'REST keep-alive req/s (autocannon -c 10)',
      median(rps.plain).toFixed(0),
      median(rps.split).toFixed(0),
      (median(rps.split) / median(rps.plain)).toFixed(3),
    ],
    [
      'REST new connection per request, median ms',
      median(fresh.plain).toFixed(3),
      median(fresh.split).toFixed(3),
      (median(fresh.split) / median(fresh.plain)).toFixed(3),
    ],
    [
      'REST new connection per request, p99 ms',
      p(fresh.plain, 0.99).toFixed(3),
      p(fresh.split, 0.99).toFixed(3),
      (p(fresh.split, 0.99) / p(fresh.plain, 0.99)).toFixed(3),
    ],
  ];
  printTable(['REST on a service', 'without gRPC', 'with gRPC (split)', 'ratio'], rows);
  console.log('');
  const callRows = [
    [
      'median ms',
      median(rest).toFixed(3),
      median(grpcMs).toFixed(3),
      (median(grpcMs) / median(rest)).toFixed(2),
    ],
    [
      'p99 ms',
      p(rest, 0.99).toFixed(3),
      p(grpcMs, 0.99).toFixed(3),
      (p(grpcMs, 0.99) / p(rest, 0.99)).toFixed(2),
    ],
  ];
  printTable(
    ['one sequential call, same answer', 'REST GET (undici)', 'gRPC unary (grpc-js)', 'ratio'],
    callRows,
  );
  const file = writeResult('grpc-port', {
    rounds: ROUNDS,
    loadAverage: loads,
    restRps: rps,
    freshConnectionMedianMs: { plain: median(fresh.plain), split: median(fresh.split) },
    sequentialMedianMs: { rest: median(rest), grpc: median(grpcMs) },
  });
  console.log(`\nload average (1 min) per round: ${loads.map((l) => l.toFixed(2)).join(' -> ')} — ${file}`);
}
