/**
 * The gateway's routing file in an environment's overlay: the `<gateway>-routes` ConfigMap
 * (providers/kubernetes/gateway-routes.ts, the same file `deploy` applies) and a Kustomize patch
 * mounting it into the gateway's pods with GATEWAY_CONFIG naming it.
 */
import type { PlatformConfig } from '../core/config/schema.ts';
import { gatewayRoutesConfigMap, gatewayRoutesMount } from '../providers/kubernetes/gateway-routes.ts';
import type { KubeObject, KubeTarget } from '../providers/kubernetes/manifests.ts';
import { deploymentAdds, type KustomizePatch } from './deployment-patch.ts';

export function gatewayRoutesOverlay(
  config: PlatformConfig,
  target: KubeTarget,
  gateway: string,
): { configMap: KubeObject; patch: KustomizePatch } {
  const configMap = gatewayRoutesConfigMap(config, target, gateway);
  // Kustomize sets the overlay's namespace.
  delete configMap.metadata.namespace;
  const m = gatewayRoutesMount(gateway);
  const patch = deploymentAdds(gateway, [
    { path: '/spec/template/spec/volumes/-', value: m.volume },
    { path: '/spec/template/spec/containers/0/volumeMounts/-', value: m.volumeMount },
    { path: '/spec/template/spec/containers/0/env/-', value: m.env },
  ]);
  return { configMap, patch };
}
