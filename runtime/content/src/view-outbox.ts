/**
 * Buffers `content.viewed` events and writes them into the outbox in batches, retrying until the
 * database has stored them: a read that answered 200 is a view that must be counted, also when
 * PostgreSQL restarts in between (the write fails with "the database system is shutting down" and
 * the batch goes back to the front of the buffer, in order, for the next attempt).
 *
 * Views are buffered for at most `flushMs` and written in one transaction, and they do not wake
 * the relay (it picks them up on its next poll): a busy variant endpoint then costs one small write
 * per batch instead of a transaction and a durable bus append per request. What this cannot save:
 * views still buffered when the process is killed (kill -9), or past `maxBuffered` during a very
 * long outage (the oldest are dropped and counted in the log).
 *
 * A view gets its event id when it is recorded, not when it is written, and keeps it through
 * every retry: a COMMIT that went through but whose answer was lost (connection cut, server
 * shutting down right after) looks like a failure, and the retry writes the same batch again.
 * With the same ids the outbox ignores the rows it already has, and analytics (which counts each
 * event id once) would absorb a resend as well, so the view is not counted twice.
 */
import { randomUUID } from 'node:crypto';
import type { Db } from '../../lib/storage/db.ts';
import { enqueueOutbox } from '../../lib/storage/outbox.ts';

export type ViewEvent = {
  /** The event id, fixed when the view is recorded (see above). */
  id: string;
  type: 'view';
  contentId: string;
  userId: string;
  ts: number;
  traceparent: string | undefined;
};

export interface ViewOutboxOptions {
  flushMs?: number;
  batch?: number;
  /** Upper bound of buffered views while the database is away (memory: ~150 bytes each). */
  maxBuffered?: number;
  /** First retry delay after a failed write; doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /** Told once per outage (first failure) and again when the backlog is stored. */
  onError?: (err: unknown, buffered: number) => void;
  onRecovered?: (stored: number, outageMs: number) => void;
  onDropped?: (count: number) => void;
}

export class ViewOutbox {
  readonly #db: Db;
  readonly #views: ViewEvent[] = [];
  readonly #flushMs: number;
  readonly #batch: number;
  readonly #maxBuffered: number;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #options: ViewOutboxOptions;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #failingSince: number | undefined;
  #delayMs: number;

  constructor(db: Db, options: ViewOutboxOptions = {}) {
    this.#db = db;
    this.#options = options;
    this.#flushMs = options.flushMs ?? 20;
    this.#batch = options.batch ?? 500;
    this.#maxBuffered = options.maxBuffered ?? 200_000;
    this.#retryMs = options.retryMs ?? 100;
    this.#maxRetryMs = options.maxRetryMs ?? 2000;
    this.#delayMs = this.#retryMs;
  }

  /** Views waiting to be stored. */
  get buffered(): number {
    return this.#views.length;
  }

  /** Buffers a view; returns it with the event id it will be published under. */
  record(view: Omit<ViewEvent, 'id'>): ViewEvent {
    const event = { ...view, id: randomUUID() };
    this.#views.push(event);
    if (this.#views.length > this.#maxBuffered) {
      const dropped = this.#views.splice(0, this.#views.length - this.#maxBuffered).length;
      this.#options.onDropped?.(dropped);
    }
    // While failing, the retry timer is already set.
    if (this.#failingSince === undefined) {
      if (this.#views.length >= this.#batch) void this.flush();
      else this.#timer ??= setTimeout(() => this.#fire(), this.#flushMs);
    }
    return event;
  }

  #fire(): void {
    // A fired timer must not look pending, or record() would never set the next one.
    this.#timer = undefined;
    void this.flush();
  }

  /** Writes everything buffered now (one batch after another); on failure keeps it and retries later. */
  flush(): Promise<void> {
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #drain(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    let stored = 0;
    while (this.#views.length > 0) {
      const batch = this.#views.slice(0, this.#batch);
      try {
        await this.#db.transaction(async (tx) => {
          for (const v of batch) await enqueueOutbox(tx, 'content.viewed', v);
        });
      } catch (err) {
        if (this.#failingSince === undefined) {
          this.#failingSince = Date.now();
          this.#options.onError?.(err, this.#views.length);
        }
        this.#timer = setTimeout(() => this.#fire(), this.#delayMs);
        this.#delayMs = Math.min(this.#maxRetryMs, this.#delayMs * 2);
        return;
      }
      // Removed only once known committed. A failed transaction stored none of them, or all of
      // them if only the COMMIT's answer was lost: the retry's rows then conflict and are skipped.
      this.#views.splice(0, batch.length);
      stored += batch.length;
    }
    if (this.#failingSince !== undefined) {
      this.#options.onRecovered?.(stored, Date.now() - this.#failingSince);
      this.#failingSince = undefined;
      this.#delayMs = this.#retryMs;
    }
  }

  /** Stops retrying (shutdown): one last attempt, then whatever is left is reported as dropped. */
  async close(): Promise<void> {
    await this.flush();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#views.length > 0) this.#options.onDropped?.(this.#views.splice(0).length);
  }
}
