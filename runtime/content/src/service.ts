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
 * - SHARP_CONCURRENCY (default 1): libvips threads per image (sharp.concurrency); transforms
 *   already run CONTENT_TRANSFORM_CONCURRENCY at a time.
 * - CONTENT_VARIANT_PRESETS (default `thumb:w=200;small:w=400;medium:w=800;large:w=1600;
 *   square:w=64&h=64&fit=cover`): the variants anyone may ask for, by name or by their parameters.
 * - CONTENT_VARIANT_KEYS (secret, optional): comma-separated HMAC keys (32+ characters) for signed
 *   variant URLs with arbitrary parameters; the first signs, all verify (rotation).
 * - CONTENT_VARIANT_UNSIGNED (default `off`): `on` lets unsigned arbitrary parameters through
 *   (development only: anyone can then make the service render and store any variant).
 * - CONTENT_TRANSFORM_CONCURRENCY (default: cores - 1, at least 1, so a core stays free for cached
 *   and raw reads), CONTENT_TRANSFORM_QUEUE (default 8): transforms
 *   running and waiting; when full, 503 + Retry-After + `x-overloaded` (the gateway does not
 *   count it toward ejection).
 * - CONTENT_TRANSFORM_MAX_WAIT_MS (default 3000): a render that would wait longer for a slot is
 *   refused at once (503), so the answer beats the gateway's 10 s upstream timeout;
 *   CONTENT_TRANSFORM_TIMEOUT_S (default 6): a render running longer is stopped (503).
 * - CONTENT_SHARP_CACHE_MB (default 32): libvips operation cache (sharp.cache); 0 turns it off.
 * - CONTENT_AUTH_DEADLINE_MS (default 500): deadline of the gRPC call that asks auth (at AUTH_URL,
 *   the same port as its REST API) for a caller's current role before an upload or a delete,
 *   retries included; past it content trusts the gateway's token claim (principal-check.ts).
 */
import { availableParallelism } from 'node:os';
import { Counter } from 'prom-client';
import * as z from 'zod/mini';
import { AUTH_SERVICE, authProto } from '../../auth/proto/auth-api.ts';
import { lazyGrpcClient } from '../../lib/lazy-grpc-client.ts';
import type { ServiceDefinition, ServiceDeps } from '../../lib/server.ts';
import { type OutboxRelay, startOutboxRelay } from '../../lib/storage/outbox.ts';
import { ContentService } from './content-service.ts';
import { migrations } from './migrations.ts';
import { type CheckOutcome, PrincipalCheck } from './principal-check.ts';
import { registerContentRoutes } from './routes.ts';
import { TransformQueue } from './transform-queue.ts';
import { DEFAULT_PRESETS, parsePresets, VariantPolicy, type VariantPreset } from './variant-policy.ts';

// Empty variables never reach this schema: runtime/lib's parseConfig drops them first. zod/mini
// rather than zod, as the runtime contract (runtime-env.ts): the service parses it at every start.
const int = (def: number, min: number, max: number) =>
  z._default(z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max)), def);
const onOff = (def: 'on' | 'off') => z._default(z.enum(['on', 'off']), def);

export const contentEnv = z.object({
  MAX_UPLOAD_BYTES: int(50 * 1024 * 1024, 1, 10 * 1024 ** 3),
  CONTENT_MAX_INPUT_PIXELS: int(50_000_000, 1, 1_000_000_000),
  CONTENT_MAX_DIMENSION: int(4096, 16, 16_384),
  CONTENT_VARIANT_CACHE: onOff('on'),
  CONTENT_UPLOAD_ROLES: z._default(z.string(), 'admin,editor,viewer'),
  SHARP_CONCURRENCY: int(1, 0, 64),
  CONTENT_VARIANT_PRESETS: z._default(z.string(), DEFAULT_PRESETS),
  CONTENT_VARIANT_KEYS: z.optional(
    z.string().check(
      z.refine((v) => v.split(',').every((k) => k.trim().length >= 32), {
        error: 'each comma-separated key needs at least 32 characters (openssl rand -base64 32)',
      }),
    ),
  ),
  CONTENT_VARIANT_UNSIGNED: onOff('off'),
  CONTENT_TRANSFORM_CONCURRENCY: int(Math.max(1, availableParallelism() - 1), 1, 64),
  CONTENT_TRANSFORM_QUEUE: int(8, 0, 10_000),
  CONTENT_TRANSFORM_MAX_WAIT_MS: int(3000, 0, 600_000),
  CONTENT_TRANSFORM_TIMEOUT_S: int(6, 1, 3600),
  CONTENT_SHARP_CACHE_MB: int(32, 0, 4096),
  CONTENT_AUTH_DEADLINE_MS: int(500, 10, 60_000),
});

