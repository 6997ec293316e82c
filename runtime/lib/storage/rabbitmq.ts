/**
 * RabbitMQ adapter for `Bus` (amqplib).
 *
 * Topology: one durable topic exchange (default `platform`); each `subscribe(topic, group)` gets a
 * durable quorum queue `<group>:<topic>` bound to it, so every group sees every event and the
 * consumers of one group share the queue's work. Quorum queues count deliveries: past
 * `x-delivery-limit` redeliveries the broker dead-letters the message through the `<exchange>.dlx`
 * exchange into `<queue>.dlq`.
 *
 * Guarantees: `publish` resolves only after the broker confirmed the message (persistent, on a
 * confirm channel); handlers are acked after they resolve, nacked (requeued) when they throw.
 * On connection loss the bus reconnects with exponential backoff, re-declares the topology and
 * resubscribes; publishes in flight wait for the new connection and are sent again (a message the
 * broker got but whose confirm was lost is published twice: consumers dedupe by event id, as they
 * must for any at-least-once bus).
 *
 * URL: `amqp://user:pass@host:5672/vhost?exchange=platform&prefetch=64&delivery_limit=5&publish_timeout_ms=30000`
 * (other query parameters, e.g. `heartbeat`, go to amqplib). A URL with a user and no password
 * takes the password from `BUS_PASSWORD` (as node-postgres takes `PGPASSWORD`), so manifests can
 * keep the broker's address in a ConfigMap and only the password in a Secret.
 */
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { dependencyUnavailable, type HttpError } from '../http-errors.ts';
import {
  type Bus,
  type BusEvent,
  type BusHandler,
  type DeadLetter,
  type DeadLetterListener,
  type DeliveryInfo,
  parseEvent,
  type SubscribeOptions,
  type Subscription,
  UnprocessableEventError,
  withId,
} from './bus.ts';

export interface RabbitBusOptions {
  exchange?: string;
  prefetch?: number;
  /** Attempts before an event is dead-lettered (first delivery included). Default 5. */
  maxAttempts?: number;
  /** A publish that cannot be confirmed within this time fails with 503. Default 30 s. */
  publishTimeoutMs?: number;
  /** Reconnect backoff bounds. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  onError?: (err: unknown, context: { what: string }) => void;
  /** Told about every message this consumer sends to a dead-letter queue. */
  onDeadLetter?: DeadLetterListener;
}

const OUR_PARAMS = ['exchange', 'prefetch', 'delivery_limit', 'publish_timeout_ms'];

export function parseAmqpUrl(
  url: string,
  env: NodeJS.ProcessEnv = process.env,
): { connectUrl: string; options: RabbitBusOptions } {
  const u = new URL(url);
  if (u.username && !u.password && env.BUS_PASSWORD) u.password = encodeURIComponent(env.BUS_PASSWORD);
  const int = (name: string): number | undefined => {
    const raw = u.searchParams.get(name);
    if (raw === null) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`BUS_URL parameter ${name} must be a positive whole number`);
    return n;
  };
  const options: RabbitBusOptions = {
    exchange: u.searchParams.get('exchange') ?? undefined,
    prefetch: int('prefetch'),
    maxAttempts: int('delivery_limit'),
    publishTimeoutMs: int('publish_timeout_ms'),
  };
  for (const p of OUR_PARAMS) u.searchParams.delete(p);
  return { connectUrl: u.toString(), options };
}

/** The embedded bus's prefix pattern `content.*` means "anything under content."; AMQP says `#`. */
export function bindingKey(topic: string): string {
  return topic.endsWith('.*') ? `${topic.slice(0, -2)}.#` : topic;
}

