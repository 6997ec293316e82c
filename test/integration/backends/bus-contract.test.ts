/**
 * One contract, three buses: the embedded bus, a real RabbitMQ node and a real single-node Kafka
 * broker (KRaft, from Maven Central) must all deliver every event to every group, retry a failing
 * handler and then give up on it, lose no acknowledged event across a broker restart, and report an
 * unreachable broker as unhealthy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Bus,
  type BusEvent,
  type DeadLetter,
  type DeadLetterListener,
  openBus,
  UnprocessableEventError,
} from '../../../runtime/lib/storage/bus.ts';
import { openKafkaBus } from '../../../runtime/lib/storage/kafka.ts';
import { openRabbitBus } from '../../../runtime/lib/storage/rabbitmq.ts';
import { sleep } from '../../../src/core/sleep.ts';
import { type KafkaServer, kafkaSkipReason, startKafka } from '../../helpers/kafka.ts';
import { until } from '../../helpers/poll.ts';
import { type RabbitServer, rabbitSkipReason, startRabbit } from '../../helpers/rabbitmq.ts';

interface Broker {
  /** Opens a client; `fresh` names isolate tests from each other. */
  open(fresh: string, onDeadLetter?: DeadLetterListener): Promise<Bus>;
  /** The broker goes away for a moment and comes back (clients must reconnect by themselves). */
  restart(): Promise<void>;
  /** A URL where no broker answers. */
  deadUrl: string;
  stop(): Promise<void>;
}

