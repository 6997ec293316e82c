/**
 * analytics: event ingest (HTTP batches and the bus), per-minute rollups, unique viewers
 * (HyperLogLog), trending and co-view recommendations. Env: the runtime contract plus
 * `ANALYTICS_SYNC` (`normal` | `full`, see ingest.ts) and `ANALYTICS_CONSUME` (`true` | `false`,
 * consume `content.*` from the bus; default true).
 */
import { z } from 'zod';
import { runService, type ServiceDefinition } from '../../lib/server.ts';
import type { Subscription } from '../../lib/storage/bus.ts';
import { fromBusEvent } from './events.ts';
import { Ingestor } from './ingest.ts';
import { Projector } from './projector.ts';
import { registerRoutes } from './routes.ts';
import { migrations } from './schema.ts';

const env = z.object({
  ANALYTICS_SYNC: z.enum(['normal', 'full']).default('normal'),
  ANALYTICS_CONSUME: z.enum(['true', 'false']).default('true'),
});

/** The service definition (exported for in-process tests and benchmarks). */
export function analyticsService(): ServiceDefinition<typeof env> {
  let ingestor: Ingestor;
  let projector: Projector;
  return {
    name: 'analytics',
    env,
    migrations,
    bus: true,
    dbOptions: (config) => ({ synchronous: config.extra.ANALYTICS_SYNC === 'full' ? 'FULL' : 'NORMAL' }),
    // 1000 events of ~200 bytes each, with room to spare.
    bodyLimit: 2 * 1024 * 1024,
    async routes(app, deps) {
      projector = new Projector(deps.db, { onError: (err) => deps.log.error({ err }, 'projection failed') });
      ingestor = new Ingestor(deps.db, { onAppended: () => projector.schedule() });
      await ingestor.init();
      registerRoutes(app, { db: deps.db, ingestor, projector });
    },
    start(deps) {
      const subscriptions: Subscription[] = [];
      if (deps.config.extra.ANALYTICS_CONSUME === 'true') {
        for (const topic of ['content.viewed', 'content.uploaded']) {
          subscriptions.push(
            deps.bus.subscribe(topic, 'analytics', async (event, info) => {
              const stored = fromBusEvent(info.topic, event);
              if (stored) await ingestor.ingest([stored]);
              else deps.log.warn({ topic: info.topic, id: event.id }, 'ignored malformed bus event');
            }),
          );
        }
      }
      deps.onClose(async () => {
        await Promise.all(subscriptions.map((s) => s.stop()));
        await projector.stop();
      });
      projector.schedule();
    },
  };
}

if (import.meta.main) await runService(analyticsService());
