/**
 * The event bus seam: durable publish, consumer groups, at-least-once delivery. `openBus(url)`
 * picks the adapter by scheme: `embedded://<dir>` (a SQLite WAL log shared by processes on one
 * host) today, `amqp://` (RabbitMQ) later. Consumers must be idempotent by event `id`.
 */
import { randomUUID } from 'node:crypto';
import { stripScheme, urlParams } from './db.ts';

/** What travels on the bus. `id` is unique per event and is the idempotency key for consumers. */
export interface BusEvent {
  id: string;
  [key: string]: unknown;
}

export interface DeliveryInfo {
  topic: string;
  /** Position in the log (monotonic per bus). */
  seq: number;
  /** 1 on first delivery, more on redeliveries. */
  attempt: number;
  publishedAt: number;
}

/** Resolve to ack; throw (or crash) to have the event redelivered. */
export type BusHandler<E extends BusEvent = BusEvent> = (
  event: E,
  info: DeliveryInfo,
) => Promise<void> | void;

export interface SubscribeOptions {
  /** Max events claimed per poll. Default 64. */
  batchSize?: number;
  /** A claimed event not acked within this time is redelivered (consumer crashed). Default 30 s. */
  visibilityTimeoutMs?: number;
  /** After this many failed attempts the event goes to the dead-letter table. Default 5. */
  maxAttempts?: number;
  /** Delay before redelivering an event whose handler threw. Default 200 ms × attempt. */
  retryDelayMs?: number;
}

export interface Subscription {
  /** Stops polling and waits for the handler in progress; unacked events will be redelivered. */
  stop(): Promise<void>;
}

export interface Bus {
  /** Appends the event; resolves once it is committed to durable storage. Fills in `id` if absent. */
  publish(topic: string, event: Omit<BusEvent, 'id'> & { id?: string }): Promise<BusEvent>;
  /** Appends several events atomically (all or none), in order. */
  publishMany(items: readonly { topic: string; event: BusEvent }[]): Promise<void>;
  /**
   * Consumes `topic` (exact, or a prefix pattern like `content.*`) as consumer group `group`:
   * every group sees every event once (at least), consumers in the same group share the work.
   */
  subscribe<E extends BusEvent = BusEvent>(
    topic: string,
    group: string,
    handler: BusHandler<E>,
    options?: SubscribeOptions,
  ): Subscription;
  ping(): Promise<void>;
  /** Stops every subscription (waiting for in-flight handlers) and closes the log. */
  close(): Promise<void>;
}

/**
 * Opens a bus by URL: `embedded:///abs/dir` (optionally `?sync=normal`) or
 * `amqp://user:pass@host:5672/vhost` (RabbitMQ, see rabbitmq.ts).
 */
export async function openBus(url: string): Promise<Bus> {
  const scheme = url.slice(0, url.indexOf(':'));
  switch (scheme) {
    case 'embedded': {
      const { openEmbeddedBus } = await import('./embedded-bus.ts');
      const sync = urlParams(url).get('sync');
      return openEmbeddedBus(stripScheme(url), { synchronous: sync === 'normal' ? 'NORMAL' : 'FULL' });
    }
    case 'amqp':
    case 'amqps': {
      const { openRabbitBus } = await import('./rabbitmq.ts');
      return openRabbitBus(url);
    }
    case 'kafka': {
      const { openKafkaBus } = await import('./kafka.ts');
      return openKafkaBus(url);
    }
    default:
      throw new Error(
        `BUS_URL has an unsupported scheme "${scheme}:"; supported: embedded://<dir>, amqp://… / amqps://… (RabbitMQ), kafka://host:9092`,
      );
  }
}

/** Ensures an event has an id. */
export function withId<E extends { id?: string }>(event: E): E & { id: string } {
  return { ...event, id: event.id ?? randomUUID() };
}