const brokers: Record<string, { skip: string | undefined; start(): Promise<Broker> }> = {
  embedded: {
    skip: undefined,
    async start() {
      const dir = mkdtempSync(join(tmpdir(), 'bus-contract-'));
      const clients = new Set<Bus>();
      const open = async (_fresh: string, onDeadLetter?: DeadLetterListener) => {
        const b = await openBus(`embedded://${dir}`, onDeadLetter ? { onDeadLetter } : {});
        clients.add(b);
        return b;
      };
      return {
        open,
        // The embedded bus is a file: a "restart" is every process closing it and opening it again.
        async restart() {},
        deadUrl: '',
        async stop() {
          for (const b of clients) await b.close().catch(() => {});
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  rabbitmq: {
    skip: rabbitSkipReason(),
    async start() {
      const server: RabbitServer = await startRabbit();
      return {
        open: (fresh, onDeadLetter) =>
          openRabbitBus(`${server.url}?exchange=${fresh}`, {
            minBackoffMs: 50,
            maxBackoffMs: 500,
            ...(onDeadLetter ? { onDeadLetter } : {}),
          }),
        restart: () => server.restart(),
        deadUrl: 'amqp://guest:guest@127.0.0.1:1',
        async stop() {
          server.stop();
        },
      };
    },
  },
  kafka: {
    skip: kafkaSkipReason(),
    async start() {
      const server: KafkaServer = await startKafka();
      return {
        open: (fresh, onDeadLetter) =>
          openKafkaBus(`${server.url}?client_id=${fresh}`, onDeadLetter ? { onDeadLetter } : {}),
        restart: () => server.restart(2000),
        deadUrl: 'kafka://127.0.0.1:1',
        stop: () => server.stop(),
      };
    },
  },
};

for (const [name, def] of Object.entries(brokers)) {
  if (def.skip) console.warn(`${name}: ${def.skip}`);
  describe.skipIf(def.skip)(`bus contract: ${name}`, () => {
    let broker: Broker;
    const open: Bus[] = [];
    const bus = async (fresh: string, onDeadLetter?: DeadLetterListener) => {
      const b = await broker.open(fresh, onDeadLetter);
      open.push(b);
      return b;
    };
    /** Subscriptions attach asynchronously (queues, consumer groups): wait until a probe arrives. */
    const attached = async (b: Bus, topic: string, seen: () => Set<string>) => {
      for (let i = 0; i < 600; i++) {
        const id = `probe-${i}`;
        await b.publish(topic, { id, probe: true });
        for (let j = 0; j < 10; j++) {
          if (seen().has(id)) return;
          await sleep(50);
        }
      }
      throw new Error(`${topic}: the subscription never received a probe`);
    };

    beforeAll(async () => {
      broker = await def.start();
    }, 240_000);
    afterAll(async () => {
      for (const b of open) await b.close().catch(() => {});
      await broker?.stop();
    }, 60_000);

    it('delivers every event to every group', async () => {
      const b = await bus(`c1${name}`);
      const a = new Set<string>();
      const c = new Set<string>();
      b.subscribe('contract.orders', 'a', (e) => {
        a.add(e.id);
      });
      b.subscribe('contract.orders', 'c', (e) => {
        c.add(e.id);
      });
      await attached(b, 'contract.orders', () => a);
      await attached(b, 'contract.orders', () => c);
      await b.publish('contract.orders', { id: 'e1' });
      await b.publishMany([
        { topic: 'contract.orders', event: { id: 'e2' } },
        { topic: 'contract.orders', event: { id: 'e3' } },
      ]);
      await until(() => ['e1', 'e2', 'e3'].every((id) => a.has(id) && c.has(id)), 'deliveries', 600, 50);
    }, 120_000);

    it('retries a failing handler, then dead-letters the event, says why, and moves on', async () => {
      const dead: DeadLetter[] = [];
      const b = await bus(`c2${name}`, (d) => dead.push(d));
      const seen = new Set<string>();
      const attempts: number[] = [];
      b.subscribe(
        'contract.jobs',
        'worker',
        (e, info) => {
          seen.add(e.id);
          if (e.id !== 'poison') return;
          attempts.push(info.attempt);
          throw new Error('always fails');
        },
        { maxAttempts: 3, retryDelayMs: 1 },
      );
      await attached(b, 'contract.jobs', () => seen);
      await b.publish('contract.jobs', { id: 'poison' });
      await b.publish('contract.jobs', { id: 'after' });
      await until(() => seen.has('after') && attempts.length >= 3, 'the next event', 600, 50);
      await until(() => dead.length > 0, 'the dead letter', 200, 50);
      await sleep(500);
      expect(attempts).toEqual([1, 2, 3]);
      expect(dead).toEqual([
        expect.objectContaining({
          id: 'poison',
          topic: 'contract.jobs',
          reason: 'always fails',
          attempts: 3,
        }),
      ]);
      expect(dead[0]?.queue).toMatch(/dlq|bus_dead/);
    }, 120_000);

    it('dead-letters an event that can never be processed at once, without retries', async () => {
      const dead: DeadLetter[] = [];
      const b = await bus(`c4${name}`, (d) => dead.push(d));
      const seen = new Set<string>();
      let calls = 0;
      // Its own group: Kafka balances a group's members over the union of their topics.
      b.subscribe('contract.checked', 'checker', (e) => {
        seen.add(e.id);
        if (e.id !== 'invalid') return;
        calls++;
        throw new UnprocessableEventError('contentId is missing');
      });
      await attached(b, 'contract.checked', () => seen);
      await b.publish('contract.checked', { id: 'invalid' });
      await until(() => dead.length > 0, 'the dead letter', 600, 50);
      await sleep(500);
      expect(calls).toBe(1);
      expect(dead).toEqual([
        expect.objectContaining({ id: 'invalid', reason: 'contentId is missing', attempts: 1 }),
      ]);
    }, 120_000);

    it('loses no acknowledged event across a broker restart', async () => {
      const b = await bus(`c3${name}`);
      const seen = new Set<string>();
      b.subscribe('contract.views', 'analytics', (e: BusEvent) => {
        seen.add(e.id);
      });
      await attached(b, 'contract.views', () => seen);
      const acknowledged: string[] = [];
      let publishing = true;
      const publisher = (async () => {
        for (let i = 0; publishing && i < 100_000; i++) {
          try {
            await b.publish('contract.views', { id: `v${i}` });
            acknowledged.push(`v${i}`);
          } catch {
            // Not acknowledged (503 while the broker is away): the caller would retry; not counted.
          }
          await sleep(5);
        }
      })();
      await until(() => acknowledged.length > 30, 'events before the restart', 600, 50);
      await broker.restart();
      const mark = acknowledged.length;
      await until(() => acknowledged.length > mark + 30, 'events after the restart', 1200, 50);
      publishing = false;
      await publisher;
      await until(() => acknowledged.every((id) => seen.has(id)), 'every acknowledged event', 1200, 50);
      expect(acknowledged.filter((id) => !seen.has(id))).toEqual([]);
    }, 240_000);

    it.skipIf(name === 'embedded')(
      'reports an unreachable broker as unhealthy',
      async () => {
        // RabbitMQ refuses to open without a broker; Kafka connects lazily, so its ping must fail.
        const attempt = async () => {
          const b = await openBus(broker.deadUrl);
          open.push(b);
          await b.ping();
        };
        await expect(attempt()).rejects.toThrow(/RabbitMQ|Kafka/);
      },
      60_000,
    );
  });
}
