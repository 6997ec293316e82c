/**
 * A gRPC client made when it is first needed rather than at start. Making one loads @grpc/grpc-js
 * and @grpc/proto-loader and parses the upstream's proto, which was a large part of the CPU a
 * calling service (content, which asks auth before uploads and deletes) spent before it was ready
 * — and a restart waits for exactly that. The client is made at the first call, or `warmUp` after
 * readiness, whichever comes first; calls made meanwhile wait for it.
 */
import type { GrpcCallOptions, GrpcClient } from './grpc-client.ts';
import { loadLater } from './load-later.ts';

/** The calling side of a GrpcClient, made on demand. */
export interface LazyGrpcClient {
  /** As GrpcClient.unary; the first call (or a warm-up) makes the client. */
  unary<Res>(method: string, request: object, options?: GrpcCallOptions): Promise<Res>;
  /** Makes the client `delayMs` from now unless a call made it first (the timer never holds the process). */
  warmUp(delayMs: number): void;
  /** Closes the client if it was made; a pending warm-up is cancelled. */
  close(): void;
}

/**
 * Wraps `make` (which imports the gRPC libraries and creates the client). A failed `make` is
 * reported to the call that needed it and tried again by the next one.
 */
export function lazyGrpcClient(make: () => Promise<GrpcClient>): LazyGrpcClient {
  const client = loadLater(make);
  let closed = false;
  return {
    async unary<Res>(method: string, request: object, options?: GrpcCallOptions): Promise<Res> {
      if (closed) throw new Error('the gRPC client is closed');
      return (await client.get()).unary<Res>(method, request, options);
    },
    warmUp(delayMs) {
      if (!closed) client.warmUp(delayMs);
    },
    close() {
      closed = true;
      client.cancel();
      if (client.started)
        void client.get().then(
          (c) => c.close(),
          () => {},
        );
    },
  };
}
