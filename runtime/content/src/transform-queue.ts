/**
 * A bounded queue in front of image transforms. Encoding a variant costs hundreds of milliseconds
 * of CPU and tens of megabytes; without a bound, a few clients asking for distinct variants pile
 * up work faster than it drains, memory climbs, every request waits behind the pile, and the
 * service keeps encoding long after the clients gave up. Here at most `concurrency` transforms
 * run and at most `maxQueued` wait; past that the caller is told at once to come back later
 * (503 + Retry-After), so cached variants and raw reads keep their latency. A waiting job whose
 * client went away is dropped before it starts.
 */

export interface TransformQueueOptions {
  /** Transforms running at once (about one per core). */
  concurrency: number;
  /** Transforms allowed to wait; more are refused. */
  maxQueued: number;
  /**
   * Longest a transform may wait for a slot (default: unbounded). Refused up front when the
   * queue ahead is expected to take longer, and dropped if it still waited past it, so that an
   * answer comes before the caller's (or the gateway's) own timeout turns it into a failure.
   */
  maxWaitMs?: number;
}

/** Thrown when the queue is full, or a job waited past its deadline. */
export class QueueFullError extends Error {
  readonly retryAfterS: number;
  constructor(retryAfterS: number) {
    super('image transforms are at capacity; retry later');
    this.retryAfterS = retryAfterS;
  }
}

/** The reason a caller aborts a waiting job with when its client went away. */
export class ClientGoneError extends Error {
  constructor() {
    super('the client went away');
  }
}

interface Waiting {
  start: () => void;
  reject: (err: unknown) => void;
  since: number;
}

export class TransformQueue {
  readonly #opts: TransformQueueOptions;
  readonly #waiting: Waiting[] = [];
  #running = 0;
  /** Mean duration of recent transforms (ms), for an honest Retry-After. */
  #meanMs = 500;
  /** Jobs refused because the queue was full, since start. */
  rejected = 0;

  constructor(opts: TransformQueueOptions) {
    this.#opts = {
      concurrency: Math.max(1, opts.concurrency),
      maxQueued: Math.max(0, opts.maxQueued),
      maxWaitMs: opts.maxWaitMs ?? Number.POSITIVE_INFINITY,
    };
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `job` when a slot is free. Rejects with QueueFullError when `maxQueued` jobs already
   * wait, and with the signal's reason when the caller gives up while waiting.
   */
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#running < this.#opts.concurrency) return this.#start(job);
    if (
      this.#waiting.length >= this.#opts.maxQueued ||
      this.#expectedWaitMs() > (this.#opts.maxWaitMs ?? 0)
    ) {
      this.rejected++;
      return Promise.reject(new QueueFullError(this.#retryAfterS()));
    }
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#start(job).then(resolve, reject);
        },
        reject,
        since: performance.now(),
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(entry);
        if (i !== -1) this.#waiting.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }

  async #start<T>(job: () => Promise<T>): Promise<T> {
    this.#running++;
    const t0 = performance.now();
    try {
      return await job();
    } finally {
      this.#meanMs = this.#meanMs * 0.8 + (performance.now() - t0) * 0.2;
      this.#running--;
      this.#next();
    }
  }

  /** Starts the next waiting job, dropping those that waited too long to be worth starting. */
  #next(): void {
    const now = performance.now();
    for (let w = this.#waiting.shift(); w; w = this.#waiting.shift()) {
      if (now - w.since <= (this.#opts.maxWaitMs ?? Number.POSITIVE_INFINITY)) {
        w.start();
        return;
      }
      this.rejected++;
      w.reject(new QueueFullError(this.#retryAfterS()));
    }
  }

  /** How long a job queued now would wait for a slot, from the recent mean duration. */
  #expectedWaitMs(): number {
    const ahead = this.#waiting.length + this.#running - this.#opts.concurrency + 1;
    return ahead <= 0 ? 0 : (ahead * this.#meanMs) / this.#opts.concurrency;
  }

  /** Time for the queue ahead to drain, in whole seconds (at least 1). */
  #retryAfterS(): number {
    const ahead = this.#waiting.length + this.#running;
    return Math.max(1, Math.ceil((ahead * this.#meanMs) / this.#opts.concurrency / 1000));
  }
}
