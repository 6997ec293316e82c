/** Gateway settings from the environment (12-factor), validated once at start. */
import { z } from 'zod';

const intFrom = (def: number) => z.coerce.number().int().nonnegative().default(def);
const numFrom = (def: number) => z.coerce.number().nonnegative().default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const gatewayEnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535),
  HOST: z.string().default('127.0.0.1'),
  SERVICE_NAME: z.string().default('gateway'),
  SERVICE_VERSION: z.string().default('dev'),
  INSTANCE_ID: z.string().optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  GATEWAY_CONFIG: z.string().optional(),
  ADMIN_TOKEN: z.string().min(1).optional(),
  AUTH_JWKS_URL: z.url().optional(),
  AUTH_ISSUER: z.string().default('platformctl-auth'),
  AUTH_AUDIENCE: z.string().default('platform'),
  /** Minimum time between two JWKS fetches triggered by unknown key ids. */
  AUTH_JWKS_COOLDOWN_MS: intFrom(30_000),
  /** Per-client token bucket; 0 disables rate limiting (the default for local development). */
  RATE_LIMIT_RPS: numFrom(0),
  RATE_LIMIT_BURST: numFrom(0),
  UPSTREAM_CONNECT_TIMEOUT_MS: intFrom(10_000),
  UPSTREAM_HEADERS_TIMEOUT_MS: intFrom(10_000),
  UPSTREAM_BODY_TIMEOUT_MS: intFrom(10_000),
  /** Keep-alive connections per upstream instance. */
  UPSTREAM_CONNECTIONS: intFrom(128),
  BREAKER_FAILURES: intFrom(5),
  BREAKER_COOLDOWN_MS: intFrom(10_000),
  RETRY_BUDGET_RATIO: numFrom(0.2),
  RETRY_BUDGET_MIN: intFrom(10),
  CANARY_HEADER: z.string().default('x-canary'),
  ACCESS_LOG: bool(true),
  SHUTDOWN_TIMEOUT_MS: intFrom(10_000),
});
export type GatewayEnv = z.infer<typeof gatewayEnvSchema>;

export function parseGatewayEnv(env: NodeJS.ProcessEnv): GatewayEnv {
  // An empty variable means "not set" (shells and compose files produce them easily).
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = gatewayEnvSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid gateway environment:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
