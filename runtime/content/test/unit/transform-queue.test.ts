import { describe, expect, it } from 'vitest';
import { QueueFullError, TransformQueue } from '../../src/transform-queue.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('TransformQueue', () => {
  it('runs at most `concurrency` jobs, queues `maxQueued`, and refuses the rest at once', async () => {
    const q = new TransformQueue({ concurrency: 2, maxQueued: 1 });
    const gates = [deferred(), deferred(), deferred()];
    let started = 0;
    const jobs = gates.map((g) =>
      q.run(async () => {
        started++;
        await g.promise;
        return started;
      }),
    );
    expect([q.running, q.queued, started]).toEqual([2, 1, 2]);
    const refused = await q.run(async () => 0).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QueueFullError);
    expect((refused as QueueFullError).retryAfterS).toBeGreaterThanOrEqual(1);
    expect(q.rejected).toBe(1);
    gates[0]!.resolve();
    await jobs[0];
    expect([q.running, q.queued]).toEqual([2, 0]);
    for (const g of gates) g.resolve();
    await Promise.all(jobs);
    expect([q.running, q.queued]).toEqual([0, 0]);
  });

  it('drops a waiting job whose caller gave up, without running it', async () => {
    const q = new TransformQueue({ concurrency: 1, maxQueued: 5 });
    const gate = deferred();
    const first = q.run(() => gate.promise);
    const ac = new AbortController();
    let ran = false;
    const waiting = q.run(async () => {
      ran = true;
    }, ac.signal);
    ac.abort(new Error('client went away'));
    await expect(waiting).rejects.toThrow('client went away');
    expect(q.queued).toBe(0);
    gate.resolve();
    await first;
    expect(ran).toBe(false);
  });
});

describe('TransformQueue waiting bound', () => {
  it('refuses a job that would wait past maxWaitMs, and drops one that did', async () => {
    const q = new TransformQueue({ concurrency: 1, maxQueued: 10, maxWaitMs: 50 });
    const gate = deferred();
    const first = q.run(() => gate.promise);
    // Nothing measured yet: the default estimate (500 ms per job) already exceeds 50 ms.
    await expect(q.run(async () => 1)).rejects.toBeInstanceOf(QueueFullError);
    const patient = new TransformQueue({ concurrency: 1, maxQueued: 10, maxWaitMs: 600 });
    const slow = deferred();
    const running = patient.run(() => slow.promise);
    let ran = false;
    const waiting = patient.run(async () => {
      ran = true;
    });
    await new Promise((r) => setTimeout(r, 700));
    slow.resolve();
    await running;
    await expect(waiting).rejects.toBeInstanceOf(QueueFullError);
    expect(ran).toBe(false);
    gate.resolve();
    await first;
  });
});
