/** HTTP API of the analytics service (under the gateway prefix `/analytics`). */
import { getHeapStatistics } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import { badRequest, HttpError } from '../../lib/http-errors.ts';
import type { Db } from '../../lib/storage/db.ts';
import { bindToCaller, callerOf, type IngestQuota } from './event-identity.ts';
import { EventValidationError, parseEventBody } from './events.ts';
import type { Ingestor } from './ingest.ts';
import type { ProjectorStats } from './projector.ts';
import { contentStats, recommendations, trending } from './queries.ts';

const CONTENT_ID = /^[\x21-\x7e]{1,128}$/;
const WINDOW = /^(\d{1,4})(m|h|d)$/;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const MAX_WINDOW_MS = 7 * 86_400_000;

function intParam(value: unknown, name: string, def: number, min: number, max: number): number {
  if (value === undefined || value === '') return def;
  const n = typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
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

function contentIdParam(params: unknown): string {
  const id = (params as { id?: unknown }).id;
  if (typeof id !== 'string' || !CONTENT_ID.test(id))
    throw badRequest('content id must be 1-128 printable ASCII characters');
  return id;
}

type Query = Record<string, unknown>;

/** What the routes need of the projection: read-your-writes and progress. */
export interface ProjectionHandle {
  catchUp(budgetMs?: number): Promise<unknown>;
  readonly stats: ProjectorStats;
  /** V8 heap committed by the projector thread. */
  readonly heapBytes: number;
}

export function registerRoutes(
  app: FastifyInstance,
  deps: { db: Db; logDb: Db; ingestor: Ingestor; projector: ProjectionHandle; quota: IngestQuota },
): void {
  const { db, logDb, ingestor, projector, quota } = deps;

  app.post('/analytics/events', async (request, reply) => {
    const caller = callerOf(request.headers);
    let events: ReturnType<typeof parseEventBody>;
    try {
      events = parseEventBody(request.body);
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
    bindToCaller(events, caller);
    quota.take(caller, events.length);
    const result = await ingestor.ingest(events);
    return reply.status(202).send(result);
  });

  app.get('/analytics/content/:id/stats', async (request) => {
    const id = contentIdParam(request.params);
    const minutes = intParam((request.query as Query).minutes, 'minutes', 60, 1, 1440);
    await projector.catchUp();
    return contentStats(db, id, minutes);
  });

  app.get('/analytics/trending', async (request) => {
    const q = request.query as Query;
    const windowMs = windowParam(q.window);
    const k = intParam(q.k, 'k', 10, 1, 100);
    await projector.catchUp();
    return { window: q.window ?? '1h', k, items: await trending(db, windowMs, k) };
  });

  app.get('/analytics/content/:id/recommendations', async (request) => {
    const id = contentIdParam(request.params);
    const k = intParam((request.query as Query).k, 'k', 5, 1, 100);
    await projector.catchUp();
    return { contentId: id, items: await recommendations(db, id, k) };
  });

  /**
   * Projection progress: `lag` = log batches not yet applied to the read models, `lagSeconds` =
   * age of the oldest of them (from the log itself, so it includes other replicas' appends).
   */
  app.get('/analytics/status', async () => {
    const position = await projectedPosition(db);
    const lag =
      (await logDb.get<{ n: number }>('SELECT count(*) AS n FROM ingest_log WHERE seq > ?', [position]))?.n ??
      0;
    const backlog = lag > 0 ? await unprojected(db, logDb) : undefined;
    const lagSeconds = backlog ? Math.max(0, Date.now() - backlog.oldestAt) / 1000 : 0;
    return {
      lag,
      lagSeconds,
      position,
      acknowledged: ingestor.acknowledged,
      projected: projector.stats,
      memory: {
        rssBytes: process.memoryUsage.rss(),
        heapBytes: getHeapStatistics().total_heap_size,
        projectorHeapBytes: projector.heapBytes,
      },
    };
  });
}

async function projectedPosition(db: Db): Promise<number> {
  return (
    (await db.get<{ position: number }>("SELECT position FROM projector_state WHERE name = 'main'"))
      ?.position ?? 0
  );
}

/** The log rows not yet projected: the newest seq and when the oldest was received; undefined if none. */
export async function unprojected(
  db: Db,
  logDb: Db,
): Promise<{ lastSeq: number; oldestAt: number } | undefined> {
  const position = await projectedPosition(db);
  const oldest = await logDb.get<{ received_at: number }>(
    'SELECT received_at FROM ingest_log WHERE seq > ? ORDER BY seq LIMIT 1',
    [position],
  );
  if (!oldest) return undefined;
  const last = await logDb.get<{ seq: number }>('SELECT max(seq) AS seq FROM ingest_log');
  return { lastSeq: Number(last?.seq ?? position), oldestAt: Number(oldest.received_at) };
}
