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
 */
import type { Db } from '../../lib/storage/db.ts';
import { enqueueOutbox } from '../../lib/storage/outbox.ts';

export type ViewEvent = {
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

  record(view: ViewEvent): void {
    this.#views.push(view);
    if (this.#views.length > this.#maxBuffered) {
      const dropped = this.#views.splice(0, this.#views.length - this.#maxBuffered).length;
      this.#options.onDropped?.(dropped);
    }
    if (this.#failingSince !== undefined) return; // the retry timer is already set
    if (this.#views.length >= this.#batch) void this.flush();
    else this.#timer ??= setTimeout(() => this.#fire(), this.#flushMs);
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
      // Removed only once committed: a failed transaction stored none of them.
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
