/**
 * Who may say what happened. Events posted over HTTP are tied to the caller the gateway verified
 * (`x-user-id`, `x-user-scope` from the JWT; analytics is reachable only through the gateway):
 * - a user's events are theirs: `userId` is taken from the token whatever the body says, and
 *   server-side event types (`upload`) are refused;
 * - a server-side producer uses a client-credentials service token carrying the scope
 *   `analytics:write`, which lets it post events for any user and of any type.
 * Each caller also has an ingest budget (a token bucket of events), so one account cannot flood
 * the log; trending counts distinct users, so one account cannot top it either.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { HttpError } from '../../lib/http-errors.ts';
import type { StoredEvent } from './events.ts';

/** The scope a service token needs to post events on behalf of other users. */
export const WRITE_ANY_USER_SCOPE = 'analytics:write';

/** Event types only server-side producers may post (the content service's own facts). */
const SERVER_TYPES = new Set(['upload']);

const CALLER = /^[A-Za-z0-9._:@|-]{1,128}$/;

export interface Caller {
  id: string;
  /** May post events for other users and of server-side types. */
  producer: boolean;
}

/** The verified caller from the gateway's headers; 401 without one. */
export function callerOf(headers: IncomingHttpHeaders): Caller {
  const id = headers['x-user-id'];
  if (typeof id !== 'string' || !CALLER.test(id))
    throw new HttpError(401, 'UNAUTHENTICATED', 'posting events needs a token (through the gateway)');
  const scope = headers['x-user-scope'];
  const scopes = typeof scope === 'string' ? scope.split(' ') : [];
  return { id, producer: scopes.includes(WRITE_ANY_USER_SCOPE) };
}

/** Applies the caller's rights to a validated batch (in place): user ids from the token, no server types. */
export function bindToCaller(events: StoredEvent[], caller: Caller): void {
  if (caller.producer) return;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as StoredEvent;
    if (SERVER_TYPES.has(e[1]))
      throw new HttpError(
        403,
        'EVENT_TYPE_FORBIDDEN',
        `events[${i}].type "${e[1]}" is recorded by the platform itself; a service token with scope ${WRITE_ANY_USER_SCOPE} may post it`,
      );
    e[3] = caller.id;
  }
}

export interface IngestQuotaOptions {
  /** Events per second a caller may post, sustained. */
  eventsPerSecond: number;
  /** Events a caller may post at once (at least one full batch). */
  burst: number;
}

const MAX_CALLERS = 100_000;

/** Token buckets of events per caller; producers are not limited here. */
export class IngestQuota {
  readonly #opts: IngestQuotaOptions;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(opts: IngestQuotaOptions) {
    this.#opts = opts;
  }

  /** Takes `n` events from the caller's budget, or throws 429 with the wait in Retry-After. */
  take(caller: Caller, n: number, now = Date.now()): void {
    if (caller.producer || this.#opts.eventsPerSecond <= 0) return;
    const { eventsPerSecond: rate, burst } = this.#opts;
    let b = this.#buckets.get(caller.id);
    if (!b) {
      if (this.#buckets.size >= MAX_CALLERS) this.#forgetFull(now);
      b = { tokens: burst, at: now };
    } else {
      b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
      b.at = now;
    }
    this.#buckets.delete(caller.id);
    this.#buckets.set(caller.id, b);
    if (b.tokens < n) {
      const waitS = Math.max(1, Math.ceil((n - b.tokens) / rate));
      throw new HttpError(
        429,
        'INGEST_RATE_LIMITED',
        `too many events from ${caller.id}; retry after ${waitS}s`,
        {
          retryAfterS: waitS,
        },
      );
    }
    b.tokens -= n;
  }

  #forgetFull(now: number): void {
    for (const [id, b] of this.#buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.#opts.eventsPerSecond >= this.#opts.burst)
        this.#buckets.delete(id);
    }
    // Still full of active callers: drop the least recently seen.
    const oldest = this.#buckets.keys().next();
    if (this.#buckets.size >= MAX_CALLERS && !oldest.done) this.#buckets.delete(oldest.value);
  }
}
