/**
 * Real gRPC peers for the gateway's gRPC tests: @grpc/grpc-js upstreams serving the echo test
 * proto, a grpc-js client for it, and the gateway as a child process (`node src/main.ts`), the
 * way `up` runs it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';

export const PROTO_DIR = join(import.meta.dirname, 'fixtures', 'proto');
const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');

export interface SayRequest {
  text?: string;
  failWith?: number;
  delayMs?: number;
}
export interface SayReply {
  text: string;
  instance: string;
  version: string;
  userId: string;
  requestId: string;
  traceparent: string;
  grpcTimeout: string;
}

const definition = loader.loadSync(join(PROTO_DIR, 'echo.proto'), { keepCase: false, defaults: true });
// biome-ignore lint/suspicious/noExplicitAny: proto-loader's package objects are untyped by design.
const EchoService = (grpc.loadPackageDefinition(definition) as any).platform.echo.v1
  .Echo as grpc.ServiceClientConstructor;

function reply(
  call:
    | grpc.ServerUnaryCall<unknown, unknown>
    | grpc.ServerWritableStream<unknown, unknown>
    | grpc.ServerReadableStream<unknown, unknown>,
  text: string,
  instance: string,
  version: string,
): SayReply {
  const md = call.metadata;
  const one = (k: string) => String(md.get(k)[0] ?? '');
  return {
    text,
    instance,
    version,
    userId: one('x-user-id'),
    requestId: one('x-request-id'),
    traceparent: one('traceparent'),
    grpcTimeout: deadlineLeft(call.getDeadline()),
  };
}

/** The time left of the call's deadline (from the grpc-timeout it arrived with) as `<ms>m`; '' without one. */
function deadlineLeft(deadline: grpc.Deadline): string {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(at) ? `${Math.max(0, Math.round(at - Date.now()))}m` : '';
}

export interface GrpcUpstream {
  id: string;
  version: string;
  url: string;
  calls: number;
  /** Calls the client side cancelled before the answer. */
  cancelled: number;
  close(): Promise<void>;
}

/** An Echo server on a free 127.0.0.1 port, answering as instance `id` of `version`. */
export async function echoGrpcUpstream(id: string, version: string): Promise<GrpcUpstream> {
  const server = new grpc.Server();
  const state: GrpcUpstream = { id, version, url: '', calls: 0, cancelled: 0, close: async () => {} };
  server.addService(EchoService.service, {
    say: (call: grpc.ServerUnaryCall<SayRequest, SayReply>, done: grpc.sendUnaryData<SayReply>) => {
      state.calls++;
      call.on('cancelled', () => state.cancelled++);
      const { text = '', failWith = 0, delayMs = 0 } = call.request;
      setTimeout(() => {
        if (failWith) done({ code: failWith, details: `${id} fails on purpose` });
        else done(null, reply(call, text, id, version));
      }, delayMs);
    },
    count: (call: grpc.ServerWritableStream<{ n: number }, SayReply>) => {
      state.calls++;
      for (let i = 1; i <= call.request.n; i++) call.write(reply(call, String(i), id, version));
      call.end();
    },
    collect: (call: grpc.ServerReadableStream<SayRequest, SayReply>, done: grpc.sendUnaryData<SayReply>) => {
      state.calls++;
      const texts: string[] = [];
      call.on('data', (m: SayRequest) => texts.push(m.text ?? ''));
      call.on('end', () => done(null, reply(call, texts.join(','), id, version)));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  state.url = `http://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.forceShutdown();
      resolve();
    });
  return state;
}

export type EchoClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

/** A grpc-js client of the Echo service at `address` (host:port). */
export function echoClient(address: string): EchoClient {
  return new EchoService(address, grpc.credentials.createInsecure()) as unknown as EchoClient;
}

/** One unary Say call; resolves with the reply or the gRPC error (code, details). */
export function say(
  client: EchoClient,
  request: SayRequest,
  metadata: Record<string, string> = {},
  deadlineMs = 10_000,
): Promise<{ reply?: SayReply; code: number; details: string }> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve) => {
    (
      client.say as (
        r: SayRequest,
        m: grpc.Metadata,
        o: grpc.CallOptions,
        cb: grpc.requestCallback<SayReply>,
      ) => void
    )(request, md, { deadline: Date.now() + deadlineMs }, (err, value) => {
      if (err) resolve({ code: err.code, details: err.details });
      else resolve({ reply: value, code: 0, details: '' });
    });
  });
}

export interface GatewayProcess {
  /** host:port of the public listener (HTTP/1.1 and gRPC). */
  address: string;
  url: string;
  stdout: () => string;
  /** SIGTERM, then resolves with the exit code once the process is gone. */
  stop(): Promise<number | null>;
}

/** The gateway as a child process with `config` as its GATEWAY_CONFIG; resolves once it listens. */
export async function spawnGateway(
  config: unknown,
  env: Record<string, string> = {},
): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-grpc-'));
  const file = join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify(config));
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      NODE_ENV: 'development',
      PORT: '0',
      GATEWAY_CONFIG: file,
      DATA_DIR: join(dir, 'data'),
      GRPC_PROTO_DIRS: PROTO_DIR,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const line = out.split('\n').find((l) => l.includes('"listening"'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return {
    address: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    stdout: () => out,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}