export function queueName(group: string, topic: string): string {
  return `${group}:${topic}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Attachable {
  readonly attached: boolean;
  attach(conn: ChannelModel): Promise<void>;
  detach(): void;
}

export class RabbitBus implements Bus {
  readonly exchange: string;
  readonly dlx: string;
  private readonly url: string;
  private readonly opts: Required<Omit<RabbitBusOptions, 'onError' | 'exchange' | 'onDeadLetter'>> &
    Pick<RabbitBusOptions, 'onError' | 'onDeadLetter'>;
  private conn: ChannelModel | undefined;
  private pub: ConfirmChannel | undefined;
  private waiters: (() => void)[] = [];
  private connecting: Promise<void> | undefined;
  private readonly subs = new Set<Attachable>();
  private closed = false;
  private lastError: unknown;

  constructor(url: string, options: RabbitBusOptions = {}) {
    this.url = url;
    this.exchange = options.exchange ?? 'platform';
    this.dlx = `${this.exchange}.dlx`;
    this.opts = {
      prefetch: options.prefetch ?? 64,
      maxAttempts: options.maxAttempts ?? 5,
      publishTimeoutMs: options.publishTimeoutMs ?? 30_000,
      minBackoffMs: options.minBackoffMs ?? 100,
      maxBackoffMs: options.maxBackoffMs ?? 5_000,
      onError: options.onError,
      onDeadLetter: options.onDeadLetter,
    };
  }

  /** Connects once (rejects if the broker is unreachable), then keeps the connection alive. */
  async start(): Promise<void> {
    await this.connectOnce();
  }

  private report(err: unknown, what: string): void {
    this.lastError = err;
    if (this.opts.onError) this.opts.onError(err, { what });
  }

  private async connectOnce(): Promise<void> {
    const conn = await amqp.connect(this.url);
    try {
      conn.on('error', (err: Error) => this.report(err, 'connection'));
      const pub = await conn.createConfirmChannel();
      pub.on('error', (err: Error) => this.report(err, 'publish channel'));
      await pub.assertExchange(this.exchange, 'topic', { durable: true });
      await pub.assertExchange(this.dlx, 'direct', { durable: true });
      this.conn = conn;
      this.pub = pub;
      conn.on('close', () => this.lost(conn));
      pub.on('close', () => {
        // A channel-level error (not a connection loss) closes only the channel: start over.
        if (this.conn === conn) void conn.close().catch(() => {});
      });
      for (const sub of this.subs) await sub.attach(conn);
    } catch (err) {
      await conn.close().catch(() => {});
      this.conn = undefined;
      this.pub = undefined;
      throw err;
    }
    for (const w of this.waiters.splice(0)) w();
  }

  private lost(conn: ChannelModel): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    this.pub = undefined;
    for (const sub of this.subs) sub.detach();
    if (!this.closed) this.reconnect();
  }

  private reconnect(): void {
    if (this.connecting) return;
    this.connecting = (async () => {
      let delay = this.opts.minBackoffMs;
      while (!this.closed && !this.conn) {
        try {
          await this.connectOnce();
        } catch (err) {
          this.report(err, 'reconnect');
          await sleep(delay * (0.8 + Math.random() * 0.4));
          delay = Math.min(delay * 2, this.opts.maxBackoffMs);
        }
      }
    })().finally(() => {
      this.connecting = undefined;
    });
  }

  /** The confirm channel, waiting for a reconnect (bounded by `deadline`). */
  private async channel(deadline: number): Promise<ConfirmChannel> {
    while (!this.pub) {
      if (this.closed) throw new Error('bus is closed');
      const left = deadline - Date.now();
      if (left <= 0) throw unavailable(this.lastError);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.pub;
  }

  private async confirmAll(items: readonly { topic: string; event: BusEvent }[]): Promise<void> {
    const deadline = Date.now() + this.opts.publishTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const ch = await this.channel(deadline);
      try {
        await Promise.all(
          items.map(
            ({ topic, event }) =>
              new Promise<void>((resolve, reject) => {
                ch.publish(
                  this.exchange,
                  topic,
                  Buffer.from(JSON.stringify(event)),
                  {
                    persistent: true,
                    messageId: event.id,
                    contentType: 'application/json',
                    timestamp: Math.floor(Date.now() / 1000),
                    headers: { 'x-published-at': Date.now() },
                  },
                  (err: unknown) =>
                    err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
                );
              }),
          ),
        );
        return;
      } catch (err) {
        // Unconfirmed because the channel or connection died (or the broker nacked): send again on
        // the next connection until the deadline.
        this.report(err, 'publish');
        if (this.closed) throw err;
        if (Date.now() >= deadline) throw unavailable(err);
        await sleep(Math.min(this.opts.minBackoffMs * 2 ** attempt, this.opts.maxBackoffMs));
      }
    }
  }

  async publish(topic: string, event: Omit<BusEvent, 'id'> & { id?: string }): Promise<BusEvent> {
    const full = withId(event) as BusEvent;
    await this.confirmAll([{ topic, event: full }]);
    return full;
  }

  async publishMany(items: readonly { topic: string; event: BusEvent }[]): Promise<void> {
    if (items.length > 0) await this.confirmAll(items);
  }

  subscribe<E extends BusEvent = BusEvent>(
    topic: string,
    group: string,
    handler: BusHandler<E>,
    options: SubscribeOptions = {},
  ): Subscription {
    const sub = new RabbitSubscription(this, topic, group, handler as BusHandler, {
      prefetch: options.batchSize ?? this.opts.prefetch,
      maxAttempts: options.maxAttempts ?? this.opts.maxAttempts,
      retryDelayMs: options.retryDelayMs ?? 200,
      report: (err, what) => this.report(err, what),
      deadLetter: (dead) => this.opts.onDeadLetter?.(dead),
    });
    this.subs.add(sub);
    if (this.conn) {
      const conn = this.conn;
      sub.attach(conn).catch((err) => {
        this.report(err, `subscribe ${queueName(group, topic)}`);
        void conn.close().catch(() => {});
      });
    }
    return {
      stop: async () => {
        this.subs.delete(sub);
        await sub.stop();
      },
    };
  }

  /**
   * Ready when connected and every subscription's queue is declared, bound and consumed: an event
   * published to the exchange before its group's queue is bound reaches no queue, so a consumer
   * service reports not-ready (`/readyz`) until then.
   */
  async ping(): Promise<void> {
    if (this.closed) throw new Error('bus is closed');
    if (!this.pub) throw unavailable(this.lastError);
    for (const sub of this.subs) {
      if (!sub.attached)
        throw new Error(`bus consumer ${(sub as RabbitSubscription).name} is not subscribed yet`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
    await Promise.all([...this.subs].map((s) => (s as RabbitSubscription).stop()));
    this.subs.clear();
    const conn = this.conn;
    this.conn = undefined;
    this.pub = undefined;
    await conn?.close().catch(() => {});
  }
}

function unavailable(cause: unknown): HttpError {
  return dependencyUnavailable(
    'BUS_UNAVAILABLE',
    'bus',
    'the message broker is unavailable; retry shortly',
    cause,
  );
}

interface SubscriptionSettings {
  prefetch: number;
  maxAttempts: number;
  retryDelayMs: number;
  report: (err: unknown, what: string) => void;
  deadLetter: (dead: DeadLetter) => void;
}

class RabbitSubscription implements Attachable {
  private ch: Channel | undefined;
  private tag: string | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly queue: string;
  private readonly bus: RabbitBus;
  attached = false;
  private readonly topic: string;
  private readonly handler: BusHandler;
  private readonly settings: SubscriptionSettings;

  constructor(
    bus: RabbitBus,
    topic: string,
    group: string,
    handler: BusHandler,
    settings: SubscriptionSettings,
  ) {
    this.bus = bus;
    this.topic = topic;
    this.handler = handler;
    this.settings = settings;
    this.queue = queueName(group, topic);
  }

  async attach(conn: ChannelModel): Promise<void> {
    if (this.stopped) return;
    const ch = await conn.createChannel();
    ch.on('error', (err: Error) => this.settings.report(err, `consumer ${this.queue}`));
    const dlq = `${this.queue}.dlq`;
    await ch.assertQueue(dlq, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await ch.bindQueue(dlq, this.bus.dlx, this.queue);
    await ch.assertQueue(this.queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        // Redeliveries allowed after the first delivery; the next failure dead-letters.
        'x-delivery-limit': Math.max(0, this.settings.maxAttempts - 1),
        'x-dead-letter-exchange': this.bus.dlx,
        'x-dead-letter-routing-key': this.queue,
      },
    });
    await ch.bindQueue(this.queue, this.bus.exchange, bindingKey(this.topic));
    await ch.prefetch(this.settings.prefetch);
    this.ch = ch;
    const { consumerTag } = await ch.consume(this.queue, (msg) => {
      if (msg) this.chain = this.chain.then(() => this.deliver(ch, msg));
    });
    this.tag = consumerTag;
    this.attached = true;
  }

  get name(): string {
    return this.queue;
  }

  detach(): void {
    this.ch = undefined;
    this.tag = undefined;
    this.attached = false;
  }

  private deadLettered(id: string, topic: string, reason: string, attempts: number): void {
    this.settings.deadLetter({ id, queue: `${this.queue}.dlq`, topic, reason, attempts });
  }

  private async deliver(ch: Channel, msg: ConsumeMessage): Promise<void> {
    // Messages of a dead channel were requeued by the broker; handling them would only duplicate.
    if (this.ch !== ch || this.stopped) return;
    const headers = msg.properties.headers ?? {};
    const attempt = Number(headers['x-delivery-count'] ?? 0) + 1;
    const parsed = parseEvent(msg.content.toString('utf8'));
    if ('reason' in parsed) {
      const id =
        typeof msg.properties.messageId === 'string'
          ? msg.properties.messageId
          : `${this.queue}#${msg.fields.deliveryTag}`;
      this.deadLettered(id, msg.fields.routingKey, parsed.reason, attempt);
      ch.nack(msg, false, false); // straight to the dead-letter queue
      return;
    }
    const event = parsed.event;
    const info: DeliveryInfo = {
      topic: msg.fields.routingKey,
      seq: msg.fields.deliveryTag,
      attempt,
      publishedAt: Number(headers['x-published-at'] ?? Date.now()),
    };
    try {
      await this.handler(event, info);
    } catch (err) {
      this.settings.report(err, `handler ${this.queue}`);
      const reason = err instanceof Error ? err.message : String(err);
      if (err instanceof UnprocessableEventError) {
        this.deadLettered(event.id, info.topic, reason, attempt);
        if (this.ch === ch) ch.nack(msg, false, false);
        return;
      }
      await sleep(this.settings.retryDelayMs * info.attempt);
      if (this.ch !== ch) return;
      // Past the queue's delivery limit the broker dead-letters this requeue.
      if (attempt >= this.settings.maxAttempts) this.deadLettered(event.id, info.topic, reason, attempt);
      ch.nack(msg, false, true);
      return;
    }
    // If the channel died meanwhile the broker redelivers; the consumer's idempotency absorbs it.
    if (this.ch === ch) ch.ack(msg);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const ch = this.ch;
    const tag = this.tag;
    if (ch && tag) await ch.cancel(tag).catch(() => {});
    await this.chain;
    this.detach();
    await ch?.close().catch(() => {});
  }
}

/** Opens a RabbitMQ bus; rejects (clearly) when the broker cannot be reached at start. */
export async function openRabbitBus(url: string, overrides: RabbitBusOptions = {}): Promise<RabbitBus> {
  const { connectUrl, options } = parseAmqpUrl(url);
  const bus = new RabbitBus(connectUrl, { ...options, ...overrides });
  try {
    await bus.start();
  } catch (err) {
    const where = new URL(connectUrl);
    throw new Error(
      `cannot reach RabbitMQ at ${where.hostname}:${where.port || 5672} (${(err as Error).message}); check BUS_URL/AMQP_URL and that the broker runs`,
      { cause: err },
    );
  }
  return bus;
}
