/** HTTP API of the analytics service (under the gateway prefix `/analytics`). */
import { getHeapStatistics } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../../lib/http-errors.ts';
import type { Db } from '../../lib/storage/db.ts';
import type { AnalyticsDeps, AnalyticsOperations } from './operations.ts';

type Query = Record<string, unknown>;

export function registerRoutes(app: FastifyInstance, ops: AnalyticsOperations, deps: AnalyticsDeps): void {
  const { db, logDb, ingestor, projector } = deps;

  app.post('/analytics/events', async (request, reply) => {
    try {
      return reply.status(202).send(await ops.ingest(request.body, request.headers));
    } catch (err) {
      // Load shedding while projection catches up, not a failure: the gateway relays it without
      // retrying elsewhere and keeps this instance in rotation (see gateway/src/proxy.ts).
      if (err instanceof HttpError && err.code === 'INGEST_LAGGING') reply.header('x-overloaded', 'true');
      throw err;
    }
  });

  app.get('/analytics/content/:id/stats', async (request) =>
    ops.contentStats((request.params as { id?: unknown }).id, (request.query as Query).minutes),
  );

  app.get('/analytics/trending', async (request) => {
    const q = request.query as Query;
    return ops.trending(q.window, q.k);
  });

  app.get('/analytics/content/:id/recommendations', async (request) =>
    ops.recommendations((request.params as { id?: unknown }).id, (request.query as Query).k),
  );

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
