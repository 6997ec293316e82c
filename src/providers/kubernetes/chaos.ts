/**
 * Chaos faults on Kubernetes as Chaos Mesh objects (chaos-mesh.org/v1alpha1), one object per fault
 * so `clearFaults(id)` is a single delete. The selectors and the dependency names match the
 * experiment renderer (src/chaos/chaos-mesh.ts), so a fault injected by `platformctl chaos run`
 * and the same fault in a rendered Workflow hit the same pods.
 */
import type { FaultSpec } from '../provider.ts';
import { type KubeTarget, MANAGED_BY, NAME_LABEL, VERSION_LABEL } from './manifests.ts';

export const CHAOS_GROUP = 'chaos-mesh.org';
export const CHAOS_VERSION = 'v1alpha1';
export const FAULT_LABEL = 'platformctl.dev/fault';
/** Chaos Mesh kind -> plural resource name, for the CustomObjects API. */
export const CHAOS_PLURALS = {
  HTTPChaos: 'httpchaos',
  NetworkChaos: 'networkchaos',
  PodChaos: 'podchaos',
} as const;
export type ChaosKind = keyof typeof CHAOS_PLURALS;

export interface ChaosObject {
  apiVersion: string;
  kind: ChaosKind;
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}

/** The pods a dependency name stands for (the platform's backing services in the cluster). */
export function dependencyService(dependency: string): string {
  return dependency === 'bus' ? 'rabbitmq' : dependency === 'db' ? 'postgresql' : dependency;
}

function selector(target: KubeTarget, service: string, version?: string) {
  return {
    namespaces: [target.namespace],
    labelSelectors: { [NAME_LABEL]: service, ...(version ? { [VERSION_LABEL]: version } : {}) },
  };
}

function meta(target: KubeTarget, name: string) {
  return { name, namespace: target.namespace, labels: { ...MANAGED_BY, [FAULT_LABEL]: 'true' } };
}

/**
 * Delay and abort faults as HTTPChaos on the service's pods. Chaos Mesh has no per-request
 * percentage for HTTP faults, so `abortPct` selects that percentage of the pods instead
 * (`fixed-percent`): across replicas behind a Service the share of affected requests is the same.
 */
export function httpChaos(target: KubeTarget, name: string, fault: FaultSpec, port: number): ChaosObject {
  const pct = fault.abortPct;
  const partial = pct !== undefined && pct < 100;
  return {
    apiVersion: `${CHAOS_GROUP}/${CHAOS_VERSION}`,
    kind: 'HTTPChaos',
    metadata: meta(target, name),
    spec: {
      mode: partial ? 'fixed-percent' : 'all',
      ...(partial ? { value: String(Math.max(1, Math.round(pct))) } : {}),
      selector: selector(target, fault.service, fault.version),
      target: 'Request',
      port,
      path: fault.route ? `${fault.route}*` : '*',
      ...(fault.delayMs ? { delay: `${fault.delayMs}ms` } : {}),
      ...(pct ? { replace: { code: fault.abortStatus ?? 503 } } : {}),
      // Chaos Mesh ends the experiment by itself after `duration`: the fault's lease.
      ...(fault.ttlMs ? { duration: `${Math.ceil(fault.ttlMs / 1000)}s` } : {}),
    },
  };
}

/** Cuts a service (or every platform pod) off from a dependency's pods, both directions. */
export function networkPartition(
  target: KubeTarget,
  name: string,
  dependency: string,
  service?: string,
): ChaosObject {
  return {
    apiVersion: `${CHAOS_GROUP}/${CHAOS_VERSION}`,
    kind: 'NetworkChaos',
    metadata: meta(target, name),
    spec: {
      action: 'partition',
      mode: 'all',
      direction: 'both',
      selector: service
        ? selector(target, service)
        : {
            namespaces: [target.namespace],
            labelSelectors: { 'app.kubernetes.io/part-of': target.platform },
          },
      target: { mode: 'all', selector: selector(target, dependencyService(dependency)) },
    },
  };
}
