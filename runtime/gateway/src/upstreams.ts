/**
 * Upstream services and their instances: one keep-alive pool of the kit's lean HTTP/1.1 client
 * per instance, a circuit breaker per instance, and least-pending balancing (round-robin among
 * ties) within a version.
 */

import type { InstanceSpec, ServiceSpec, TrafficSpec } from '../../contract/gateway-config.ts';
import { Http1Pool } from '../../lib/http1-client.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { type TrafficPolicy, trafficPolicy } from './traffic.ts';

export interface UpstreamOptions {
  connections: number;
  connectTimeoutMs: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  canaryHeader: string;
  onEject?: (service: string, instance: Instance) => void;
}

export class Instance {
  readonly id: string;
  readonly url: string;
  readonly version: string;
  readonly pool: Http1Pool;
  readonly breaker: CircuitBreaker;
  pending = 0;

  constructor(spec: InstanceSpec, opts: UpstreamOptions, onEject: () => void) {
    this.id = spec.id;
    this.url = spec.url;
    this.version = spec.version;
    this.pool = new Http1Pool(new URL(spec.url).origin, {
      connections: opts.connections,
      pipelining: 1,
      // Capped by the upstream's own `keep-alive: timeout=` hint (less a second).
      keepAliveTimeoutMs: 30_000,
      connectTimeoutMs: opts.connectTimeoutMs,
    });
    this.breaker = new CircuitBreaker({
      failures: opts.breakerFailures,
      cooldownMs: opts.breakerCooldownMs,
      onEject,
    });
  }
}

export class UpstreamService {
  readonly name: string;
  instances: Instance[] = [];
  policy: TrafficPolicy;
  traffic: Partial<TrafficSpec>;
  #rr = 0;

  constructor(name: string, traffic: Partial<TrafficSpec>, canaryHeader: string) {
    this.name = name;
    this.traffic = traffic;
    this.policy = trafficPolicy(traffic, canaryHeader);
  }

  hasAvailable(version: string | undefined, now: number): boolean {
    for (const i of this.instances) {
      if ((version === undefined || i.version === version) && i.breaker.available(now)) return true;
    }
    return false;
  }

  /** Least pending requests among available instances of `version`, skipping `exclude`. */
  pick(version: string | undefined, now: number, exclude?: ReadonlySet<Instance>): Instance | undefined {
    const list = this.instances;
    const n = list.length;
    if (n === 0) return undefined;
    const start = this.#rr++ % n;
    let best: Instance | undefined;
    for (let k = 0; k < n; k++) {
      const inst = list[(start + k) % n] as Instance;
      if (version !== undefined && inst.version !== version) continue;
      if (exclude?.has(inst) || !inst.breaker.available(now)) continue;
      if (!best || inst.pending < best.pending) best = inst;
    }
    return best;
  }
}

export class UpstreamRegistry {
  readonly services = new Map<string, UpstreamService>();
  readonly #opts: UpstreamOptions;

  constructor(specs: Record<string, ServiceSpec>, opts: UpstreamOptions) {
    this.#opts = opts;
    for (const [name, spec] of Object.entries(specs)) {
      const { instances, ...traffic } = spec;
      const service = new UpstreamService(name, traffic, opts.canaryHeader);
      this.services.set(name, service);
      this.setInstances(name, instances);
    }
  }

  get(name: string): UpstreamService | undefined {
    return this.services.get(name);
  }

  #ensure(name: string): UpstreamService {
    let service = this.services.get(name);
    if (!service) {
      service = new UpstreamService(name, {}, this.#opts.canaryHeader);
      this.services.set(name, service);
    }
    return service;
  }

  /** Replaces the instance list; unchanged instances keep their pool, breaker and connections. */
  setInstances(name: string, specs: readonly InstanceSpec[]): UpstreamService {
    const service = this.#ensure(name);
    const old = new Map(service.instances.map((i) => [i.id, i]));
    const next: Instance[] = [];
    for (const spec of specs) {
      const existing = old.get(spec.id);
      if (existing && existing.url === spec.url && existing.version === spec.version) {
        next.push(existing);
        old.delete(spec.id);
      } else {
        const inst: Instance = new Instance(spec, this.#opts, () => this.#opts.onEject?.(name, inst));
        next.push(inst);
      }
    }
    service.instances = next;
    // Removed instances finish their in-flight requests, then their connections close.
    for (const gone of old.values()) void gone.pool.close().catch(() => {});
    return service;
  }

  setTraffic(name: string, traffic: Partial<TrafficSpec>): UpstreamService {
    const service = this.#ensure(name);
    service.traffic = traffic;
    service.policy = trafficPolicy(traffic, this.#opts.canaryHeader);
    return service;
  }

  async close(): Promise<void> {
    const pools: Promise<void>[] = [];
    for (const s of this.services.values())
      for (const i of s.instances) pools.push(i.pool.close().catch(() => {}));
    await Promise.all(pools);
  }
}
