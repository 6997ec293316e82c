/**
 * The environment variables platform.yaml gives a service's processes, wherever they run: a local
 * supervisor's children (providers/local/plan.ts), the Deployments `deploy` applies
 * (providers/kubernetes/manifests.ts) and the ones `gitops render` writes (gitops/render.ts).
 * One function, so the three cannot drift apart again: `gitops render` once dropped a service's
 * `env` entirely.
 */
import { ANALYTICS_NODE_OPTIONS } from '../../../runtime/analytics/src/node-options.ts';
import type { ServiceSpec } from './schema.ts';

/** What a built-in service needs to run as measured, before anything platform.yaml sets. */
const BUILTIN_ENV: Record<string, Record<string, string>> = {
  // The V8 heap sizing analytics needs to stay in bounded memory under sustained ingest.
  'builtin:analytics': { NODE_OPTIONS: ANALYTICS_NODE_OPTIONS },
};

/** The built-in service's defaults, then the service's own `env` from platform.yaml (which wins). */
export function serviceEnv(spec: Pick<ServiceSpec, 'path' | 'env'>): Record<string, string> {
  return { ...BUILTIN_ENV[spec.path], ...spec.env };
}
