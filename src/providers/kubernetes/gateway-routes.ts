/**
 * The runtime gateway's routing file in a cluster. Locally the supervisor writes GATEWAY_CONFIG
 * and pushes instances live; in a cluster nothing did, so the gateway started with no routes and
 * answered every REST request 404 and every gRPC call UNIMPLEMENTED. Here each routed service is
 * one upstream, its stable Service's cluster DNS name (the same URL its link names): the versions
 * behind it and their weights are the mesh's split (the Service's HTTPRoute or VirtualService),
 * so the file only changes when platform.yaml's routes do. It lives in a ConfigMap the gateway's
 * pods mount read-only.
 */
import type { GatewayConfigFile } from '../../../runtime/contract/gateway-config.ts';
import type { PlatformConfig } from '../../core/config/schema.ts';
import { routeBodyLimit } from '../local/edge-defaults.ts';
import { clusterUrl, type KubeObject, type KubeTarget, serviceLabels } from './manifests.ts';

/** Where the gateway's pods find the file (GATEWAY_CONFIG). */
export const GATEWAY_ROUTES_DIR = '/etc/platformctl';
export const GATEWAY_ROUTES_FILE = 'gateway.json';

export function gatewayRoutesName(gateway: string): string {
  return `${gateway}-routes`;
}

/** The routing file: platform.yaml's routes, each service at its stable Service. */
export function gatewayRoutes(config: PlatformConfig, target: KubeTarget): GatewayConfigFile {
  const routes: NonNullable<GatewayConfigFile['routes']> = [];
  const services: NonNullable<GatewayConfigFile['services']> = {};
  for (const [name, spec] of Object.entries(config.services)) {
    if (spec.kind !== 'service' || spec.routes.length === 0) continue;
    const maxBodyBytes = routeBodyLimit(spec);
    for (const prefix of spec.routes)
      routes.push({ prefix, service: name, ...(maxBodyBytes ? { maxBodyBytes } : {}) });
    services[name] = { instances: [{ id: name, url: clusterUrl(target, name), version: 'stable' }] };
  }
  return { routes, services };
}

/** The ConfigMap holding the routing file of the gateway service `gateway`. */
export function gatewayRoutesConfigMap(
  config: PlatformConfig,
  target: KubeTarget,
  gateway: string,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: gatewayRoutesName(gateway),
      namespace: target.namespace,
      labels: serviceLabels(target, gateway),
    },
    data: { [GATEWAY_ROUTES_FILE]: `${JSON.stringify(gatewayRoutes(config, target), null, 2)}\n` },
  };
}

/** What a gateway pod needs to read the file: the ConfigMap volume, its mount, GATEWAY_CONFIG. */
export function gatewayRoutesMount(gateway: string) {
  return {
    volume: { name: 'routes', configMap: { name: gatewayRoutesName(gateway) } },
    volumeMount: { name: 'routes', mountPath: GATEWAY_ROUTES_DIR, readOnly: true },
    env: { name: 'GATEWAY_CONFIG', value: `${GATEWAY_ROUTES_DIR}/${GATEWAY_ROUTES_FILE}` },
  };
}

type PodSpec = {
  volumes?: unknown[];
  containers: { env?: unknown[]; volumeMounts?: unknown[] }[];
};

/** Adds the mount to a gateway Deployment built by versionObjects. */
export function mountGatewayRoutes(deployment: KubeObject, gateway: string): void {
  const pod = (deployment.spec as { template: { spec: PodSpec } }).template.spec;
  const container = pod.containers[0];
  if (!container) return;
  const m = gatewayRoutesMount(gateway);
  pod.volumes = [...(pod.volumes ?? []), m.volume];
  container.volumeMounts = [...(container.volumeMounts ?? []), m.volumeMount];
  container.env = [...(container.env ?? []), m.env];
}
