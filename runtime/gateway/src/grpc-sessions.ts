/**
 * Pooled HTTP/2 sessions to upstream instances for proxied gRPC calls. A gRPC client keeps one
 * multiplexed connection per server; the gateway does the same per instance and opens another
 * only when the current ones reach the peer's concurrent-stream limit. Sessions close after a
 * quiet spell, so an instance that leaves the registry lets go of its connections on its own.
 */
import { type ClientHttp2Session, connect, constants } from 'node:http2';
import type { Duplex } from 'node:stream';

export interface SessionPoolOptions {
  connectTimeoutMs: number;
  /** A session with no streams for this long is closed. */
  idleMs: number;
  /** Sessions per upstream at most; beyond it streams queue on the least busy one. */
  maxSessions: number;
  /** For in-process peers (the gateway's reflection server): the transport instead of TCP. */
  createConnection?: () => Duplex;
}

/** Raised on a stream whose session never connected within the connect timeout. */
export class ConnectTimeoutError extends Error {
  readonly code = 'UND_ERR_CONNECT_TIMEOUT';
}

interface PooledSession {
  session: ClientHttp2Session;
  active: number;
}

/** The sessions to one upstream origin. */
export class SessionPool {
  readonly origin: string;
  readonly #opts: SessionPoolOptions;
  #sessions: PooledSession[] = [];

  constructor(origin: string, opts: SessionPoolOptions) {
    this.origin = origin;
    this.#opts = opts;
  }

  /**
   * A session to open a stream on, and a `done` to call when that stream closes. A fresh session
   * may still be connecting; a connect failure then arrives as the stream's error.
   */
  acquire(): { session: ClientHttp2Session; done: () => void } {
    let best: PooledSession | undefined;
    for (const p of this.#sessions) {
      if (p.session.closed || p.session.destroyed) continue;
      const limit = p.session.remoteSettings?.maxConcurrentStreams ?? 100;
      if (p.active < limit && (!best || p.active < best.active)) best = p;
    }
    if (!best && this.#sessions.length >= this.#opts.maxSessions) {
      best = this.#sessions.reduce((a, b) => (b.active < a.active ? b : a));
    }
    const pooled = best ?? this.#open();
    pooled.active++;
    let released = false;
    return {
      session: pooled.session,
      done: () => {
        if (released) return;
        released = true;
        pooled.active--;
      },
    };
  }

  #open(): PooledSession {
    const create = this.#opts.createConnection;
    const session = connect(this.origin, {
      ...(create ? { createConnection: () => create() } : {}),
      settings: { enablePush: false },
    });
    const pooled: PooledSession = { session, active: 0 };
    this.#sessions.push(pooled);
    const drop = () => {
      this.#sessions = this.#sessions.filter((p) => p !== pooled);
    };
    const connectTimer = setTimeout(() => {
      session.destroy(new ConnectTimeoutError(`connecting to ${this.origin} timed out`));
    }, this.#opts.connectTimeoutMs);
    connectTimer.unref();
    session.once('connect', () => clearTimeout(connectTimer));
    // Streams in flight see the error themselves; the pool only forgets the session.
    session.on('error', () => {});
    session.once('goaway', drop);
    session.once('close', () => {
      clearTimeout(connectTimer);
      drop();
    });
    session.setTimeout(this.#opts.idleMs, () => {
      if (pooled.active === 0) session.close();
    });
    // An idle pooled session must not keep the gateway process alive on its own.
    session.unref();
    return pooled;
  }

  /** Closes every session: streams in flight finish, new ones are refused. */
  close(): void {
    for (const p of this.#sessions) p.session.close();
    this.#sessions = [];
  }

  /** Cuts every session at once (shutdown after the drain deadline). */
  destroy(): void {
    for (const p of this.#sessions) p.session.destroy(undefined, constants.NGHTTP2_CANCEL);
    this.#sessions = [];
  }
}
