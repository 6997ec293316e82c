/**
 * A gRPC client made when it is first needed rather than at start. Making one loads @grpc/grpc-js
 * and @grpc/proto-loader and parses the upstream's proto, which was a large part of the CPU a
 * calling service (content, which asks auth before uploads and deletes) spent before it was ready
 * — and a restart waits for exactly that. The client is made at the first call, or `warmUp` after
 * readiness, whichever comes first; calls made meanwhile wait for it.
 */
import { flushCompileCache } from 'node:module';
import type { GrpcCallOptions, GrpcClient } from './grpc-client.ts';

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
  let made: Promise<GrpcClient> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const client = (): Promise<GrpcClient> => {
    if (closed) return Promise.reject(new Error('the gRPC client is closed'));
    made ??= make().then(
      (c) => {
        // Its modules join the compile cache written at readiness, for the next (re)start's first call.
        flushCompileCache();
        return c;
      },
      (err: unknown) => {
        made = undefined;
        throw err;
      },
    );
    return made;
  };
  return {
    async unary<Res>(method: string, request: object, options?: GrpcCallOptions): Promise<Res> {
      return (await client()).unary<Res>(method, request, options);
    },
    warmUp(delayMs) {
      if (closed || made || timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        // A failed warm-up is left for the first call to try again and report.
        client().catch(() => {});
      }, delayMs);
      timer.unref();
    },
    close() {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
      void made?.then(
        (c) => c.close(),
        () => {},
      );
    },
  };
}
