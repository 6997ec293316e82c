/**
 * NetworkPolicies computed from the platform's call graph instead of one template for every
 * service: each service's pods accept only their callers (the Gateway API data plane for the
 * gateway, the gateway for routed services, the call graph's callers for the rest) and Prometheus on
 * their port, and reach only DNS, the services they call, the OTLP collector, and the managed
 * backends and cloud APIs Terraform gives the environment. Pod-to-pod traffic not in the graph is
 * denied, because every pod of the platform is selected by a policy with both directions.
 */
import { callGraph } from '../core/config/call-graph.ts';
import type { PlatformConfig, ServiceSpec } from '../core/config/schema.ts';
import { type KubeObject, type KubeTarget, NAME_LABEL } from '../providers/kubernetes/manifests.ts';
import { primarySite } from '../stacks/site.ts';

export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
/** GEP-1762: implementations label a Gateway's data-plane pods with the Gateway's name. */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** Where Prometheus and the OpenTelemetry collector run (`observability render` assumes the same). */
export const MONITORING_NAMESPACE = 'monitoring';
export const PROMETHEUS_LABELS = { [NAME_LABEL]: 'prometheus' };
export const OTLP_COLLECTOR_LABELS = { [NAME_LABEL]: 'opentelemetry-collector' };
export const OTLP_PORTS = [4317, 4318];
export const POSTGRES_PORT = 5432;
/** AMQP over TLS (Amazon MQ, managed RabbitMQ) and plain AMQP inside the VPC. */
export const AMQP_PORTS = [5671, 5672];
/** Object storage, the cloud's token endpoints (STS, Entra ID) and other cloud APIs. */
export const HTTPS_PORT = 443;
/** The GKE metadata server that answers Workload Identity token requests. */
export const GKE_METADATA = [
  { cidr: '169.254.169.254/32', port: 80 },
  { cidr: '169.254.169.252/32', port: 988 },
];
const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

/** The address space Terraform gives the environment's primary network (its managed backends live there). */
export function environmentCidr(config: PlatformConfig, environment: string): string | undefined {
  return primarySite(config, environment)?.cidr;
}

function podPeer(labels: Record<string, string>, namespace?: string): Record<string, unknown> {
  return {
    podSelector: { matchLabels: labels },
    ...(namespace
      ? { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } }
      : {}),
  };
}

const tcp = (port: number) => ({ port, protocol: 'TCP' });

/** The NetworkPolicy of one service in one environment. */
export function networkPolicy(
  config: PlatformConfig,
  target: KubeTarget,
  environment: string,
  service: string,
  spec: ServiceSpec,
): KubeObject {
  const graph = callGraph(config);
  const own = (name: string) => ({ [NAME_LABEL]: name, [PART_OF_LABEL]: target.platform });
  const callers = [...graph].filter(([, callees]) => callees.has(service)).map(([caller]) => caller);
  const ingress: Record<string, unknown>[] = [];
  if (spec.kind === 'gateway') {
    ingress.push({
      from: [
        { namespaceSelector: {}, podSelector: { matchLabels: { [GATEWAY_NAME_LABEL]: target.gateway } } },
      ],
      ports: [tcp(spec.port)],
    });
  }
  if (callers.length) ingress.push({ from: callers.map((c) => podPeer(own(c))), ports: [tcp(spec.port)] });
  ingress.push({ from: [podPeer(PROMETHEUS_LABELS, MONITORING_NAMESPACE)], ports: [tcp(spec.port)] });

  const egress: Record<string, unknown>[] = [
    {
      to: [podPeer({ 'k8s-app': 'kube-dns' }, 'kube-system')],
      ports: [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ],
    },
  ];
  for (const callee of [...(graph.get(service) ?? [])].sort()) {
    const calleeSpec = config.services[callee];
    if (calleeSpec) egress.push({ to: [podPeer(own(callee))], ports: [tcp(calleeSpec.port)] });
  }
  egress.push({ to: [podPeer(OTLP_COLLECTOR_LABELS, MONITORING_NAMESPACE)], ports: OTLP_PORTS.map(tcp) });
  const cidr = environmentCidr(config, environment);
  if (cidr) egress.push({ to: [{ ipBlock: { cidr } }], ports: [POSTGRES_PORT, ...AMQP_PORTS].map(tcp) });
  // Object storage and token endpoints are public cloud endpoints: any address outside the private ranges.
  egress.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: PRIVATE_RANGES } }], ports: [tcp(HTTPS_PORT)] });
  if (config.environments[environment]?.cloud === 'gcp') {
    for (const m of GKE_METADATA) egress.push({ to: [{ ipBlock: { cidr: m.cidr } }], ports: [tcp(m.port)] });
  }
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: service },
    spec: {
      podSelector: { matchLabels: own(service) },
      policyTypes: ['Ingress', 'Egress'],
      ingress,
      egress,
    },
  };
}
