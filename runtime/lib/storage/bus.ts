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
export async function openBus(
  url: string,
  options: { onDeadLetter?: DeadLetterListener } = {},
): Promise<Bus> {
  const scheme = url.slice(0, url.indexOf(':'));
  const extra = options.onDeadLetter ? { onDeadLetter: options.onDeadLetter } : {};
  switch (scheme) {
    case 'embedded': {
      const { openEmbeddedBus } = await import('./embedded-bus.ts');
      const sync = urlParams(url).get('sync');
      return openEmbeddedBus(stripScheme(url), {
        synchronous: sync === 'normal' ? 'NORMAL' : 'FULL',
        ...extra,
      });
    }
    case 'amqp':
    case 'amqps': {
      const { openRabbitBus } = await import('./rabbitmq.ts');
      return openRabbitBus(url, extra);
    }
    case 'kafka': {
      const { openKafkaBus } = await import('./kafka.ts');
      return openKafkaBus(url, extra);
    }
    default:
      throw new Error(
        `BUS_URL has an unsupported scheme "${scheme}:"; supported: embedded://<dir>, amqp://… / amqps://… (RabbitMQ), kafka://host:9092`,
      );
  }
}

/** An event a consumer group gave up on, moved to its dead-letter queue. */
export interface DeadLetter {
  /** The event id (or, for a message that is not an event, where it was: `topic:partition:offset`). */
  id: string;
  /** The dead-letter queue or topic it went to. */
  queue: string;
  topic: string;
  /** Why: the handler's last error, or what is wrong with the message. */
  reason: string;
  attempts: number;
}

/** Told about every dead-lettered message (the service kit logs each one). */
export type DeadLetterListener = (dead: DeadLetter) => void;

/**
 * Thrown by a handler for an event that can never be processed (it parsed but fails validation):
 * dead-lettered at once instead of being retried `maxAttempts` times.
 */
export class UnprocessableEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnprocessableEventError';
  }
}

/**
 * What a consumer can do with a message body: an object with a string `id`, or a reason to
 * dead-letter it (`null`, a number, an array and non-JSON bytes all reached handlers before).
 */
export function parseEvent(text: string): { event: BusEvent } | { reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { reason: 'the message is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      reason: `the message is JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not an event object`,
    };
  }
  if (typeof (value as { id?: unknown }).id !== 'string') return { reason: 'the event has no string id' };
  return { event: value as BusEvent };
}

/** Ensures an event has an id. */
export function withId<E extends { id?: string }>(event: E): E & { id: string } {
  return { ...event, id: event.id ?? randomUUID() };
}
