/**
 * Keeps slow or greedy clients from holding the gateway's sockets: deadlines for the request
 * head, the whole request, an idle keep-alive connection and a silent socket, plus a cap on the
 * connections one client address may hold open at once. Without them a few thousand connections
 * dribbling their headers stay open indefinitely (node's `requestTimeout: 0` also turns the
 * headers timeout off).
 */
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';

export interface ClientLimits {
  /** Time to receive the complete request head. */
  headersTimeoutMs: number;
  /** Time to receive the complete request, body included (bounds slow uploads). */
  requestTimeoutMs: number;
  /** How long a keep-alive connection may sit idle between requests. */
  keepAliveTimeoutMs: number;
  /** A socket with no bytes either way for this long during a request is closed. */
  socketIdleTimeoutMs: number;
  /** Open connections one client address may hold; further ones get 429 and are closed. 0 = no cap. */
  maxConnectionsPerClient: number;
}

/** The node:http server options carrying the deadlines. */
export function serverTimeouts(limits: ClientLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two request deadlines on this interval (30 s by default, which lets a
    // 10 s headers timeout run to 40 s).
    connectionsCheckingInterval: Math.max(250, Math.min(1000, limits.headersTimeoutMs / 4)),
    // A request without content-length or transfer-encoding has no body: node then hands it over
    // already ended instead of running a readable stream's life cycle for nothing (~2 µs of CPU
    // per request, measured on node:http alone). Node < 24.12 ignores the option.
    optimizeEmptyRequests: true,
  };
}

const TOO_MANY = 'HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\ncontent-type: application/json\r\n';

/** Counts open connections per client address and turns away the ones over the cap. */
export class ConnectionCap {
  readonly #open = new Map<string, number>();
  readonly #turnedAway = new WeakSet<Socket>();
  readonly #max: number;
  rejected = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Current open connections of one address (for tests and the admin state). */
  count(address: string): number {
    return this.#open.get(address) ?? 0;
  }

  /** Whether `socket` was turned away: node may still parse a request it sent, which must not be served. */
  turnedAway(socket: Socket): boolean {
    return this.#turnedAway.has(socket);
  }

  /** Wires the cap and the socket idle timeout into `server`. */
  attach(server: Server, limits: ClientLimits): void {
    if (limits.socketIdleTimeoutMs > 0) server.setTimeout(limits.socketIdleTimeoutMs, (s) => s.destroy());
    if (this.#max <= 0) return;
    server.on('connection', (socket: Socket) => this.#admit(socket));
  }

  #admit(socket: Socket): void {
    const address = socket.remoteAddress ?? 'unknown';
    const n = (this.#open.get(address) ?? 0) + 1;
    if (n > this.#max) {
      this.rejected++;
      this.#turnedAway.add(socket);
      const body = JSON.stringify({
        error: 'too_many_connections',
        message: `at most ${this.#max} open connections per client`,
      });
      socket.end(`${TOO_MANY}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      // The client may never read or close; do not let it keep this socket either.
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    this.#open.set(address, n);
    socket.once('close', () => {
      const left = (this.#open.get(address) ?? 1) - 1;
      if (left <= 0) this.#open.delete(address);
      else this.#open.set(address, left);
    });
  }
}
