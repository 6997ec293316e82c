/**
 * Gateway settings from the environment: the runtime contract's common keys (runtime/lib) plus
 * the gateway's own, validated once at start.
 */
import { z } from 'zod';
import { gatewayFileEnvSchema } from '../../contract/runtime-env.ts';
import { parseConfig, type ServiceConfig } from '../../lib/config.ts';

// Empty variables never reach these schemas: runtime/lib's parseConfig drops them first.
const int = (def: number) => z.coerce.number().int().nonnegative().default(def);
const num = (def: number) => z.coerce.number().nonnegative().default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const gatewayEnvSchema = z.object({
  ...gatewayFileEnvSchema.shape,
  AUTH_ISSUER: z.string().default('platformctl-auth'),
  AUTH_AUDIENCE: z.string().default('platform'),
  /** Minimum time between two JWKS fetches triggered by unknown key ids. */
  AUTH_JWKS_COOLDOWN_MS: int(30_000),
  /** Per-client token bucket; 0 disables rate limiting (the default for local development). */
  RATE_LIMIT_RPS: num(0),
  RATE_LIMIT_BURST: num(0),
  /** Extra bucket per client IP for requests without a verified token; 0 disables it (`up` sets 50). */
  ANON_RATE_LIMIT_RPS: num(0),
  ANON_RATE_LIMIT_BURST: num(0),
  UPSTREAM_CONNECT_TIMEOUT_MS: int(10_000),
  UPSTREAM_HEADERS_TIMEOUT_MS: int(10_000),
  UPSTREAM_BODY_TIMEOUT_MS: int(10_000),
  /** Keep-alive connections per upstream instance. */
  UPSTREAM_CONNECTIONS: int(128),
  BREAKER_FAILURES: int(5),
  BREAKER_COOLDOWN_MS: int(10_000),
  RETRY_BUDGET_RATIO: num(0.2),
  RETRY_BUDGET_MIN: int(10),
  CANARY_HEADER: z.string().default('x-canary'),
  ACCESS_LOG: bool(true),
  SHUTDOWN_TIMEOUT_MS: int(10_000),
  /** Largest request body for routes without their own `maxBodyBytes` (413 above it). */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Slow clients: time to send the request head, the whole request, and silence on a socket. */
  CLIENT_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(1000).default(10_000),
  CLIENT_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1000).default(120_000),
  CLIENT_SOCKET_TIMEOUT_MS: int(60_000),
  /** Idle keep-alive connections close after this (above the 60 s idle timeout of common load balancers). */
  CLIENT_KEEPALIVE_TIMEOUT_MS: int(65_000),
  /** Open connections per client address; 0 = no cap. */
  MAX_CONNECTIONS_PER_CLIENT: int(256),
  /**
   * A second listener for `/metrics` and `/admin/*` (then gone from the public port); `up` sets
   * it. Unset: both stay on the public port (a gateway run on its own, tests).
   */
  ADMIN_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  ADMIN_HOST: z.string().default('127.0.0.1'),
  /** gRPC server reflection from every runtime proto; default on unless NODE_ENV=production. */
  GRPC_REFLECTION: z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional(),
  /** Directories (comma-separated) whose .proto files reflection serves; default runtime/<service>/proto. */
  GRPC_PROTO_DIRS: z.string().optional(),
  /**
   * The public listener's HTTP/1.1 server: `lean` (runtime/lib/http1-server.ts, node's parser
   * without node:http's request and response objects) or `node` (node:http itself, to fall back
   * on or compare with). The admin listener is node:http either way.
   */
  GATEWAY_HTTP_SERVER: z.enum(['lean', 'node']).default('lean'),
  /** Processes serving requests (node:cluster); 1 = this process alone. */
  GATEWAY_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
});
export type GatewayEnvExtra = z.infer<typeof gatewayEnvSchema>;
export type GatewaySettings = ServiceConfig<GatewayEnvExtra>;

/** Throws runtime/lib's EnvConfigError listing every invalid variable. */
export function parseGatewayEnv(env: NodeJS.ProcessEnv): GatewaySettings {
  return parseConfig('gateway', env, gatewayEnvSchema);
}
