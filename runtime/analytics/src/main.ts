/**
 * analytics: event ingest (HTTP batches, gRPC and the bus), per-minute rollups, unique viewers
 * (HyperLogLog), trending and co-view recommendations, over REST and over gRPC on the same port
 * (proto/analytics.proto; both call operations.ts). Env: the runtime contract plus
 * - `ANALYTICS_LOG_URL`: the ingest log database (default `sqlite://$DATA_DIR/analytics-log.db`);
 * - `ANALYTICS_SYNC`: `normal` (default) | `full`, see ingest.ts;
 * - `ANALYTICS_CONSUME`: `true` (default) | `false`, consume `content.*` from the bus;
 * - `ANALYTICS_PROJECT_DELAY_MS`: how long appended events are batched before projection (500);
 * - `ANALYTICS_PROJECTOR_NICE`: nice value of the projector thread (0 = same as ingest, the default);
 * - `ANALYTICS_USER_EVENTS_PER_S` (2000), `ANALYTICS_USER_EVENTS_BURST` (10000): the ingest budget
 *   of one user token (service tokens with `analytics:write` are not limited), see event-identity.ts.
 * - `ANALYTICS_MAX_LAG_MS`: while the read models trail the log by more than this, or
 *   `ANALYTICS_MAX_BACKLOG_EVENTS` (25000; 0 = no cap) acknowledged events wait for a slice, new
 *   ingest requests wait for it (500; 0 = never wait, whatever the backlog), each at most
 *   `ANALYTICS_ADMISSION_WAIT_MS` (2000); an HTTP/gRPC request still lagging then is refused with
 *   503 `INGEST_LAGGING` + Retry-After (nothing recorded), a bus event is appended anyway — see
 *   projection-lag.ts and ingest.ts;
 * - `ANALYTICS_RECENT_USERS`: users whose recent views are held for co-views, per generation
 *   (100000; at most twice this many are held, see recent-views.ts).
 *
 * Memory bounds (documented where each structure lives): the duplicate window (32 MB for 2M
 * ids), recent views (`ANALYTICS_RECENT_USERS`), the lag tracker (<= 100k entries), the
 * projector's SQLite page cache (32 MiB) and one slice of events (<= 50k); the main thread's
 * young generation by the V8 options it is started with (node-options.ts). Everything else —
 * totals, rollups, unique-viewer sketches, co-view sketches, `seen` — lives in the database.
 */
import { resolve } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { z } from 'zod';
import { runService, type ServiceDefinition } from '../../lib/server.ts';
import { type Subscription, UnprocessableEventError } from '../../lib/storage/bus.ts';
import { type Db, openDb } from '../../lib/storage/db.ts';
import { IngestQuota } from './event-identity.ts';
import { fromBusEvent, MAX_BATCH } from './events.ts';
import { analyticsGrpc } from './grpc-api.ts';
import { Ingestor } from './ingest.ts';
import { registerAnalyticsMetrics } from './metrics.ts';
import { type AnalyticsOperations, analyticsOperations } from './operations.ts';
import { ProjectionLag } from './projection-lag.ts';
import { ProjectorWorker } from './projector-worker.ts';
import { registerRoutes, unprojected } from './routes.ts';
import { logMigrations, migrations, READ_MODEL_PAGE_SIZE } from './schema.ts';

const env = z.object({
  ANALYTICS_LOG_URL: z.string().min(1).optional(),
  ANALYTICS_SYNC: z.enum(['normal', 'full']).default('normal'),
  ANALYTICS_CONSUME: z.enum(['true', 'false']).default('true'),
  ANALYTICS_PROJECT_DELAY_MS: z.coerce.number().int().min(0).max(3_600_000).default(500),
  ANALYTICS_PROJECTOR_NICE: z.coerce.number().int().min(0).max(19).default(0),
  ANALYTICS_USER_EVENTS_PER_S: z.coerce.number().min(0).max(1_000_000).default(2000),
  ANALYTICS_USER_EVENTS_BURST: z.coerce.number().int().min(MAX_BATCH).max(10_000_000).default(10_000),
  ANALYTICS_MAX_LAG_MS: z.coerce.number().int().min(0).max(3_600_000).default(500),
  ANALYTICS_ADMISSION_WAIT_MS: z.coerce.number().int().min(0).max(60_000).default(2000),
  ANALYTICS_MAX_BACKLOG_EVENTS: z.coerce.number().int().min(0).max(100_000_000).default(25_000),
  ANALYTICS_RECENT_USERS: z.coerce.number().int().min(1).max(10_000_000).default(100_000),
});

