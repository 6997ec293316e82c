/**
 * Keeps the gateways in step with what the supervisor runs: the routing file (GATEWAY_CONFIG) a
 * (re)starting gateway reads, and live pushes through each ready gateway's admin API of what
 * changed since it was last told (routing table, instances per service, traffic weights).
 */
import { dirname } from 'node:path';
import type { GatewayConfigFile } from '../../../runtime/contract/gateway-config.ts';
import { writeJsonAtomic } from '../../core/json-file.ts';
import { ensureDir } from '../../core/state-dir.ts';
import { gatewayAdminUrl } from './edge-defaults.ts';
import { GatewayAdmin, type GatewayInstance } from './gateway-client.ts';
import type { Managed } from './instance-process.ts';
import type { ServicePlan } from './service-plan.ts';
import type { ServiceRecord } from './state.ts';

/** The part of the gateway's routing file the supervisor writes (typed by the gateway's schema). */
export type GatewayFile = Required<Pick<GatewayConfigFile, 'routes'>> & {
  services: Record<
    string,
    NonNullable<GatewayConfigFile['services']>[string] & { instances: GatewayInstance[] }
  >;
};

/** What the supervisor runs, as the gateway sync reads it. */
export interface Topology {
  /** Planned services in start order. */
  plans(): ServicePlan[];
  instances(): Iterable<Managed>;
  service(name: string): ServiceRecord | undefined;
  /** After the supervisor closed, nothing is written or pushed any more. */
  closed(): boolean;
}

/** How soon a push a gateway did not take is tried again. */
const PUSH_RETRY_MS = 500;

/** Key of the routing table among what a gateway was last told (service names cannot be empty). */
const ROUTES_KEY = '';

export class GatewaySync {
  readonly configPath: string;
  readonly #token: string;
  readonly #topology: Topology;
  #signature = '';
  /** Per gateway instance: service (or ROUTES_KEY) → signature of what it was last told. */
  readonly #pushed = new Map<string, Map<string, string>>();
  #chain: Promise<void> = Promise.resolve();
  /** The pending retry of a push some gateway did not take. */
  #retry: NodeJS.Timeout | undefined;

  /** `configPath`: the GATEWAY_CONFIG file (statePaths().gatewayConfig). */
  constructor(configPath: string, token: string, topology: Topology) {
    this.#token = token;
    this.#topology = topology;
    this.configPath = configPath;
  }

  /** A (re)started gateway reads the file: forget what its previous process was told. */
  forget(gatewayInstance: string): void {
    this.#pushed.delete(gatewayInstance);
  }

  config(): GatewayFile {
    const routes: GatewayFile['routes'] = [];
    const services: GatewayFile['services'] = {};
    const instances = [...this.#topology.instances()];
    for (const p of this.#topology.plans()) {
      if (p.kind === 'gateway') continue;
      for (const prefix of p.routes)
        routes.push({ prefix, service: p.name, maxBodyBytes: p.maxBodyBytes || undefined });
      const ready = instances
        // Only ready instances are routable (like Kubernetes endpoints): a crashed instance leaves
        // the gateway at once and comes back as a fresh upstream (no stale circuit breaker) when
        // its restart answers /readyz.
        .filter((m) => m.rec.service === p.name && !m.stopping && m.rec.state === 'ready')
        .map((m) => ({ id: m.rec.id, url: m.rec.url, version: m.rec.version }));
      const traffic = this.#topology.service(p.name)?.traffic;
      // Named properties, not spreads: the type checker then sees every key the gateway must know.
      services[p.name] = {
        instances: ready,
        weights: traffic?.weights,
        header: traffic?.header || undefined,
        cookie: traffic?.cookie || undefined,
      };
    }
    return { routes, services };
  }

  /** Writes the routing file; a gateway (re)starting never reads half a file. */
  write(): GatewayFile {
    const config = this.config();
    ensureDir(dirname(this.configPath));
    writeJsonAtomic(this.configPath, config);
    return config;
  }

  /** Writes the routing file when it changed and pushes what changed to every ready gateway. */
  sync(force = false): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      if (this.#topology.closed() || !this.#topology.plans().some((p) => p.kind === 'gateway')) return;
      const config = this.config();
      const signature = JSON.stringify([config.routes, config.services]);
      if (signature !== this.#signature) {
        this.write();
        this.#signature = signature;
      }
      const gateways = [...this.#topology.instances()].filter(
        (m) => m.spec.kind === 'gateway' && m.rec.state === 'ready',
      );
      // Push only what changed for each live gateway, all in parallel: this is on the path from
      // "restart ready" to "serving through the gateway".
      const ok = await Promise.all(gateways.map((g) => this.#push(g, config, force)));
      if (ok.every(Boolean)) return;
      // A gateway that did not take a push (busy past the admin timeout, restarting) would keep
      // routing by what it was told before until some other change syncs again, which may never
      // come: try again soon, and keep trying while pushes fail.
      this.#retry ??= setTimeout(() => {
        this.#retry = undefined;
        void this.sync();
      }, PUSH_RETRY_MS);
      this.#retry.unref?.();
    });
    return this.#chain;
  }

  /** Resolves false when the gateway did not take all of it (retried by `sync`). */
  async #push(g: Managed, config: GatewayFile, force: boolean): Promise<boolean> {
    const admin = new GatewayAdmin(gatewayAdminUrl(g.rec.url), this.#token);
    const pushed = this.#pushed.get(g.rec.id) ?? new Map<string, string>();
    this.#pushed.set(g.rec.id, pushed);
    // Routes first: a service added by `up <name>` is routable as soon as it has instances.
    const routes = JSON.stringify(config.routes);
    let ok = true;
    if (force || pushed.get(ROUTES_KEY) !== routes) {
      try {
        await admin.setRoutes(config.routes);
        pushed.set(ROUTES_KEY, routes);
      } catch {
        pushed.delete(ROUTES_KEY);
        ok = false;
      }
    }
    await Promise.all(
      Object.entries(config.services).map(async ([service, s]) => {
        const traffic = this.#topology.service(service)?.traffic;
        const sig = JSON.stringify([s.instances, traffic]);
        if (!force && pushed.get(service) === sig) return;
        try {
          await admin.setInstances(service, s.instances);
          if (traffic) await admin.setTraffic(service, traffic);
          pushed.set(service, sig);
        } catch {
          // Retried by sync; a restarting gateway reads the file anyway.
          pushed.delete(service);
          ok = false;
        }
      }),
    );
    return ok;
  }
}
