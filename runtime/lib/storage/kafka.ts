/**
 * Kafka adapter for `Bus` (@platformatic/kafka), behind a small client seam: unit tests use an
 * in-memory fake, test/integration/backends/kafka.test.ts a real single-node broker (KRaft).
 *
 * URL: `kafka://broker1:9092,broker2:9092?client_id=platform&delivery_limit=5`.
 * - `publish` resolves once the partition leader and in-sync replicas acknowledged (`acks: -1`,
 *   idempotent producer); the event id is the message key, so one id always lands on one partition.
 * - Each `subscribe(topic, group)` is a Kafka consumer group reading from its committed offset; an
 *   offset is committed only after the handler resolved (at-least-once). Kafka has no per-message
 *   redelivery, so a failing handler is retried in place (`retryDelayMs × attempt`) and after
 *   `maxAttempts` the event goes to the topic `<group>.<topic>.dlq` and the offset moves on.
 * - Topics must be exact names: the embedded bus's prefix patterns (`content.*`) are refused.
 */
import { dependencyUnavailable } from '../http-errors.ts';
import {
  type Bus,
  type BusEvent,
  type BusHandler,
  type DeadLetterListener,
  type DeliveryInfo,
  parseEvent,
  type SubscribeOptions,
  type Subscription,
  UnprocessableEventError,
  withId,
} from './bus.ts';

/** What the adapter needs from a producer (the shape of @platformatic/kafka's `Producer`). */
export interface KafkaProducerLike {
  send(options: {
    messages: { topic: string; key: Buffer; value: Buffer; headers?: Map<Buffer, Buffer> }[];
    acks?: number;
  }): Promise<unknown>;
  /** A metadata round trip: proves a broker answers (the health check). */
  metadata(options: { topics: string[] }): Promise<unknown>;
  close(): Promise<void>;
}

export interface KafkaMessageLike {
  topic: string;
  partition: number;
  offset: bigint;
  value: Buffer;
  timestamp?: bigint | string | number;
  commit(): void | Promise<void>;
}

export interface KafkaStreamLike extends AsyncIterable<KafkaMessageLike> {
  close(): Promise<void>;
}

export interface KafkaConsumerLike {
  consume(options: { topics: string[]; mode: 'committed'; autocommit: false }): Promise<KafkaStreamLike>;
  close(force?: boolean): Promise<void>;
}

export interface KafkaClients {
  producer(): KafkaProducerLike;
  consumer(groupId: string): KafkaConsumerLike;
}

export interface KafkaBusOptions {
  maxAttempts?: number;
  /** Told about every message sent to a `.dlq` topic. */
  onDeadLetter?: DeadLetterListener;
  onError?: (err: unknown, context: { what: string }) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const RECONNECT_MIN_MS = 200;
const RECONNECT_MAX_MS = 5000;
/** A publish not acknowledged by then answers 503 (the caller retries; consumers dedupe by id). */
const PUBLISH_TIMEOUT_MS = 15_000;
const PING_TIMEOUT_MS = 1500;

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class KafkaBus implements Bus {
  private readonly clients: KafkaClients;
  private readonly options: KafkaBusOptions;
  private producerInstance: KafkaProducerLike | undefined;
  private readonly subs = new Set<{ stop(): Promise<void> }>();
  private closed = false;

  constructor(clients: KafkaClients, options: KafkaBusOptions = {}) {
    this.clients = clients;
    this.options = options;
  }

  private producer(): KafkaProducerLike {
    this.producerInstance ??= this.clients.producer();
    return this.producerInstance;
  }

  private async send(items: readonly { topic: string; event: BusEvent }[]): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    try {
      await within(
        this.producer().send({
          acks: -1,
          messages: items.map(({ topic, event }) => ({
            topic,
            key: Buffer.from(event.id),
            value: Buffer.from(JSON.stringify(event)),
            headers: new Map([[Buffer.from('x-published-at'), Buffer.from(String(Date.now()))]]),
          })),
        }),
        PUBLISH_TIMEOUT_MS,
        'publishing to Kafka',
      );
    } catch (err) {
      throw dependencyUnavailable(
        'BUS_UNAVAILABLE',
        'bus',
        'the message broker is unavailable; retry shortly',
        err,
      );
    }
  }

  async publish(topic: string, event: Omit<BusEvent, 'id'> & { id?: string }): Promise<BusEvent> {
    const full = withId(event) as BusEvent;
    await this.send([{ topic, event: full }]);
    return full;
  }

  async publishMany(items: readonly { topic: string; event: BusEvent }[]): Promise<void> {
    if (items.length > 0) await this.send(items);
  }

