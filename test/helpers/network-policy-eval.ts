/**
 * Evaluates Kubernetes NetworkPolicies the way the API documents them (networking.k8s.io/v1): a pod
 * selected by no policy of a direction is open in that direction; a selected pod allows exactly
 * the union of its policies' rules. A connection needs the source's egress and the destination's
 * ingress. Pods are matched by selectors, addresses outside the cluster by `ipBlock` (the API
 * leaves ipBlock on pod IPs to the implementation, so pods never match one here). No CNI runs on
 * these machines, so this reading of the specification stands in for one.
 */
import { BlockList, isIPv4 } from 'node:net';

export interface Pod {
  namespace: string;
  labels: Record<string, string>;
  /** Labels of the pod's namespace (kubernetes.io/metadata.name is added). */
  namespaceLabels?: Record<string, string>;
}

export type Peer = { pod: Pod } | { ip: string };

export interface Connection {
  from: Peer;
  to: Peer;
  port: number;
  protocol?: 'TCP' | 'UDP';
}

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
type PolicyPeer = {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: { cidr: string; except?: string[] };
};
type PolicyPort = { port?: number | string; protocol?: string; endPort?: number };
type Rule = { from?: PolicyPeer[]; to?: PolicyPeer[]; ports?: PolicyPort[] };

export interface NetworkPolicy {
  metadata: { name: string; namespace?: string };
  spec: {
    podSelector: Selector;
    policyTypes?: string[];
    ingress?: Rule[];
    egress?: Rule[];
  };
}

function matches(selector: Selector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  if (selector.matchExpressions?.length) throw new Error('matchExpressions are not evaluated here');
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function nsLabels(pod: Pod): Record<string, string> {
  return { ...pod.namespaceLabels, 'kubernetes.io/metadata.name': pod.namespace };
}

function inBlock(ip: string, block: { cidr: string; except?: string[] }): boolean {
  if (!isIPv4(ip)) return false;
  const list = (cidrs: string[]) => {
    const b = new BlockList();
    for (const c of cidrs) {
      const [net, len] = c.split('/');
      b.addSubnet(net as string, Number(len), 'ipv4');
    }
    return b;
  };
  return list([block.cidr]).check(ip, 'ipv4') && !list(block.except ?? []).check(ip, 'ipv4');
}

function peerMatches(peer: PolicyPeer, other: Peer, policyNamespace: string): boolean {
  if (peer.ipBlock) return 'ip' in other && inBlock(other.ip, peer.ipBlock);
  if (!('pod' in other)) return false;
  const pod = other.pod;
  const nsOk = peer.namespaceSelector
    ? matches(peer.namespaceSelector, nsLabels(pod))
    : pod.namespace === policyNamespace;
  return nsOk && matches(peer.podSelector, pod.labels);
}

function portMatches(ports: PolicyPort[] | undefined, port: number, protocol: string): boolean {
  if (!ports?.length) return true;
  return ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== protocol) return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'string') throw new Error(`named port ${p.port} is not evaluated here`);
    return p.endPort ? port >= p.port && port <= p.endPort : port === p.port;
  });
}

function direction(
  policies: NetworkPolicy[],
  pod: Pod,
  kind: 'Ingress' | 'Egress',
  other: Peer,
  port: number,
  protocol: string,
): boolean {
  const selecting = policies.filter(
    (p) =>
      (p.metadata.namespace ?? '') === pod.namespace &&
      matches(p.spec.podSelector, pod.labels) &&
      (p.spec.policyTypes ?? ['Ingress']).includes(kind),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (kind === 'Ingress' ? p.spec.ingress : p.spec.egress)?.some(
      (rule) =>
        portMatches(rule.ports, port, protocol) &&
        (() => {
          const peers = kind === 'Ingress' ? rule.from : rule.to;
          return !peers?.length || peers.some((peer) => peerMatches(peer, other, pod.namespace));
        })(),
    ),
  );
}

/** Whether the policies let the connection through. */
export function allowed(policies: NetworkPolicy[], c: Connection): boolean {
  const protocol = c.protocol ?? 'TCP';
  const egressOk = 'pod' in c.from ? direction(policies, c.from.pod, 'Egress', c.to, c.port, protocol) : true;
  const ingressOk = 'pod' in c.to ? direction(policies, c.to.pod, 'Ingress', c.from, c.port, protocol) : true;
  return egressOk && ingressOk;
}
