/**
 * The environment of an instance, per the runtime contract (runtime/contract/runtime-env.ts):
 * what the supervisor inherited (minus platformctl's and npm's own settings), the contract's
 * variables, where every other service is, and the service's own env from the plan.
 */
import { dirname, join } from 'node:path';
import { type RuntimeEnv, serviceUrlVariable } from '../../../runtime/contract/runtime-env.ts';
import type { statePaths } from '../../core/state-dir.ts';
import { gatewayAdminPort } from './edge-defaults.ts';
import type { ServicePlan } from './service-plan.ts';
import type { InstanceRecord } from './state.ts';

export interface EnvContext {
  paths: ReturnType<typeof statePaths>;
  token: string;
  /** Every planned service, for the `<NAME>_URL` links. */
  plans: Iterable<ServicePlan>;
  /** The gateway's routing file (GATEWAY_CONFIG). */
  gatewayConfig: string;
}

export function instanceEnv(rec: InstanceRecord, spec: ServicePlan, ctx: EnvContext): Record<string, string> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('PLATFORMCTL_') || k.startsWith('npm_')) continue;
    base[k] = v;
  }
  const runtime: RuntimeEnv = {
    PORT: String(rec.port),
    HOST: '127.0.0.1',
    SERVICE_NAME: rec.service,
    SERVICE_VERSION: rec.version,
    INSTANCE_ID: rec.id,
    LOG_LEVEL: process.env.PLATFORMCTL_LOG_LEVEL ?? 'info',
    DATA_DIR: join(ctx.paths.data, rec.service),
    BUS_URL: `embedded://${ctx.paths.bus}`,
    ADMIN_TOKEN: ctx.token,
    TRACES_DIR: ctx.paths.traces,
    // Local environments are for development: gRPC server reflection on (grpcurl list/describe),
    // although instances run with NODE_ENV=production. The shell's or a service's `env:` can turn it off.
    GRPC_REFLECTION: process.env.GRPC_REFLECTION === 'false' ? 'false' : 'true',
  };
  const env: Record<string, string> = {
    // Every (re)start compiles the same modules: Node keeps the stripped TypeScript and V8's code
    // for them here, so a restart skips that work (an inherited NODE_COMPILE_CACHE wins).
    NODE_COMPILE_CACHE: join(ctx.paths.dir, 'compile-cache'),
    ...base,
    NODE_ENV: process.env.NODE_ENV ?? 'production',
    ...runtime,
  };
  let auth: ServicePlan | undefined;
  const protoDirs: string[] = [];
  // One pass: `plans` may be a one-shot iterator.
  for (const p of ctx.plans) {
    env[serviceUrlVariable(p.name)] = `http://127.0.0.1:${p.basePort}`;
    if (p.name === 'auth') auth = p;
    if (p.kind !== 'gateway') protoDirs.push(join(dirname(p.entry), 'proto'));
  }
  const links: RuntimeEnv = {
    ...(auth ? { AUTH_JWKS_URL: `http://127.0.0.1:${auth.basePort}/.well-known/jwks.json` } : {}),
    ...(spec.kind === 'gateway' ? { GATEWAY_CONFIG: ctx.gatewayConfig } : {}),
  };
  if (spec.kind === 'gateway') {
    // The gateway's metrics and admin API listen apart from its public port (see edge-defaults.ts).
    env.ADMIN_PORT = String(gatewayAdminPort(rec.port));
    // gRPC reflection through the gateway (`grpcurl <gateway> list`) from the protos each release
    // carries beside its bundle.
    env.GRPC_PROTO_DIRS = protoDirs.join(',');
  }
  Object.assign(env, links, spec.env);
  return env;
}