/** The service definition (exported for in-process use). */
export function analyticsService(): ServiceDefinition<typeof env> {
  let ingestor: Ingestor;
  let projector: ProjectorWorker;
  let logDb: Db;
  let ops: AnalyticsOperations;
  return {
    name: 'analytics',
    env,
    migrations,
    bus: true,
    dbOptions: (config) => ({
      synchronous: config.extra.ANALYTICS_SYNC === 'full' ? 'FULL' : 'NORMAL',
      // The read models' rows are sketches of 0.2–4 KiB rewritten by every projector slice: with
      // 4 KiB pages most spill into overflow pages, each a whole page to write. With 16 KiB pages
      // they stay in their leaf: ~20 % less projector CPU per event over 3M events
      // (docs/benchmarks.md). A database created before keeps its pages until a VACUUM.
      pageSize: READ_MODEL_PAGE_SIZE,
    }),
    // 1000 events of ~200 bytes each, with room to spare (a gRPC message's limit too).
    bodyLimit: 2 * 1024 * 1024,
    async routes(app, deps) {
      const { config } = deps;
      const synchronous = config.extra.ANALYTICS_SYNC === 'full' ? 'FULL' : 'NORMAL';
      const logUrl =
        config.extra.ANALYTICS_LOG_URL ?? `sqlite://${resolve(config.dataDir, 'analytics-log.db')}`;
      logDb = await openDb(logUrl, { synchronous });
      await logDb.migrate(logMigrations);
      // WAL checkpoints copy the log into the database file and fsync it; done by the committing
      // connection they would stall acknowledgements every few MB. The projector thread runs them
      // instead (see projector-worker.ts).
      if (logDb.dialect === 'sqlite') await logDb.exec('PRAGMA wal_autocheckpoint = 0');
      const lag = new ProjectionLag();
      // Log rows left unprojected by a previous run count towards the lag from the start.
      const backlog = await unprojected(deps.db, logDb);
      if (backlog) lag.appended(backlog.lastSeq, backlog.oldestAt);
      projector = new ProjectorWorker(
        {
          dbUrl: config.databaseUrl,
          logUrl,
          synchronous,
          nice: config.extra.ANALYTICS_PROJECTOR_NICE,
          options: {
            delayMs: config.extra.ANALYTICS_PROJECT_DELAY_MS,
            recentUsers: config.extra.ANALYTICS_RECENT_USERS,
          },
        },
        deps.log,
        (position) => lag.projected(position),
        (position) => lag.taken(position),
      );
      await projector.start();
      const {
        ANALYTICS_MAX_LAG_MS: maxLagMs,
        ANALYTICS_MAX_BACKLOG_EVENTS: maxBacklogEvents,
        ANALYTICS_ADMISSION_WAIT_MS: maxWaitMs,
      } = config.extra;
      const limits = { maxLagMs, maxBacklogEvents: maxBacklogEvents > 0 ? maxBacklogEvents : Infinity };
      ingestor = new Ingestor(logDb, {
        onAppended: (seq, events) => {
          lag.appended(seq, Date.now(), events);
          projector.nudge();
        },
        admit: maxLagMs > 0 ? () => lag.admit(limits, maxWaitMs, () => projector.failing) : undefined,
      });
      await ingestor.init();
      const quota = new IngestQuota({
        eventsPerSecond: config.extra.ANALYTICS_USER_EVENTS_PER_S,
        burst: config.extra.ANALYTICS_USER_EVENTS_BURST,
      });
      registerAnalyticsMetrics(deps.metrics.registry, { lag, ingestor, projector });
      const analytics = { db: deps.db, logDb, ingestor, projector, quota };
      ops = analyticsOperations(analytics);
      registerRoutes(app, ops, analytics);
    },
    grpc: () => [analyticsGrpc(ops)],
    readiness: async () => {
      await logDb.ping();
    },
    start(deps) {
      const subscriptions: Subscription[] = [];
      if (deps.config.extra.ANALYTICS_CONSUME === 'true') {
        for (const topic of ['content.viewed', 'content.uploaded']) {
          subscriptions.push(
            deps.bus.subscribe(topic, 'analytics', async (event, info) => {
              const stored = fromBusEvent(info.topic, event);
              // It parsed but can never be counted: dead-letter it (logged by the kit) rather than
              // acknowledge it away with a warning.
              if (!stored) {
                throw new UnprocessableEventError(
                  `not a valid ${info.topic} event (needs a string id, a content id and a time)`,
                );
              }
              await ingestor.ingest([stored]);
            }),
          );
        }
      }
      // Runs after in-flight requests drained: stop consuming, let the projector finish its slice,
      // then close the log (the kit closes the bus and the read-model database afterwards).
      deps.onClose(async () => {
        await Promise.all(subscriptions.map((s) => s.stop()));
        await projector.stop();
        await logDb.close();
      });
    },
  };
}

// In a release the projector thread runs this same bundle (the worker's entry is main.mjs), and
// `import.meta.main` is true for a worker's entry too: only the main thread starts the service.
if (import.meta.main && isMainThread) await runService(analyticsService());
