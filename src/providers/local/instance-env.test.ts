import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { statePaths } from '../../core/state-dir.ts';
import { instanceEnv } from './instance-env.ts';
import type { ServicePlan } from './service-plan.ts';
import type { InstanceRecord } from './state.ts';

const spec: ServicePlan = {
  name: 'content',
  kind: 'service',
  version: 'v1',
  entry: '/r/main.mjs',
  replicas: 1,
  basePort: 8082,
  routes: ['/content'],
  dependsOn: [],
  readiness: '/readyz',
  env: {},
};
const rec = { id: 'content-1', service: 'content', version: 'v1', port: 8082 } as InstanceRecord;
const ctx = { paths: statePaths('/p'), token: 't', plans: [spec], gatewayConfig: '/p/gw.json' };

describe('instance environment', () => {
  const inherited = process.env.NODE_COMPILE_CACHE;
  afterEach(() => {
    if (inherited === undefined) delete process.env.NODE_COMPILE_CACHE;
    else process.env.NODE_COMPILE_CACHE = inherited;
  });

  it("keeps Node's compile cache in the state directory, so restarts reuse compiled code", () => {
    delete process.env.NODE_COMPILE_CACHE;
    expect(instanceEnv(rec, spec, ctx).NODE_COMPILE_CACHE).toBe(join('/p', '.platform', 'compile-cache'));
  });

  it('lets an inherited NODE_COMPILE_CACHE and the service env win', () => {
    process.env.NODE_COMPILE_CACHE = '/elsewhere';
    expect(instanceEnv(rec, spec, ctx).NODE_COMPILE_CACHE).toBe('/elsewhere');
    expect(instanceEnv(rec, { ...spec, env: { NODE_COMPILE_CACHE: '/own' } }, ctx).NODE_COMPILE_CACHE).toBe(
      '/own',
    );
  });

  it('serves gRPC reflection locally, unless the service turns it off', () => {
    expect(instanceEnv(rec, spec, ctx).GRPC_REFLECTION).toBe('true');
    expect(instanceEnv(rec, { ...spec, env: { GRPC_REFLECTION: 'false' } }, ctx).GRPC_REFLECTION).toBe(
      'false',
    );
  });

  it("points the gateway's gRPC reflection at the protos beside every service's release", () => {
    const gateway: ServicePlan = {
      ...spec,
      name: 'gateway',
      kind: 'gateway',
      entry: '/r/gateway/v1/main.mjs',
    };
    const analytics: ServicePlan = { ...spec, name: 'analytics', entry: '/r/analytics/v2/main.mjs' };
    // The supervisor hands over a one-shot iterator of its plans.
    const plans = new Map([
      ['gateway', gateway],
      ['analytics', analytics],
      ['content', spec],
    ]).values();
    const env = instanceEnv({ ...rec, service: 'gateway' }, gateway, { ...ctx, plans });
    expect(env.GRPC_PROTO_DIRS).toBe(['/r/analytics/v2/proto', '/r/proto'].join(','));
    expect(env.ANALYTICS_URL).toBeDefined();
    expect(instanceEnv(rec, spec, ctx).GRPC_PROTO_DIRS).toBeUndefined();
  });
});
