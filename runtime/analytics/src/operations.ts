/**
 * What analytics offers its callers, whatever the protocol: the REST routes (routes.ts) and the
 * gRPC methods (grpc-api.ts) both call these, so validation, identity, the ingest budget,
 * idempotency and read-your-writes are one code path. Parameters arrive as the caller sent them
 * (`unknown`) and are validated here; a bad one is an HttpError 400 (INVALID_ARGUMENT over gRPC).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { badRequest, HttpError } from '../../lib/http-errors.ts';
import type { Db } from '../../lib/storage/db.ts';
import { bindToCaller, callerOf, type IngestQuota } from './event-identity.ts';
import { EventValidationError, parseEventBody, type StoredEvent } from './events.ts';
import { type Ingestor, type IngestResult, ProjectionLaggingError } from './ingest.ts';
import type { ProjectorStats } from './projector.ts';
import {
  type ContentStats,
  contentStats,
  type Recommendation,
  recommendations,
  type TrendingItem,
  trending,
} from './queries.ts';

const CONTENT_ID = /^[\x21-\x7e]{1,128}$/;
const WINDOW = /^(\d{1,4})(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_WINDOW_MS = 7 * 86_400_000;

/** An integer parameter: a query string's digits or a message's number; unset or '' is `def`. */
function intParam(value: unknown, name: string, def: number, min: number, max: number): number {
  if (value === undefined || value === '') return def;
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,6}$/.test(value)
        ? Number(value)
        : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw badRequest(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

function windowParam(value: unknown): number {
  if (value === undefined || value === '') return 3_600_000;
  const m = typeof value === 'string' ? WINDOW.exec(value) : null;
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : Number.NaN;
  if (!(ms >= 60_000 && ms <= MAX_WINDOW_MS))
    throw badRequest('window must look like 15m, 1h or 1d (1m to 7d)');
  return ms;
}

function contentIdParam(id: unknown): string {
  if (typeof id !== 'string' || !CONTENT_ID.test(id))
    throw badRequest('content id must be 1-128 printable ASCII characters');
  return id;
}

/** What the operations need of the projection: read-your-writes and progress. */
export interface ProjectionHandle {
  catchUp(budgetMs?: number): Promise<unknown>;
  readonly stats: ProjectorStats;
  /** V8 heap committed by the projector thread. */
  readonly heapBytes: number;
}

export interface AnalyticsDeps {
  db: Db;
  logDb: Db;
  ingestor: Ingestor;
  projector: ProjectionHandle;
  quota: IngestQuota;
}

export interface AnalyticsOperations {
  /**
   * Records a body as `POST /analytics/events` takes it (one event or `{ events: [...] }`) for
   * the caller the gateway verified (`x-user-id`, `x-user-scope` in `headers`): validated all or
   * nothing, bound to the caller, charged to the caller's budget, durably logged, duplicates
   * (ids seen before) not counted again. While the read models trail the log past
   * `ANALYTICS_MAX_LAG_MS` or `ANALYTICS_MAX_BACKLOG_EVENTS` for longer than the admission wait: a
   * 503 `INGEST_LAGGING` with Retry-After, nothing recorded.
   */
  ingest(body: unknown, headers: IncomingHttpHeaders): Promise<IngestResult>;
  /** One item's stats over the last `minutes` (1-1440, default 60). */
  contentStats(contentId: unknown, minutes: unknown): Promise<ContentStats>;
  /** Top `k` (1-100, default 10) items over `window` (`15m`, `1h`, `1d`; 1m-7d, default 1h). */
  trending(window: unknown, k: unknown): Promise<{ window: string; k: number; items: TrendingItem[] }>;
  /** The `k` (1-100, default 5) items most co-viewed with `contentId`. */
  recommendations(contentId: unknown, k: unknown): Promise<{ contentId: string; items: Recommendation[] }>;
}

/** Validates a body into stored events; bad events are a 400 `INVALID_EVENTS` listing the problems. */
function parseEvents(body: unknown): StoredEvent[] {
  try {
    return parseEventBody(body);
  } catch (err) {
    if (err instanceof EventValidationError) {
      throw new HttpError(
        400,
        'INVALID_EVENTS',
        err.message,
        err.problems.length ? { details: { problems: err.problems } } : {},
      );
    }
    throw err;
  }
}

export function analyticsOperations(deps: AnalyticsDeps): AnalyticsOperations {
  const { db, ingestor, projector, quota } = deps;
  return {
    async ingest(body, headers) {
      const caller = callerOf(headers);
      const events = parseEvents(body);
      bindToCaller(events, caller);
      quota.take(caller, events.length);
      try {
        return await ingestor.ingest(events, { refuseWhenLagging: true });
      } catch (err) {
        if (err instanceof ProjectionLaggingError) {
          throw new HttpError(503, 'INGEST_LAGGING', `${err.message} (nothing was recorded)`, {
            retryAfterS: 1,
          });
        }
        throw err;
      }
    },
    async contentStats(contentId, minutes) {
      const id = contentIdParam(contentId);
      const span = intParam(minutes, 'minutes', 60, 1, 1440);
      await projector.catchUp();
      return contentStats(db, id, span);
    },
    async trending(window, k) {
      const windowMs = windowParam(window);
      const top = intParam(k, 'k', 10, 1, 100);
      await projector.catchUp();
      return {
        window: typeof window === 'string' && window !== '' ? window : '1h',
        k: top,
        items: await trending(db, windowMs, top),
      };
    },
    async recommendations(contentId, k) {
      const id = contentIdParam(contentId);
      const top = intParam(k, 'k', 5, 1, 100);
      await projector.catchUp();
      return { contentId: id, items: await recommendations(db, id, top) };
    },
  };
}
