/**
 * The service's own environment in an environment's overlay: a Kustomize patch adding the
 * variables platform.yaml gives the service (core/config/service-env.ts) to its Deployment's
 * container, as `deploy` puts them in the Deployments it applies.
 */

import type { ServiceSpec } from '../core/config/schema.ts';
import { serviceEnv } from '../core/config/service-env.ts';
import type { KustomizePatch } from './links-overlay.ts';

/** The overlay patch that adds the service's env to its Deployment; undefined when it has none. */
export function envPatch(service: string, spec: ServiceSpec): KustomizePatch | undefined {
  const ops = Object.entries(serviceEnv(spec)).map(([name, value]) =>
    [
      '- op: add',
      '  path: /spec/template/spec/containers/0/env/-',
      `  value: ${JSON.stringify({ name, value })}`,
    ].join('\n'),
  );
  return ops.length ? { target: { kind: 'Deployment', name: service }, patch: ops.join('\n') } : undefined;
}
