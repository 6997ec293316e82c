/**
 * What to do with a request body nobody read to the end because the server answered early (413,
 * 415, 401, an upstream that refused the rest). Closing the socket at once makes the kernel reset
 * the connection while the peer is still writing, and the peer then loses the answer we just sent
 * (a proxy in front reports 502 EPIPE instead of our 413). Leaving it open without reading stalls
 * the peer until some timeout. So, like nginx's lingering close (RFC 9112 §9.6), the rest is read
 * and discarded for a bounded number of bytes and a bounded time, then the socket is closed.
 */
import type { ServerRequest } from './http1-server.ts';

export interface DrainLimits {
  /** Bytes we are willing to read and throw away before cutting the connection. */
  maxBytes: number;
  /** How long the peer gets to finish sending (or to read our answer) before the cut. */
  maxMs: number;
}

/** Generous enough for any body a route accepts, small enough to cost nothing. */
export const DEFAULT_DRAIN: DrainLimits = { maxBytes: 4 * 1024 * 1024, maxMs: 2000 };

/**
 * Discards the rest of `req`'s body within `limits`, then closes its socket; a body that ends in
 * time leaves a reusable keep-alive connection. Call it when (or right after) the answer is sent.
 */
export function drainUnreadBody(req: ServerRequest, limits: DrainLimits = DEFAULT_DRAIN): void {
  const socket = req.socket;
  if (req.complete || !socket || socket.destroyed) return;
  const cut = () => {
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(cut, limits.maxMs);
  timer.unref();
  if (req.destroyed) {
    // Someone (an HTTP client streaming it upstream) destroyed the request stream: node's parser
    // stops reading the socket, so nothing can be drained. The peer still gets the answer
    // before the cut.
    return;
  }
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > limits.maxBytes) cut();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('error', cut);
  req.resume();
}
