/**
 * The auth service definition: env schema, storage, REST routes and the gRPC service
 * (proto/auth.proto, on the same port). `main.ts` runs it; tests run main.ts as a child process.
 *
 * Env (besides the common runtime contract):
 * - AUTH_ISSUER (default `platformctl-auth`), AUTH_AUDIENCE (default `platform`)
 * - AUTH_ACCESS_TTL_SECONDS (default 600), AUTH_REFRESH_TTL_SECONDS (default 30 days)
 * - AUTH_KEY_ROTATION_SECONDS: rotate the signing key when it is older (default 1 day)
 * - AUTH_KEY_ENCRYPTION_KEY: seals private signing keys at rest (AES-256-GCM, HKDF-derived); set it
 *   everywhere except throw-away local runs. Losing it means the stored keys cannot be used: start
 *   with an empty signing_keys table (all sessions must log in again).
 * - AUTH_ADMIN_EMAILS: comma-separated e-mails that become admins at signup; when unset, the first
 *   account created becomes admin.
 * - AUTH_ARGON2_MEMORY_KIB (>= 19456), AUTH_ARGON2_TIME_COST (>= 2): raise the argon2id cost.
 * - AUTH_TRUST_PROXY_HOPS (default 1): trusted proxies (the gateway) whose X-Forwarded-For entry
 *   names the client IP used for throttling. Set 0 when auth is exposed directly.
 * - AUTH_LOGIN_FREE_FAILURES (default 5, per account and client IP), AUTH_IP_FREE_FAILURES
 *   (default 20, per client IP over all accounts): failures before the exponential backoff
 *   starts (1 s, doubling, at most 5 minutes; see throttle.ts).
 */
import { z } from 'zod';
import type { ServiceDefinition, ServiceDeps } from '../../lib/server.ts';
import { type AuditType, AuthService } from './auth-service.ts';
import { authGrpcService } from './grpc-api.ts';
import { deriveKek } from './key-crypto.ts';
import { KeyStore } from './key-store.ts';
import { migrations } from './migrations.ts';
import { OWASP_ARGON2ID, PasswordHasher } from './passwords.ts';
import { registerAuthRoutes } from './routes.ts';
import { DEFAULT_THROTTLE, LoginThrottle } from './throttle.ts';

// Empty variables never reach this schema: runtime/lib's parseConfig drops them first.
const int = (def: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);

export const authEnv = z.object({
  AUTH_ISSUER: z.string().default('platformctl-auth'),
  AUTH_AUDIENCE: z.string().default('platform'),
  AUTH_ACCESS_TTL_SECONDS: int(600, 10, 86_400),
  AUTH_REFRESH_TTL_SECONDS: int(30 * 86_400, 60),
  AUTH_KEY_ROTATION_SECONDS: int(86_400, 60),
  AUTH_KEY_ENCRYPTION_KEY: z
    .string()
    .min(16, 'AUTH_KEY_ENCRYPTION_KEY must have at least 16 characters (use openssl rand -base64 32)')
    .optional(),
  AUTH_ADMIN_EMAILS: z.string().optional(),
  AUTH_ARGON2_MEMORY_KIB: int(OWASP_ARGON2ID.memoryCost, OWASP_ARGON2ID.memoryCost, 4 * 1024 * 1024),
  AUTH_ARGON2_TIME_COST: int(OWASP_ARGON2ID.timeCost, OWASP_ARGON2ID.timeCost, 20),
  AUTH_TRUST_PROXY_HOPS: int(1, 0, 5),
  AUTH_LOGIN_FREE_FAILURES: int(DEFAULT_THROTTLE.account.freeFailures, 1, 1000),
  AUTH_IP_FREE_FAILURES: int(DEFAULT_THROTTLE.ip.freeFailures, 1, 100_000),
});

/** The domain each running instance built in `routes`, for its `grpc` hook (same deps object). */
const instances = new WeakMap<ServiceDeps<z.infer<typeof authEnv>>, AuthService>();

export const authService: ServiceDefinition<typeof authEnv> = {
  name: 'auth',
  env: authEnv,
  migrations,
  bodyLimit: 16 * 1024,
  async routes(app, deps) {
    const env = deps.config.extra;
    const accessTtlMs = env.AUTH_ACCESS_TTL_SECONDS * 1000;
    const audit = (type: AuditType, fields: Record<string, unknown>) =>
      deps.log.info({ audit: true, type, ...fields }, type);
    const keys = new KeyStore(deps.db, {
      kek: env.AUTH_KEY_ENCRYPTION_KEY ? deriveKek(env.AUTH_KEY_ENCRYPTION_KEY) : undefined,
      rotateAfterMs: env.AUTH_KEY_ROTATION_SECONDS * 1000,
      retainRetiredMs: accessTtlMs + 60_000,
      reloadEveryMs: 30_000,
      onRotate: (info) => {
        if (info.reason === 'age' || info.reason === 'initial') audit('auth.keys_rotated', { ...info });
      },
    });
    await keys.init();
    if (!env.AUTH_KEY_ENCRYPTION_KEY)
      deps.log.warn('AUTH_KEY_ENCRYPTION_KEY is not set: signing keys are stored unencrypted');
    const auth = new AuthService({
      db: deps.db,
      keys,
      hasher: new PasswordHasher({
        memoryCost: env.AUTH_ARGON2_MEMORY_KIB,
        timeCost: env.AUTH_ARGON2_TIME_COST,
        parallelism: OWASP_ARGON2ID.parallelism,
      }),
      throttle: new LoginThrottle({
        account: { ...DEFAULT_THROTTLE.account, freeFailures: env.AUTH_LOGIN_FREE_FAILURES },
        ip: { ...DEFAULT_THROTTLE.ip, freeFailures: env.AUTH_IP_FREE_FAILURES },
      }),
      settings: {
        issuer: env.AUTH_ISSUER,
        audience: env.AUTH_AUDIENCE,
        accessTtlMs,
        refreshTtlMs: env.AUTH_REFRESH_TTL_SECONDS * 1000,
        adminEmails: (env.AUTH_ADMIN_EMAILS ?? '')
          .split(',')
          .map((e) => e.trim().toLowerCase())
          .filter(Boolean),
      },
      audit,
    });
    registerAuthRoutes(app, { auth, keys, trustProxyHops: env.AUTH_TRUST_PROXY_HOPS });
    instances.set(deps, auth);
    // Rotate by age even when nobody logs in, so the JWKS never advertises an overdue key.
    const ageCheck = setInterval(
      () => {
        keys.signingKey().catch((err: unknown) => deps.log.error({ err }, 'key rotation check failed'));
      },
      Math.min(60_000, (env.AUTH_KEY_ROTATION_SECONDS * 1000) / 10),
    );
    ageCheck.unref();
    deps.onClose(() => clearInterval(ageCheck));
  },
  grpc(deps) {
    const auth = instances.get(deps);
    if (!auth) throw new Error('auth: routes() must run before grpc()');
    return [authGrpcService(auth)];
  },
};