/**
 * How long after the routes are registered (just before readiness) the auth client is made, unless
 * an upload or delete made it first: the restarted service's first requests, which a restart's
 * clients wait for, do not compete with loading gRPC.
 */
const AUTH_CLIENT_WARM_UP_MS = 1000;

/**
 * The principal check's auth client: none without AUTH_URL. @grpc/grpc-js, the proto loader and
 * auth's proto load only when the client is made (lazy-grpc-client.ts), not before readiness.
 */
function principalCheck(deps: ServiceDeps<z.output<typeof contentEnv>>): PrincipalCheck {
  const checks = new Counter({
    name: 'content_principal_checks_total',
    help: "Checks of a caller's current role with auth before uploads and deletes, by outcome",
    labelNames: ['outcome'] as const,
    registers: [deps.metrics.registry],
  });
  const onOutcome = (outcome: CheckOutcome) => checks.inc({ outcome });
  const authUrl = deps.config.authUrl;
  if (!authUrl) {
    deps.log.warn("AUTH_URL is not set: uploads and deletes trust the role in the gateway's token as it is");
    return new PrincipalCheck({ auth: undefined, log: deps.log, onOutcome });
  }
  // Found now, so a release without auth's proto fails at start rather than at its first upload.
  const proto = authProto();
  const auth = lazyGrpcClient(async () => {
    const [{ createGrpcClient }, { loadProtos }, grpc] = await Promise.all([
      import('../../lib/grpc-client.ts'),
      import('../../lib/grpc-server.ts'),
      import('@grpc/grpc-js'),
    ]);
    return createGrpcClient({
      url: authUrl,
      definition: grpc.loadPackageDefinition(loadProtos([proto])),
      service: AUTH_SERVICE,
      tracing: deps.tracing,
      deadlineMs: deps.config.extra.CONTENT_AUTH_DEADLINE_MS,
    });
  });
  auth.warmUp(AUTH_CLIENT_WARM_UP_MS);
  deps.onClose(() => auth.close());
  return new PrincipalCheck({ auth, log: deps.log, onOutcome });
}

export const contentService: ServiceDefinition<typeof contentEnv> = {
  name: 'content',
  env: contentEnv,
  migrations,
  bus: true,
  blobs: true,
  async routes(app, deps) {
    const env = deps.config.extra;
    let presets: VariantPreset[];
    try {
      presets = parsePresets(
        env.CONTENT_VARIANT_PRESETS,
        env.CONTENT_MAX_DIMENSION,
        env.CONTENT_VARIANT_PRESETS === DEFAULT_PRESETS,
      );
    } catch (err) {
      throw new Error(`CONTENT_VARIANT_PRESETS: ${(err as Error).message}`);
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
        transformTimeoutS: env.CONTENT_TRANSFORM_TIMEOUT_S,
      },
      transforms: new TransformQueue({
        concurrency: env.CONTENT_TRANSFORM_CONCURRENCY,
        maxQueued: env.CONTENT_TRANSFORM_QUEUE,
        maxWaitMs: env.CONTENT_TRANSFORM_MAX_WAIT_MS,
      }),
      nudgeOutbox: () => relay?.nudge(),
      // libvips' memory is bounded here: threads per image and the operation cache (by default it
      // keeps up to 50 MB and 100 operations of decoded pixels around).
      configureSharp: (sharp) => {
        sharp.concurrency(env.SHARP_CONCURRENCY);
        sharp.cache(
          env.CONTENT_SHARP_CACHE_MB > 0
            ? { memory: env.CONTENT_SHARP_CACHE_MB, items: 20, files: 0 }
            : false,
        );
      },
      views: {
        onError: (err, buffered) =>
          deps.log.warn(
            { err: err instanceof Error ? err.message : String(err), buffered },
            'storing views failed; keeping them and retrying',
          ),
        onRecovered: (stored, outageMs) => deps.log.info({ stored, outageMs }, 'buffered views stored'),
        onDropped: (count) =>
          deps.log.error({ count }, 'views dropped: the buffer is full or the service stopped'),
      },
    });
    await content.init();
    const principals = principalCheck(deps);
    await app.register(async (scope) => {
      registerContentRoutes(scope, {
        content,
        maxUploadBytes: env.MAX_UPLOAD_BYTES,
        variants: new VariantPolicy({
          presets,
          keys: (env.CONTENT_VARIANT_KEYS ?? '')
            .split(',')
            .map((k) => k.trim())
            .filter(Boolean),
          allowUnsigned: env.CONTENT_VARIANT_UNSIGNED === 'on',
          maxDimension: env.CONTENT_MAX_DIMENSION,
        }),
        uploadRoles: new Set(env.CONTENT_UPLOAD_ROLES.split(',').map((r) => r.trim())),
        principals,
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
    deps.onClose(() => content.closeViews());
  },
};
