/**
 * One port, two protocols: connections that open with the HTTP/2 client preface (prior
 * knowledge, what gRPC clients send over plain TCP) are handed to `onHttp2`; every other
 * connection goes to the server's own HTTP/1.1 handling, untouched.
 */
import type { Server, Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * Puts a preface check in front of `server`'s existing `connection` listeners. The bytes read
 * for the check are pushed back onto the socket before it is handed on, so either side sees the
 * connection from its first byte.
 */
export function routeHttp2Connections(
  server: Server,
  onHttp2: (socket: Socket) => void,
  firstBytesTimeoutMs = 10_000,
): void {
  const http1 = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    let seen: Buffer = Buffer.alloc(0);
    // Until a side owns the socket nobody else watches it: a silent client or a reset must not
    // hold it forever or crash the process.
    const silent = setTimeout(() => socket.destroy(), firstBytesTimeoutMs);
    const onError = () => socket.destroy();
    socket.on('error', onError);
    socket.once('close', () => clearTimeout(silent));
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const isHttp2 = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (isHttp2 && seen.length < PREFACE.length) return;
      socket.off('data', onData);
      socket.off('error', onError);
      clearTimeout(silent);
      socket.pause();
      socket.unshift(seen);
      if (isHttp2) {
        // The HTTP/2 session reads what is buffered on its next tick; resuming would lose it.
        onHttp2(socket);
        return;
      }
      for (const listener of http1) listener.call(server, socket);
      socket.resume();
    };
    socket.on('data', onData);
  });
}
