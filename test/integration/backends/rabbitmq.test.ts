/**
 * The RabbitMQ Bus adapter against a real private RabbitMQ node: groups, redelivery, dead-letter
 * queue, and a broker restart while events flow (nothing confirmed is lost; duplicates are only
 * redeliveries, absorbed by event id).
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Bus, type BusEvent, type DeadLetter, openBus } from '../../../runtime/lib/storage/bus.ts';
import { bindingKey, openRabbitBus, parseAmqpUrl } from '../../../runtime/lib/storage/rabbitmq.ts';
import { sleep } from '../../../src/core/sleep.ts';
import { until } from '../../helpers/poll.ts';
import { type RabbitServer, rabbitSkipReason, startRabbit } from '../../helpers/rabbitmq.ts';

describe('amqp url and patterns', () => {
  it('splits adapter parameters from the connection url', () => {
    const { connectUrl, options } = parseAmqpUrl('amqp://u:p@h:1/v?exchange=x&delivery_limit=3&heartbeat=5');
    expect(connectUrl).toBe('amqp://u:p@h:1/v?heartbeat=5');
    expect(options).toMatchObject({ exchange: 'x', maxAttempts: 3 });
    expect(bindingKey('content.*')).toBe('content.#');
    expect(bindingKey('content.viewed')).toBe('content.viewed');
  });
  it('takes the password of a URL that has none from BUS_PASSWORD (the URL in a ConfigMap, the password in a Secret)', () => {
    const from = (url: string, env: NodeJS.ProcessEnv) => new URL(parseAmqpUrl(url, env).connectUrl);
    expect(
      from('amqps://platform@b-1.mq.eu-west-1.amazonaws.com:5671', { BUS_PASSWORD: 'p@ss/w:rd' }).password,
    ).toBe(encodeURIComponent('p@ss/w:rd'));
    // A password in the URL wins; no user means nothing to sign in as.
    expect(from('amqp://u:inline@h:1', { BUS_PASSWORD: 'other' }).password).toBe('inline');
    expect(from('amqp://h:1', { BUS_PASSWORD: 'other' }).password).toBe('');
  });
  it('names the supported schemes for an unknown one', async () => {
    await expect(openBus('nats://x')).rejects.toThrow(/supported: embedded:\/\/.*amqp.*kafka/);
  });
});

const skip = rabbitSkipReason();
if (skip) console.warn(skip);

describe.skipIf(skip)('RabbitMQ bus (real broker)', () => {
  let server: RabbitServer;
  const open: Bus[] = [];
  const bus = async (exchange: string) => {
    const b = await openBus(`${server.url}?exchange=${exchange}`);
    open.push(b);
    return b;
  };

  beforeAll(async () => {
    server = await startRabbit();
  }, 180_000);
  afterAll(async () => {
    for (const b of open) await b.close().catch(() => {});
    server?.stop();
  }, 60_000);

  it('signs in with BUS_PASSWORD when the URL has the user only', async () => {
    const u = new URL(server.url);
    const password = decodeURIComponent(u.password);
    u.password = '';
    const saved = process.env.BUS_PASSWORD;
    process.env.BUS_PASSWORD = password;
    try {
      const b = await openBus(`${u.toString()}?exchange=pw`);
      open.push(b);
      await b.ping();
    } finally {
      if (saved === undefined) delete process.env.BUS_PASSWORD;
      else process.env.BUS_PASSWORD = saved;
    }
  });

  it('delivers every event to every group and shares work inside a group', async () => {
    const b = await bus('t1');
    const a: string[] = [];
    const c: string[] = [];
    b.subscribe('orders.*', 'a', (e) => {
      a.push(e.id);
    });
    b.subscribe('orders.created', 'c', (e) => {
      c.push(e.id);
    });
    // Queues are declared asynchronously; wait until both are bound before publishing.
    await sleep(500);
    await b.publish('orders.created', { id: 'e1' });
    await b.publishMany([
      { topic: 'orders.created', event: { id: 'e2' } },
      { topic: 'orders.paid', event: { id: 'e3' } },
    ]);
    await until(() => a.length === 3 && c.length === 2, 'deliveries', 3000, 20);
    expect(a).toEqual(['e1', 'e2', 'e3']);
    expect(c).toEqual(['e1', 'e2']);
  });

  it('redelivers a failing event and dead-letters it after the delivery limit', async () => {
    const b = await bus('t2');
    const attempts: number[] = [];
    b.subscribe(
      'jobs.run',
      'worker',
      (_e, info) => {
        attempts.push(info.attempt);
        throw new Error('always fails');
      },
      { maxAttempts: 3, retryDelayMs: 1 },
    );
    await sleep(500);
    await b.publish('jobs.run', { id: 'poison' });
    await until(() => attempts.length >= 3, 'three attempts', 3000, 20);
    const conn = await amqp.connect(server.url);
    const ch = await conn.createChannel();
    let dead: false | amqp.GetMessage = false;
    for (let i = 0; i < 250 && !dead; i++) {
      dead = await ch.get('worker:jobs.run.dlq', { noAck: true });
      if (!dead) await sleep(20);
    }
    await conn.close();
    expect(dead && JSON.parse(dead.content.toString()).id).toBe('poison');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('loses no confirmed event across a broker restart', async () => {
    const b = await openRabbitBus(`${server.url}?exchange=t3`, { minBackoffMs: 50, maxBackoffMs: 500 });
    open.push(b);
    const seen = new Set<string>();
    let deliveries = 0;
    b.subscribe('views.counted', 'analytics', (e: BusEvent) => {
      deliveries++;
      seen.add(e.id);
    });
    await sleep(500);
    const confirmed: string[] = [];
    let publishing = true;
    const publisher = (async () => {
      for (let i = 0; publishing && i < 100_000; i++) {
        const id = `v${i}`;
        try {
          await b.publish('views.counted', { id });
          confirmed.push(id);
        } catch {
          // A publish that failed (503 after its deadline) was never confirmed: not counted.
        }
        await sleep(2);
      }
    })();
    await until(() => confirmed.length > 50, 'events before the restart', 3000, 20);
    await server.restart();
    const afterRestart = confirmed.length;
    await until(() => confirmed.length > afterRestart + 50, 'events after the restart', 5000, 20);
    publishing = false;
    await publisher;
    await until(() => confirmed.every((id) => seen.has(id)), 'every confirmed event delivered', 5000, 20);
    expect(confirmed.filter((id) => !seen.has(id))).toEqual([]);
    // Duplicates are redeliveries only; the set of distinct ids is what idempotent consumers count.
    expect(deliveries).toBeGreaterThanOrEqual(seen.size);
  }, 180_000);

  it('dead-letters a null and a non-JSON message at once and says so', async () => {
    const dead: DeadLetter[] = [];
    const b = await openRabbitBus(`${server.url}?exchange=t4`, { onDeadLetter: (d) => dead.push(d) });
    open.push(b);
    const seen: string[] = [];
    b.subscribe('raw.events', 'analytics', (e) => {
      seen.push(e.id);
    });
    await new Promise((r) => setTimeout(r, 500));
    const conn = await amqp.connect(server.url);
    const ch = await conn.createConfirmChannel();
    for (const body of ['null', 'not json'])
      ch.publish('t4', 'raw.events', Buffer.from(body), { persistent: true });
    await ch.waitForConfirms();
    await b.publish('raw.events', { id: 'fine' });
    await until(
      () => seen.includes('fine') && dead.length === 2,
      'the good event and two dead letters',
      3000,
      20,
    );
    let inDlq = 0;
    for (let i = 0; i < 100 && inDlq < 2; i++) {
      if (await ch.get('analytics:raw.events.dlq', { noAck: true })) inDlq++;
      else await new Promise((r) => setTimeout(r, 20));
    }
    await conn.close();
    expect(inDlq).toBe(2);
    expect(dead.map((d) => [d.queue, d.reason])).toEqual([
      ['analytics:raw.events.dlq', 'the message is JSON null, not an event object'],
      ['analytics:raw.events.dlq', 'the message is not JSON'],
    ]);
    expect(seen).toEqual(['fine']);
  });

  it('fails to open with a clear message when the broker is unreachable', async () => {
    await expect(openBus('amqp://guest:guest@127.0.0.1:1')).rejects.toThrow(
      /cannot reach RabbitMQ at 127\.0\.0\.1:1/,
    );
  });
});
