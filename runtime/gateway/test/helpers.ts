/** Real servers on 127.0.0.1:0 for the gateway's tests: upstreams, a JWKS endpoint, the gateway itself. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { type Logger, pino } from 'pino';
import { parseGatewayEnv } from '../src/env.ts';
import { Gateway } from '../src/gateway.ts';
import { parseGatewayConfig } from '../src/gateway-config.ts';

export interface TestServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestServer> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An upstream that answers JSON describing what it received, tagged with its name. */
export function echoUpstream(name: string, opts: { status?: number } = {}): Promise<TestServer> {
  return listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.stringify({
        name,
        method: req.method,
        url: req.url,
        headers: req.headers,
        bodyLength: Buffer.concat(chunks).length,
      });
      res.writeHead(opts.status ?? 200, { 'content-type': 'application/json' });
      res.end(body);
    });
  });
}

/** A port where nothing listens (bound, then closed). */
export async function deadUrl(): Promise<string> {
  const s = await listen(() => {});
  await s.close();
  return s.url;
}

export interface TestGateway {
  gateway: Gateway;
  url: string;
  close(): Promise<void>;
}

export async function startGateway(
  config: unknown,
  env: Record<string, string> = {},
  logger: Logger = pino({ level: 'silent' }),
): Promise<TestGateway> {
  const gateway = new Gateway({
    settings: parseGatewayEnv({ PORT: '0', ACCESS_LOG: 'false', DATA_DIR: '/tmp/gateway-test', ...env }),
    config: parseGatewayConfig(config),
    logger,
  });
  const port = await gateway.listen();
  return { gateway, url: `http://127.0.0.1:${port}`, close: () => gateway.close(2000) };
}

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function admin(
  gw: TestGateway,
  method: string,
  path: string,
  body?: unknown,
  token = ADMIN_TOKEN,
): Promise<Response> {
  return fetch(`${gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Sends a raw request line (paths fetch would normalise) and returns the status code. */
export async function rawStatus(base: string, path: string, extraHeaders = ''): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      data += d;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : 0);
    });
    // Half-close after the head: a request announcing a body it never sends ends instead of hanging.
    socket.end(`GET ${path} HTTP/1.1\r\nhost: gw\r\n${extraHeaders}connection: close\r\n\r\n`, 'latin1');
  });
}
