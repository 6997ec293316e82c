/**
 * The content service definition.
 *
 * Env (besides the common runtime contract):
 * - MAX_UPLOAD_BYTES (default 52428800 = 50 MiB): larger uploads get 413 and leave nothing behind.
 * - CONTENT_MAX_INPUT_PIXELS (default 50000000): sharp `limitInputPixels`, against decompression bombs.
 * - CONTENT_MAX_DIMENSION (default 4096): largest variant width/height that may be requested.
 * - CONTENT_VARIANT_CACHE (default `on`): store generated variants as blobs; `off` re-renders
 *   every request (benchmarks).
 * - CONTENT_UPLOAD_ROLES (default `admin,editor,viewer`): roles allowed to upload.
 * - SHARP_CONCURRENCY (optional): libvips threads per image (sharp.concurrency).
 */
import { z } from 'zod';
import type { ServiceDefinition } from '../../lib/server.ts';
import { type OutboxRelay, startOutboxRelay } from '../../lib/storage/outbox.ts';
import { ContentService } from './content-service.ts';
import { migrations } from './migrations.ts';
import { registerContentRoutes } from './routes.ts';

// Empty variables never reach this schema: runtime/lib's parseConfig drops them first.
const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

export const contentEnv = z.object({
  MAX_UPLOAD_BYTES: int(50 * 1024 * 1024, 1, 10 * 1024 ** 3),
  CONTENT_MAX_INPUT_PIXELS: int(50_000_000, 1, 1_000_000_000),
  CONTENT_MAX_DIMENSION: int(4096, 16, 16_384),
  CONTENT_VARIANT_CACHE: z.enum(['on', 'off']).default('on'),
  CONTENT_UPLOAD_ROLES: z.string().default('admin,editor,viewer'),
  SHARP_CONCURRENCY: z.coerce.number().int().min(0).max(64).optional(),
});

export const contentService: ServiceDefinition<typeof contentEnv> = {
  name: 'content',
  env: contentEnv,
  migrations,
  bus: true,
  blobs: true,
  async routes(app, deps) {
    const env = deps.config.extra;
    if (env.SHARP_CONCURRENCY !== undefined) {
      const sharp = (await import('sharp')).default;
      sharp.concurrency(env.SHARP_CONCURRENCY);
    }
    let relay: OutboxRelay | undefined;
    const content = new ContentService({
      db: deps.db,
      blobs: deps.blobs,
      settings: {
        dataDir: deps.config.dataDir,
        maxUploadBytes: env.MAX_UPLOAD_BYTES,
        maxInputPixels: env.CONTENT_MAX_INPUT_PIXELS,
        cacheVariants: env.CONTENT_VARIANT_CACHE === 'on',
      },
      nudgeOutbox: () => relay?.nudge(),
      onViewError: (err) => deps.log.warn({ err }, 'recording views failed'),
    });
    await content.init();
    await app.register(async (scope) => {
      registerContentRoutes(scope, {
        content,
        maxUploadBytes: env.MAX_UPLOAD_BYTES,
        maxDimension: env.CONTENT_MAX_DIMENSION,
        uploadRoles: new Set(env.CONTENT_UPLOAD_ROLES.split(',').map((r) => r.trim())),
      });
    });
    relay = startOutboxRelay({
      db: deps.db,
      bus: deps.bus,
      // Uploads wake the relay at once; views wait for the next poll. Each relay batch is a durable
      // (fsynced) bus append that blocks the event loop for milliseconds, so views are relayed in
      // batches twice a second instead of on every request.
      intervalMs: 500,
      onError: (err) => deps.log.warn({ err }, 'outbox relay failed; will retry'),
    });
    // Close hooks run last-registered first: flush buffered views, then stop the relay.
    deps.onClose(async () => {
      await relay?.stop();
    });
    deps.onClose(() => content.flushViews());
  },
};
