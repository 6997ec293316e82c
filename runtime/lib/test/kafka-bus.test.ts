/**
 * The Kafka bus against an in-memory fake of the client seam (one partition per topic, committed
 * offsets per group); the same contract against a real broker is in bus-contract.test.ts. Here:
 * acks=-1 publishes keyed by event id, commit only after the handler resolved, in-place retries
 * then a dead-letter topic, and resumption from the committed offset.
 */
import { describe, expect, it } from 'vitest';
import { until } from '../../../test/helpers/poll.ts';
import type { BusEvent } from '../storage/bus.ts';
import {
  KafkaBus,
  type KafkaClients,
  type KafkaConsumerLike,
  type KafkaMessageLike,
  type KafkaProducerLike,
  type KafkaStreamLike,
  parseKafkaUrl,
} from '../storage/kafka.ts';

class FakeKafka implements KafkaClients {
  readonly logs = new Map<string, { value: Buffer; key: Buffer }[]>();
  readonly committed = new Map<string, bigint>();
  readonly sends: { acks?: number; keys: string[] }[] = [];
  private wakers = new Set<() => void>();

  private wake(): void {
    for (const w of this.wakers) w();
  }

  producer(): KafkaProducerLike {
    return {
      send: async ({ messages, acks }) => {
        this.sends.push({ acks, keys: messages.map((m) => m.key.toString()) });
        for (const m of messages) {
          const log = this.logs.get(m.topic) ?? [];
          log.push({ value: m.value, key: m.key });
          this.logs.set(m.topic, log);
        }
        this.wake();
      },
      metadata: async () => ({}),
      close: async () => {},
    };
  }

  consumer(groupId: string): KafkaConsumerLike {
    return {
      consume: async ({ topics }) => {
        const topic = topics[0] as string;
        const key = `${groupId}/${topic}`;
        let closed = false;
        let wake: (() => void) | undefined;
        const waker = () => wake?.();
        this.wakers.add(waker);
        const fake = this;
        const stream: KafkaStreamLike = {
          async *[Symbol.asyncIterator](): AsyncIterator<KafkaMessageLike> {
            let position = fake.committed.get(key) ?? 0n;
            while (!closed) {
              const log = fake.logs.get(topic) ?? [];
              if (position < BigInt(log.length)) {
                const offset = position;
                position += 1n;
                yield {
                  topic,
                  partition: 0,
                  offset,
                  value: (log[Number(offset)] as { value: Buffer }).value,
                  commit: () => {
                    fake.committed.set(key, offset + 1n);
                  },
                };
              } else {
                await new Promise<void>((resolve) => {
                  wake = resolve;
                  setTimeout(resolve, 20);
                });
              }
            }
          },
          close: async () => {
            closed = true;
            wake?.();
            fake.wakers.delete(waker);
          },
        };
        return stream;
      },
      close: async () => {},
    };
  }

  read(topic: string): BusEvent[] {
    return (this.logs.get(topic) ?? []).map((m) => JSON.parse(m.value.toString()) as BusEvent);
  }
}

describe('kafka bus (fake client)', () => {
  it('publishes with acks=-1 keyed by id and delivers to every group, committing after the handler', async () => {
    const kafka = new FakeKafka();
    const bus = new KafkaBus(kafka);
    const a: string[] = [];
    const b: string[] = [];
    bus.subscribe('content.viewed', 'analytics', (e) => {
      a.push(e.id);
    });
    bus.subscribe('content.viewed', 'audit', (e) => {
      b.push(e.id);
    });
    await bus.publish('content.viewed', { id: 'e1' });
    await bus.publishMany([
      { topic: 'content.viewed', event: { id: 'e2' } },
      { topic: 'content.viewed', event: { id: 'e3' } },
    ]);
    await until(() => a.length === 3 && b.length === 3, 'deliveries', 500, 10);
    expect(a).toEqual(['e1', 'e2', 'e3']);
    expect(kafka.sends.map((s) => [s.acks, s.keys])).toEqual([
      [-1, ['e1']],
      [-1, ['e2', 'e3']],
    ]);
    await until(() => kafka.committed.get('analytics/content.viewed') === 3n, 'commits', 500, 10);
    await bus.close();
  });

  it('resumes a group from its committed offset', async () => {
    const kafka = new FakeKafka();
    const first = new KafkaBus(kafka);
    const seen: string[] = [];
    const sub = first.subscribe('t', 'g', (e) => {
      seen.push(e.id);
    });
    await first.publish('t', { id: 'e1' });
    await until(() => seen.length === 1, 'first delivery', 500, 10);
    await sub.stop();
    await first.publish('t', { id: 'e2' });
    const again: string[] = [];
    const second = new KafkaBus(kafka);
    second.subscribe('t', 'g', (e) => {
      again.push(e.id);
    });
    await until(() => again.length === 1, 'resumed delivery', 500, 10);
    expect(again).toEqual(['e2']);
    await first.close();
    await second.close();
  });

  it('retries a failing handler in place, then dead-letters and moves on', async () => {
    const kafka = new FakeKafka();
    const bus = new KafkaBus(kafka, { onError: () => {} });
    const attempts: [string, number][] = [];
    bus.subscribe(
      'jobs',
      'worker',
      (e, info) => {
        attempts.push([e.id, info.attempt]);
        if (e.id === 'poison') throw new Error('always fails');
      },
      { maxAttempts: 3, retryDelayMs: 1 },
    );
    await bus.publish('jobs', { id: 'poison' });
    await bus.publish('jobs', { id: 'fine' });
    await until(() => attempts.some(([id]) => id === 'fine'), 'the next event', 500, 10);
    expect(attempts).toEqual([
      ['poison', 1],
      ['poison', 2],
      ['poison', 3],
      ['fine', 1],
    ]);
    expect(kafka.read('worker.jobs.dlq').map((e) => e.id)).toEqual(['poison']);
    await bus.close();
  });

  it('refuses prefix patterns and parses broker lists', () => {
    const bus = new KafkaBus(new FakeKafka());
    expect(() => bus.subscribe('content.*', 'g', () => {})).toThrow(/exact topic names/);
    expect(parseKafkaUrl('kafka://k1:9092,k2:9092?client_id=api&delivery_limit=3')).toEqual({
      brokers: ['k1:9092', 'k2:9092'],
      clientId: 'api',
      maxAttempts: 3,
    });
    expect(() => parseKafkaUrl('kafka://')).toThrow(/at least one broker/);
  });
});
