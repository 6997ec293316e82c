/**
 * Who calls whom on a platform: the one source both the NetworkPolicies (which pod may reach
 * which) and the service links (the `<NAME>_URL` variables a pod is given) are computed from, so a
 * service is told where exactly the services it may reach are.
 */
import { serviceUrlVariable } from '../../../runtime/contract/runtime-env.ts';
import type { PlatformConfig } from './schema.ts';

/**
 * Calls the built-in services make by themselves, by the callee's service name (the variable they
 * read is `serviceUrlVariable(name)`): content asks auth for the caller's principal over gRPC at
 * AUTH_URL (runtime/content/src/service.ts), whether or not platform.yaml says `dependsOn: [auth]`.
 */
const BUILTIN_CALLS: Record<string, string[]> = {
  content: ['auth'],
};

/**
 * Caller -> callees: the gateway calls every routed service; `dependsOn` and the built-ins' own
 * calls (to services the platform has) name the rest.
 */
export function callGraph(config: PlatformConfig): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const [name, spec] of Object.entries(config.services)) {
    const callees = new Set(spec.dependsOn);
    const builtin = spec.path.startsWith('builtin:') ? BUILTIN_CALLS[spec.path.slice(8)] : undefined;
    for (const callee of builtin ?? []) if (callee !== name && config.services[callee]) callees.add(callee);
    if (spec.kind === 'gateway') {
      for (const [other, s] of Object.entries(config.services))
        if (other !== name && s.kind !== 'worker' && s.routes.length > 0) callees.add(other);
    }
    graph.set(name, callees);
  }
  return graph;
}

/**
 * The links of one service: `<NAME>_URL` of each service it calls (a worker takes no calls and gets
 * none), and AUTH_JWKS_URL when it calls auth (the gateway verifies tokens with auth's keys).
 * `urlOf` says where a callee is reached, e.g. its cluster DNS name. A variable the service's own
 * `env:` sets is left to it.
 */
export function serviceLinks(
  config: PlatformConfig,
  service: string,
  urlOf: (callee: string) => string,
): Record<string, string> {
  const links: Record<string, string> = {};
  const own = config.services[service]?.env ?? {};
  for (const callee of [...(callGraph(config).get(service) ?? [])].sort()) {
    if (config.services[callee]?.kind === 'worker') continue;
    links[serviceUrlVariable(callee)] = urlOf(callee);
    if (callee === 'auth') links.AUTH_JWKS_URL = `${urlOf(callee)}/.well-known/jwks.json`;
  }
  for (const key of Object.keys(own)) delete links[key];
  return links;
}
