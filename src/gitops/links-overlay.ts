/**
 * The service links of an environment's overlay: a Kustomize patch giving a service's pods the
 * `<NAME>_URL` of each service it calls (and AUTH_JWKS_URL when it calls auth), as the cluster DNS
 * names of their Services. They come from the call graph the NetworkPolicies are computed from, so
 * a pod is told about exactly the services its policy lets it reach.
 */
import { serviceLinks } from '../core/config/call-graph.ts';
import type { PlatformConfig } from '../core/config/schema.ts';
import { clusterUrl, type KubeTarget } from '../providers/kubernetes/manifests.ts';

export interface KustomizePatch {
  target: { kind: string; name: string };
  patch: string;
}

/** The overlay patch that adds the links to the service's Deployment; undefined when it calls no one. */
export function linksPatch(
  config: PlatformConfig,
  target: KubeTarget,
  service: string,
): KustomizePatch | undefined {
  const links = serviceLinks(config, service, (callee) => clusterUrl(target, callee));
  const ops = Object.entries(links).map(([name, value]) =>
    [
      '- op: add',
      '  path: /spec/template/spec/containers/0/env/-',
      `  value: ${JSON.stringify({ name, value })}`,
    ].join('\n'),
  );
  return ops.length ? { target: { kind: 'Deployment', name: service }, patch: ops.join('\n') } : undefined;
}