  subscribe<E extends BusEvent = BusEvent>(
    topic: string,
    group: string,
    handler: BusHandler<E>,
    options: SubscribeOptions = {},
  ): Subscription {
    if (topic.includes('*')) {
      throw new Error(
        `Kafka subscriptions need exact topic names; subscribe to each topic instead of "${topic}"`,
      );
    }
    const maxAttempts = options.maxAttempts ?? this.options.maxAttempts ?? 5;
    const retryDelayMs = options.retryDelayMs ?? 200;
    const report = (err: unknown, what: string) => this.options.onError?.(err, { what });
    let consumer: KafkaConsumerLike | undefined;
    let stream: KafkaStreamLike | undefined;
    let stopped = false;
    const dlq = `${group}.${topic}.dlq`;

    const deadLettered = (id: string, reason: string, attempts: number) =>
      this.options.onDeadLetter?.({ id, queue: dlq, topic, reason, attempts });
    const deliver = async (msg: KafkaMessageLike) => {
      const parsed = parseEvent(msg.value.toString('utf8'));
      if ('reason' in parsed) {
        const id = `${topic}:${msg.partition}:${msg.offset}`;
        await this.send([
          { topic: dlq, event: { id, raw: msg.value.toString('base64'), reason: parsed.reason } },
        ]);
        await msg.commit();
        deadLettered(id, parsed.reason, 1);
        return;
      }
      const event = parsed.event;
      for (let attempt = 1; !stopped; attempt++) {
        const info: DeliveryInfo = {
          topic: msg.topic,
          seq: Number(msg.offset),
          attempt,
          publishedAt: Number(msg.timestamp ?? Date.now()),
        };
        try {
          await handler(event as E, info);
          await msg.commit();
          return;
        } catch (err) {
          report(err, `handler ${group}:${topic}`);
          if (attempt >= maxAttempts || err instanceof UnprocessableEventError) {
            await this.send([{ topic: dlq, event }]);
            await msg.commit();
            deadLettered(event.id, err instanceof Error ? err.message : String(err), attempt);
            return;
          }
          await sleep(retryDelayMs * attempt);
        }
      }
      // Stopped mid-retry: the offset stays uncommitted, so the group sees the event again.
    };

    // A broker restart ends the stream with an error: join the group again (from the committed
    // offset, so nothing acknowledged is lost) with a growing pause, until stopped.
    const running = (async () => {
      let backoffMs = RECONNECT_MIN_MS;
      while (!stopped) {
        try {
          consumer = this.clients.consumer(group);
          stream = await consumer.consume({ topics: [topic], mode: 'committed', autocommit: false });
          backoffMs = RECONNECT_MIN_MS;
          for await (const msg of stream) {
            if (stopped) break;
            await deliver(msg);
          }
        } catch (err) {
          if (!stopped) report(err, `consumer ${group}:${topic}`);
        }
        await stream?.close().catch(() => {});
        if (consumer)
          await within(consumer.close(true), PING_TIMEOUT_MS, 'closing a consumer').catch(() => {});
        if (stopped) break;
        await sleep(backoffMs);
        backoffMs = Math.min(RECONNECT_MAX_MS, backoffMs * 2);
      }
    })();

    const sub = {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await stream?.close().catch(() => {});
        await running;
        this.subs.delete(sub);
      },
    };
    this.subs.add(sub);
    return sub;
  }

  /** A metadata round trip to the brokers: an unreachable cluster is not healthy. */
  async ping(): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    try {
      // The client retries an unreachable broker for a long time; a health check must answer.
      await within(this.producer().metadata({ topics: [] }), PING_TIMEOUT_MS, 'a metadata request');
    } catch (err) {
      throw dependencyUnavailable(
        'BUS_UNAVAILABLE',
        'bus',
        `cannot reach the Kafka brokers: ${messageOf(err)}`,
        err,
      );
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subs].map((s) => s.stop()));
    // Closing waits for in-flight requests; against a dead broker that would be forever.
    if (this.producerInstance) {
      await within(this.producerInstance.close(), PING_TIMEOUT_MS, 'closing the producer').catch(() => {});
    }
  }
}

/** `kafka://b1:9092,b2:9092?client_id=x&delivery_limit=5` → brokers and options. */
export function parseKafkaUrl(url: string): { brokers: string[]; clientId: string; maxAttempts?: number } {
  const rest = url.replace(/^kafka:\/\//, '');
  const [hosts = '', query = ''] = rest.split('?');
  const brokers = hosts.split(',').filter(Boolean);
  if (brokers.length === 0) throw new Error('BUS_URL kafka:// needs at least one broker: kafka://host:9092');
  const q = new URLSearchParams(query);
  const limit = q.get('delivery_limit');
  return {
    brokers,
    clientId: q.get('client_id') ?? 'platform',
    ...(limit ? { maxAttempts: Number(limit) } : {}),
  };
}

/** Opens a Kafka bus on real brokers through @platformatic/kafka. */
export async function openKafkaBus(url: string, overrides: KafkaBusOptions = {}): Promise<KafkaBus> {
  const { brokers, clientId, maxAttempts } = parseKafkaUrl(url);
  const { Producer, Consumer } = await import('@platformatic/kafka');
  const clients: KafkaClients = {
    // Topics are created on first use (as RabbitMQ declares queues): without it a publish to a new
    // topic fails with "Unknown topic", so the adapter never worked against a fresh cluster.
    producer: () =>
      new Producer({
        clientId,
        bootstrapBrokers: brokers,
        idempotent: true,
        autocreateTopics: true,
      }) as unknown as KafkaProducerLike,
    consumer: (groupId) =>
      new Consumer({
        clientId,
        groupId,
        bootstrapBrokers: brokers,
        autocreateTopics: true,
      }) as unknown as KafkaConsumerLike,
  };
  return new KafkaBus(clients, { ...(maxAttempts ? { maxAttempts } : {}), ...overrides });
}
