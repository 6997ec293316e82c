/**
 * The service links of an environment's overlay: a Kustomize patch giving a service's pods the
 * `<NAME>_URL` of each service it calls (and AUTH_JWKS_URL when it calls auth), as the cluster DNS
 * names of their Services. They come from the call graph the NetworkPolicies are computed from, so
 * a pod is told about exactly the services its policy lets it reach.
 */
import { serviceLinks } from '../core/config/call-graph.ts';
import type { PlatformConfig } from '../core/config/schema.ts';
import { clusterUrl, type KubeTarget } from '../providers/kubernetes/manifests.ts';
import { envVarsPatch, type KustomizePatch } from './deployment-patch.ts';

/** The overlay patch that adds the links to the service's Deployment; undefined when it calls no one. */
export function linksPatch(
  config: PlatformConfig,
  target: KubeTarget,
  service: string,
): KustomizePatch | undefined {
  return envVarsPatch(
    service,
    serviceLinks(config, service, (callee) => clusterUrl(target, callee)),
  );
}
