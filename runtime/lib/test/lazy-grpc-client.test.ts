/**
 * The on-demand gRPC client: nothing is made (no gRPC library loaded) until the first call or the
 * warm-up, concurrent first calls share one client, a failed making is retried by the next call,
 * and closing cancels a pending warm-up and closes a made client.
 */
import { describe, expect, it } from 'vitest';
import type { GrpcClient } from '../grpc-client.ts';
import { lazyGrpcClient } from '../lazy-grpc-client.ts';

/** A client that answers every call with the method's name, and counts how often it was made and closed. */
function fakes() {
  const counts = { made: 0, closed: 0 };
  const make = async (): Promise<GrpcClient> => {
    counts.made++;
    return {
      unary: async <Res>(method: string) => ({ method }) as Res,
      retryBudget: () => ({ requests: 0, retries: 0, allowed: 0 }),
      close: () => {
        counts.closed++;
      },
    };
  };
  return { counts, make };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('lazyGrpcClient', () => {
  it('makes the client at the first call, once for concurrent calls', async () => {
    const { counts, make } = fakes();
    const client = lazyGrpcClient(make);
    await tick();
    expect(counts.made).toBe(0);
    const answers = await Promise.all([client.unary('A', {}), client.unary('B', {})]);
    expect(answers).toEqual([{ method: 'A' }, { method: 'B' }]);
    expect(counts.made).toBe(1);
    await client.unary('C', {});
    expect(counts.made).toBe(1);
    client.close();
    await tick();
    expect(counts.closed).toBe(1);
  });

  it('reports a failed making to the call and tries again at the next call', async () => {
    let attempts = 0;
    const { counts, make } = fakes();
    const client = lazyGrpcClient(async () => {
      if (++attempts === 1) throw new Error('cannot load @grpc/grpc-js');
      return make();
    });
    await expect(client.unary('A', {})).rejects.toThrow('cannot load @grpc/grpc-js');
    await expect(client.unary('A', {})).resolves.toEqual({ method: 'A' });
    expect([attempts, counts.made]).toEqual([2, 1]);
  });

  it('makes the client on warm-up without a call, and not again for the call after it', async () => {
    const { counts, make } = fakes();
    const client = lazyGrpcClient(make);
    client.warmUp(1);
    while (counts.made === 0) await new Promise((r) => setTimeout(r, 5));
    await client.unary('A', {});
    expect(counts.made).toBe(1);
    client.close();
  });

  it('cancels a pending warm-up on close, and refuses calls after it', async () => {
    const { counts, make } = fakes();
    const client = lazyGrpcClient(make);
    client.warmUp(20);
    client.close();
    await new Promise((r) => setTimeout(r, 60));
    expect(counts.made).toBe(0);
    await expect(client.unary('A', {})).rejects.toThrow(/closed/);
  });
});
