/**
 * Keeps slow or greedy clients from holding the gateway's sockets: deadlines for the request
 * head, the whole request, an idle keep-alive connection and a silent socket, plus a cap on the
 * connections one client address may hold open at once. Without them a few thousand connections
 * dribbling their headers stay open indefinitely (node's `requestTimeout: 0` also turns the
 * headers timeout off).
 */
import type { ServerOptions } from 'node:http';
import type { Server, Socket } from 'node:net';

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

/**
 * The node:http server options carrying the request deadlines. The two idle deadlines (keep-alive
 * and socket) are IdleSweep's: node's own re-arm a timer per socket twice per request and
 * refresh it on every read and write (~2 µs of CPU per request under load).
 */
export function serverTimeouts(limits: ClientLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: 0,
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

  /** Wires the cap into `server`. */
  attach(server: Server): void {
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

/** What the sweep knows of one connection. */
interface Watch {
  /** Requests begun and not finished on it. */
  active: number;
  /** bytesRead + bytesWritten at the last sweep. */
  bytes: number;
  /** Time since those last changed. */
  quietMs: number;
}

const WATCH = Symbol('gateway idle watch');
type Watched = Socket & { [WATCH]?: Watch };

/**
 * Closes client connections that sit idle too long: with no request in flight, after the
 * keep-alive timeout; with one, when no byte moved either way for the socket timeout. One
 * interval checks every connection's byte counters a few times per timeout, in place of node's
 * timer per socket. A connection joins at its first request (HTTP/2 connections never do, and a
 * silent new one is the protocol sniffer's and the headers timeout's to close).
 */
export class IdleSweep {
  readonly #sockets = new Set<Watched>();
  readonly #keepAliveMs: number;
  readonly #socketIdleMs: number;
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(limits: Pick<ClientLimits, 'keepAliveTimeoutMs' | 'socketIdleTimeoutMs'>) {
    this.#keepAliveMs = limits.keepAliveTimeoutMs;
    this.#socketIdleMs = limits.socketIdleTimeoutMs;
    const shortest = Math.min(...[this.#keepAliveMs, this.#socketIdleMs].filter((ms) => ms > 0), 4000);
    this.#tickMs = Math.max(100, Math.min(1000, Math.floor(shortest / 4)));
  }

  /** A request began on `socket`. */
  begin(socket: Socket): void {
    const s = socket as Watched;
    let w = s[WATCH];
    if (!w) {
      if (this.#keepAliveMs <= 0 && this.#socketIdleMs <= 0) return;
      w = { active: 0, bytes: 0, quietMs: 0 };
      s[WATCH] = w;
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
      if (!this.#timer) {
        this.#timer = setInterval(() => this.#sweep(), this.#tickMs);
        this.#timer.unref();
      }
    }
    w.active++;
  }

  /** That request finished (its answer is written or the exchange is over). */
  end(socket: Socket): void {
    const w = (socket as Watched)[WATCH];
    if (w && w.active > 0) w.active--;
  }

  /** Stops sweeping (the gateway is closing; its connections are closed by then). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    if (this.#sockets.size === 0) {
      this.stop();
      return;
    }
    for (const s of this.#sockets) {
      const w = s[WATCH] as Watch;
      const bytes = s.bytesRead + s.bytesWritten;
      if (bytes !== w.bytes) {
        w.bytes = bytes;
        w.quietMs = 0;
        continue;
      }
      w.quietMs += this.#tickMs;
      const limit = w.active > 0 ? this.#socketIdleMs : this.#keepAliveMs;
      if (limit > 0 && w.quietMs >= limit) s.destroy();
    }
  }
}
