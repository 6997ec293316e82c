/** Local HTTP servers with known behaviour for load tests (127.0.0.1, ephemeral port). */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestServer {
  url: string;
  hits(): number;
  close(): Promise<void>;
}

export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
): Promise<TestServer> {
  let n = 0;
  const server = createServer((req, res) => {
    n++;
    req.resume();
    req.on('end', () => handler(req, res, n));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hits: () => n,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Answers `{"ok":true}` at once. */
export function ok(res: ServerResponse, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end('{"ok":true,"id":"abc"}');
}

/**
 * Stalls once: from the `at`-th request on, every response is held until `stallMs` after that
 * request arrived (like a GC pause or a lock), then answered; afterwards it is fast again.
 */
export function stallOnce(at: number, stallMs: number) {
  let releaseAt = 0;
  return (_req: IncomingMessage, res: ServerResponse, n: number) => {
    if (n === at) releaseAt = Date.now() + stallMs;
    const wait = releaseAt - Date.now();
    if (releaseAt && wait > 0) setTimeout(() => ok(res), wait);
    else ok(res);
  };
}
