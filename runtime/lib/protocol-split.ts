/**
 * One port, two protocols: every connection accepted by an HTTP/1.1 server is peeked at before the
 * server sees it; a connection that opens with the HTTP/2 client preface (prior knowledge, h2c —
 * how gRPC clients talk plaintext) is handed to an HTTP/2 side instead (a @grpc/grpc-js connection
 * injector in the services, a node:http2 server in the gateway). So gRPC needs no second port, and
 * manifests, NetworkPolicies and port checks stay as they are.
 *
 * Written here rather than taken from a library (httpolyglot and kin) because those own the
 * listening server and mix in TLS; here the HTTP/1.1 server stays fastify's or the gateway's own,
 * keeps listening itself, and so keeps its connection accounting, timeouts and graceful close.
 */
import type { Server, Socket } from 'node:net';

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** What a connection speaks, judged from its first bytes. */
export type WireProtocol = 'http1' | 'http2';

/**
 * Default wait for a new connection's first bytes: Node's own `headersTimeout` (60 s), so a
 * connection that would have been given that long by the HTTP/1.1 server is not cut shorter.
 */
export const DEFAULT_SNIFF_TIMEOUT_MS = 60_000;

/**
 * Reads a connection's first bytes until they decide the protocol, then puts them back (the socket
 * is left paused with those bytes unread) and resolves. Resolves `undefined` (socket destroyed)
 * when the peer closes, errs or stays silent for `timeoutMs` first. HTTP/1.1 is decided by the
 * first byte that differs from the preface, so a request is never delayed waiting for 24 bytes.
 */
export function sniffProtocol(
  socket: Socket,
  timeoutMs = DEFAULT_SNIFF_TIMEOUT_MS,
): Promise<WireProtocol | undefined> {
  return new Promise((resolve) => {
    let seen: Buffer = Buffer.alloc(0);
    const finish = (protocol: WireProtocol | undefined) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
      socket.off('error', onGone);
      if (protocol) {
        socket.pause();
        if (seen.length > 0) socket.unshift(seen);
      } else {
        socket.destroy();
      }
      resolve(protocol);
    };
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, HTTP2_PREFACE.length);
      if (seen.compare(HTTP2_PREFACE, 0, n, 0, n) !== 0) finish('http1');
      else if (n === HTTP2_PREFACE.length) finish('http2');
    };
    const onGone = () => finish(undefined);
    const timer = setTimeout(onGone, timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.on('end', onGone);
    socket.on('close', onGone);
    socket.on('error', onGone);
  });
}

/** Handle on a split server: connections still being sniffed belong to neither side yet. */
export interface ProtocolSplit {
  /** Connections not yet decided (for tests and metrics). */
  readonly pending: number;
  /** Destroys undecided connections: call when the server closes, as it would close idle ones. */
  closePending(): void;
}

export interface SplitOptions {
  /** Receives each connection that opened with the HTTP/2 preface (paused, preface unread). */
  http2(socket: Socket): void;
  /** How long a connection may stay silent before its first byte. Default 60 s. */
  sniffTimeoutMs?: number;
}

/**
 * Takes over `server`'s `connection` event (an `http.Server`, or any net.Server whose connection
 * listeners serve HTTP/1.1): HTTP/1.1 connections go to the listeners the server had, h2c ones to
 * `options.http2`. Call once, after the server is created and before it accepts connections.
 *
 * The server keeps listening and counts every accepted connection, both kinds, so its `close()`
 * waits for the HTTP/2 side's connections too: drain that side (GOAWAY) when closing.
 */
export function splitProtocols(server: Server, options: SplitOptions): ProtocolSplit {
  const http1 = server.listeners('connection') as ((socket: Socket) => void)[];
  if (http1.length === 0) throw new Error('splitProtocols: the server has no connection listener to keep');
  server.removeAllListeners('connection');
  const pending = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    pending.add(socket);
    void sniffProtocol(socket, options.sniffTimeoutMs).then((protocol) => {
      pending.delete(socket);
      if (protocol === 'http2') {
        // node:http accepts half-open sockets (allowHalfOpen); an HTTP/2 server's are not, and its
        // session never ends its side on the peer's FIN, so such a socket would linger half-closed
        // and hold the server's close() until the force-close deadline.
        socket.allowHalfOpen = false;
        options.http2(socket);
      } else if (protocol === 'http1') {
        for (const listener of http1) listener.call(server, socket);
        // node:http reads from the socket's handle directly once it has it; resuming now lets the
        // bytes sniffed above reach its parser first (on the next tick, before any new read).
        socket.resume();
      }
    });
  });
  return {
    get pending() {
      return pending.size;
    },
    closePending() {
      for (const socket of pending) socket.destroy();
      pending.clear();
    },
  };
}
