/**
 * The local supervisor: runs service releases as child processes and keeps them running.
 *
 * Design
 * - One supervisor per project. It runs inside `platformctl up` (foreground) or as a detached
 *   daemon (`up --detach`, see daemon.ts). Either way it owns the children, writes
 *   `.platform/state.json` atomically on every change, and serves a small control API on
 *   127.0.0.1 (Bearer admin token, address in state.json) through which other platformctl
 *   processes scale, deploy, retire, set traffic and stop. Read-only commands only read the state
 *   file and reconcile it with /proc, so they work even when the supervisor is gone.
 * - Children run `node <release>/main.mjs` in their own process group, env per the runtime
 *   contract, stdout+stderr appended straight to `.platform/logs/<instance>.log` (logs survive the
 *   supervisor, and followers just tail files).
 * - Start order is topological over `dependsOn`; services of the same depth start together; a
 *   level waits for `/readyz` of every instance before the next level starts.
 * - A crash restarts immediately the first time (kill -9 → serving again in well under a second);
 *   repeated crashes back off 100 ms doubling to 10 s; 5 crashes in 60 s → `crash-loop` (kept in
 *   the state with the last log lines; no more restarts). A run that was ready for 5 s clears the
 *   history (restart-policy.ts).
 * - The gateway is configured by a GATEWAY_CONFIG file written before it starts and kept current;
 *   every change of routable instances or traffic is also pushed live through its admin API. A
 *   restarted instance keeps its port, so the gateway needs no change to reach it again.
 * - Stop: SIGTERM to the process group, a deadline, then SIGKILL; dependents stop first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayConfigFile } from '../../../runtime/contract/gateway-config.ts';
import { type RuntimeEnv, serviceUrlVariable } from '../../../runtime/contract/runtime-env.ts';
import { withoutVersion, withVersionAt } from '../../../runtime/contract/traffic-weights.ts';
import { PlatformError } from '../../core/errors.ts';
import { writeJsonAtomic } from '../../core/json-file.ts';
import { isPortFree } from '../../core/ports.ts';
import { sleep } from '../../core/sleep.ts';
import { ensureDir, statePaths } from '../../core/state-dir.ts';
import type { InstanceState, ProviderEvent, TrafficSpec } from '../provider.ts';
import { GatewayAdmin, type GatewayInstance } from './gateway-client.ts';
import { lastLines } from './logs.ts';
import { nextPort, portInUseError } from './port-check.ts';
import { type RestartPolicyOptions, RestartTracker } from './restart-policy.ts';
import {
  type InstanceRecord,
  type LocalState,
  type ServiceRecord,
  type SupervisorRecord,
  writeState,
} from './state.ts';

/** What `up` asks the supervisor to run for one service. */
export interface ServicePlan {
  name: string;
  kind: 'gateway' | 'service' | 'worker';
  version: string;
  /** Absolute path of the release bundle. */
  entry: string;
  replicas: number;
  basePort: number;
  routes: string[];
  /** Largest request body the gateway lets through to this service's routes (its default when unset). */
  maxBodyBytes?: number;
  dependsOn: string[];
  readiness: string;
  env: Record<string, string>;
}

export interface Plan {
  /** Every service of platform.yaml in start order (the ones to run and the ones only configured). */
  services: ServicePlan[];
  /** Names to run now (with their dependencies already included). */
  run: string[];
}

export interface SupervisorOptions {
  root: string;
  token: string;
  detached: boolean;
  policy?: Partial<RestartPolicyOptions>;
  /** Grace period after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
  onEvent?: (e: ProviderEvent) => void;
}

/** Thrown when an instance crash-loops while `up`/`scale`/`deploy` waits for it. */
export class CrashLoopError extends PlatformError {
  constructor(instance: InstanceRecord) {
    super(
      'CRASH_LOOP',
      `${instance.id} keeps crashing (${instance.restarts} restarts); it is no longer restarted`,
      {
        hint: `see its logs: platformctl logs ${instance.service} --since 5m; fix it, then run platformctl up again`,
        details: { instance: instance.id, lastLogLines: instance.lastLogLines ?? [] },
      },
    );
  }
}

interface Managed {
  rec: InstanceRecord;
  spec: ServicePlan;
  child?: ChildProcess;
  tracker: RestartTracker;
  timer?: NodeJS.Timeout;
  stopping: boolean;
  spawnedAt: number;
  readyThisRun: boolean;
  exited?: Promise<void>;
  waiters: Set<() => void>;
}

const PROBE_TIMEOUT_MS = 1000;

/** The part of the gateway's routing file the supervisor writes (typed by the gateway's schema). */
type GatewayFile = Required<Pick<GatewayConfigFile, 'routes'>> & {
  services: Record<
    string,
    NonNullable<GatewayConfigFile['services']>[string] & { instances: GatewayInstance[] }
  >;
};

/**
 * Where a service's instances beyond the first listen: 1000 above its configured port and up
 * (content on 8082 → 9082, 9083…), apart from the configured ports, so the port `service new`
 * gives the next service (the one after the configured ones) is never taken by a canary or a
 * scaled instance.
 */
export function extraInstanceBase(basePort: number): number {
  return basePort + EXTRA_INSTANCE_OFFSET <= 65_000 ? basePort + EXTRA_INSTANCE_OFFSET : basePort + 1;
}
const EXTRA_INSTANCE_OFFSET = 1000;

/** Key of the routing table among what a gateway was last told (service names cannot be empty). */
const ROUTES_KEY = '';

export class Supervisor {
  readonly root: string;
  readonly paths: ReturnType<typeof statePaths>;
  private readonly options: SupervisorOptions;
  private readonly instances = new Map<string, Managed>();
  private readonly services = new Map<string, ServiceRecord>();
  private plans = new Map<string, ServicePlan>();
  private order: string[] = [];
  private gatewaySignature = '';
  /** Per gateway instance: service → signature of what it was last told. */
  private readonly pushed = new Map<string, Map<string, string>>();
  private gatewaySync: Promise<void> = Promise.resolve();
  private healthTimer: NodeJS.Timeout | undefined;
  private record: SupervisorRecord | undefined;
  private error: string | undefined;
  private closed = false;

  constructor(options: SupervisorOptions) {
    this.options = options;
    this.root = options.root;
    this.paths = statePaths(options.root);
    ensureDir(this.paths.logs);
    ensureDir(this.paths.data);
    this.healthTimer = setInterval(() => void this.checkHealth(), 5000);
    this.healthTimer.unref();
  }

  setRecord(record: SupervisorRecord): void {
    this.record = record;
    this.persist();
  }

  private emit(e: ProviderEvent): void {
    this.options.onEvent?.(e);
  }

  // ---------------------------------------------------------------- state

  snapshot(): LocalState {
    const gateway = this.order.map((n) => this.plans.get(n)).find((p) => p?.kind === 'gateway');
    return {
      schema: 1,
      updatedAt: new Date().toISOString(),
      ...(this.record ? { supervisor: this.record } : {}),
      ...(gateway ? { gatewayUrl: `http://127.0.0.1:${gateway.basePort}` } : {}),
      services: Object.fromEntries(this.services),
      instances: [...this.instances.values()].map((m) => ({ ...m.rec })),
      ...(this.error ? { error: this.error } : {}),
    };
  }

  persist(): void {
    if (this.closed) return;
    writeState(this.paths.state, this.snapshot());
  }

  private setState(m: Managed, state: InstanceState): void {
    if (m.rec.state === state) return;
    m.rec.state = state;
    this.persist();
    for (const w of m.waiters) w();
  }

  // ---------------------------------------------------------------- apply (up)

  /**
   * Brings the plan's services up: already running instances are left alone, crash-looped ones get
   * a fresh start, missing replicas are started. Resolves when every instance is ready.
   */
  async apply(plan: Plan): Promise<void> {
    this.error = undefined;
    this.persist();
    for (const p of plan.services) this.plans.set(p.name, p);
    this.order = plan.services.map((p) => p.name);
    const levels = depthLevels(plan.services.filter((p) => plan.run.includes(p.name)));
    try {
      for (const level of levels) {
        await Promise.all(level.map((p) => this.ensureService(p)));
      }
    } catch (err) {
      this.error = (err as Error).message;
      this.persist();
      throw err;
    }
    this.persist();
  }

  private async ensureService(p: ServicePlan): Promise<void> {
    let svc = this.services.get(p.name);
    if (!svc) {
      svc = { kind: p.kind, replicas: { [p.version]: p.replicas }, versions: [p.version] };
      this.services.set(p.name, svc);
    }
    if (p.kind === 'gateway') this.writeGatewayConfig();
    const waits: Promise<void>[] = [];
    for (const version of svc.versions) {
      const mine = this.ofVersion(p.name, version);
      for (const m of mine) {
        if (m.rec.state === 'crash-loop' || m.rec.state === 'stopped') {
          m.tracker.reset();
          m.rec.restarts = 0;
          this.spawn(m);
        }
        waits.push(this.waitReady(m));
      }
      const want = svc.replicas[version] ?? 0;
      for (let i = mine.length; i < want; i++) {
        const entry = version === p.version ? p.entry : (mine[0]?.rec.entry ?? p.entry);
        const m = await this.createInstance(p, version, entry);
        waits.push(this.waitReady(m));
      }
    }
    await Promise.all(waits);
    await this.syncGateway();
  }

  private ofVersion(service: string, version: string): Managed[] {
    return [...this.instances.values()].filter(
      (m) => m.rec.service === service && m.rec.version === version && !m.stopping,
    );
  }

  private reservedPorts(): Set<number> {
    const ports = new Set<number>();
    for (const p of this.plans.values()) for (let i = 0; i < p.replicas; i++) ports.add(p.basePort + i);
    for (const m of this.instances.values()) ports.add(m.rec.port);
    return ports;
  }

  private async createInstance(p: ServicePlan, version: string, entry: string): Promise<Managed> {
    const taken = [...this.instances.values()].filter((m) => m.rec.service === p.name);
    const first = taken.length === 0;
    let port: number;
    if (first) {
      port = p.basePort;
      if (!(await isPortFree(port))) throw portInUseError(port, `${p.name} (instance 1)`);
    } else {
      port = await nextPort(extraInstanceBase(p.basePort), this.reservedPorts());
    }
    let n = 1;
    while (this.instances.has(`${p.name}-${n}`)) n++;
    const id = `${p.name}-${n}`;
    const rec: InstanceRecord = {
      id,
      service: p.name,
      version,
      port,
      url: `http://127.0.0.1:${port}`,
      state: 'starting',
      restarts: 0,
      entry,
      logFile: join(this.paths.logs, `${id}.log`),
      everReady: false,
    };
    const m: Managed = {
      rec,
      spec: p,
      tracker: new RestartTracker(this.options.policy),
      stopping: false,
      spawnedAt: 0,
      readyThisRun: false,
      waiters: new Set(),
    };
    this.instances.set(id, m);
    this.spawn(m);
    return m;
  }

  private instanceEnv(m: Managed): Record<string, string> {
    // Everything the supervisor inherited except platformctl's own settings and npm's.
    const base: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v === undefined || k.startsWith('PLATFORMCTL_') || k.startsWith('npm_')) continue;
      base[k] = v;
    }
    const runtime: RuntimeEnv = {
      PORT: String(m.rec.port),
      HOST: '127.0.0.1',
      SERVICE_NAME: m.rec.service,
      SERVICE_VERSION: m.rec.version,
      INSTANCE_ID: m.rec.id,
      LOG_LEVEL: process.env.PLATFORMCTL_LOG_LEVEL ?? 'info',
      DATA_DIR: join(this.paths.data, m.rec.service),
      BUS_URL: `embedded://${join(this.paths.data, 'bus')}`,
      ADMIN_TOKEN: this.options.token,
      TRACES_DIR: join(this.paths.dir, 'traces'),
    };
    const env: Record<string, string> = {
      ...base,
      NODE_ENV: process.env.NODE_ENV ?? 'production',
      ...runtime,
    };
    for (const p of this.plans.values()) env[serviceUrlVariable(p.name)] = `http://127.0.0.1:${p.basePort}`;
    const auth = this.plans.get('auth');
    const links: RuntimeEnv = {
      ...(auth ? { AUTH_JWKS_URL: `http://127.0.0.1:${auth.basePort}/.well-known/jwks.json` } : {}),
      ...(m.spec.kind === 'gateway' ? { GATEWAY_CONFIG: this.gatewayConfigPath() } : {}),
    };
    Object.assign(env, links, m.spec.env);
    return env;
  }

  private spawn(m: Managed): void {
    if (this.closed) return;
    ensureDir(join(this.paths.data, m.rec.service));
    ensureDir(join(this.paths.data, 'bus'));
    rotateLog(m.rec.logFile);
    const fd = openSync(m.rec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [m.rec.entry], {
        cwd: this.root,
        env: this.instanceEnv(m),
        stdio: ['ignore', fd, fd],
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    m.child = child;
    // A (re)started gateway reads GATEWAY_CONFIG; forget what its previous process was told.
    if (m.spec.kind === 'gateway') this.pushed.delete(m.rec.id);
    m.spawnedAt = Date.now();
    m.readyThisRun = false;
    m.rec.pid = child.pid;
    m.rec.startedAt = new Date(m.spawnedAt).toISOString();
    m.rec.state = 'starting';
    delete m.rec.lastLogLines;
    let resolveExit: () => void = () => {};
    m.exited = new Promise((r) => {
      resolveExit = r;
    });
    child.once('error', () => {
      // spawn failures surface as an exit below as well
    });
    child.once('exit', (code, signal) => {
      resolveExit();
      this.onExit(m, child, code, signal);
    });
    this.emit({
      type: 'instance.starting',
      instance: m.rec.id,
      service: m.rec.service,
      version: m.rec.version,
      port: m.rec.port,
    });
    this.persist();
    void this.pollReady(m, child);
  }

  private async pollReady(m: Managed, child: ChildProcess): Promise<void> {
    const url = `${m.rec.url}${m.spec.readiness}`;
    const started = Date.now();
    for (let i = 0; ; i++) {
      if (m.child !== child || child.exitCode !== null || child.signalCode !== null || m.stopping) return;
      if (await probe(url)) {
        if (m.child !== child || m.stopping) return;
        m.readyThisRun = true;
        m.rec.everReady = true;
        this.setState(m, 'ready');
        this.emit({
          type: 'instance.ready',
          instance: m.rec.id,
          service: m.rec.service,
          ms: Date.now() - started,
        });
        void this.syncGateway();
        return;
      }
      // Poll fast at first: restart-to-serving time is what users (and bench:recovery) feel.
      await sleep(i < 100 ? 20 : 200);
    }
  }

  private onExit(m: Managed, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (m.child !== child) return;
    m.child = undefined;
    m.rec.pid = undefined;
    m.rec.lastExit = { code, signal, at: new Date().toISOString() };
    this.emit({ type: 'instance.exited', instance: m.rec.id, service: m.rec.service, code, signal });
    if (m.stopping || this.closed) {
      this.setState(m, 'stopped');
      return;
    }
    // Not ready any more: the gateway must stop routing here until the restart is ready.
    m.rec.state = 'starting';
    void this.syncGateway();
    const now = Date.now();
    const decision = m.tracker.onCrash(now, now - m.spawnedAt, m.readyThisRun);
    if (decision.action === 'crash-loop') {
      m.rec.lastLogLines = lastLines(m.rec.logFile, 20);
      this.setState(m, 'crash-loop');
      this.emit({
        type: 'instance.crash-loop',
        instance: m.rec.id,
        service: m.rec.service,
        lastLogLines: m.rec.lastLogLines,
      });
      return;
    }
    m.rec.restarts++;
    this.emit({
      type: 'instance.restarting',
      instance: m.rec.id,
      service: m.rec.service,
      delayMs: decision.delayMs,
      restarts: m.rec.restarts,
    });
    if (decision.delayMs === 0) {
      this.spawn(m);
      return;
    }
    this.setState(m, 'backoff');
    m.timer = setTimeout(() => {
      m.timer = undefined;
      if (!m.stopping && !this.closed) this.spawn(m);
    }, decision.delayMs);
  }

  /** Resolves when `m` is ready; rejects with CrashLoopError if it crash-loops first. */
  waitReady(m: Managed): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (m.rec.state === 'ready') {
          m.waiters.delete(check);
          resolve();
        } else if (m.rec.state === 'crash-loop') {
          m.waiters.delete(check);
          reject(new CrashLoopError(m.rec));
        } else if (m.stopping || m.rec.state === 'stopped') {
          m.waiters.delete(check);
          reject(new PlatformError('STOPPED', `${m.rec.id} was stopped before it became ready`));
        }
      };
      m.waiters.add(check);
      check();
    });
  }

  private async checkHealth(): Promise<void> {
    for (const m of this.instances.values()) {
      if (!m.child || m.stopping || (m.rec.state !== 'ready' && m.rec.state !== 'unhealthy')) continue;
      const child = m.child;
      const ok = await probe(`${m.rec.url}${m.spec.readiness}`);
      if (m.child !== child || m.stopping) continue;
      this.setState(m, ok ? 'ready' : 'unhealthy');
      void this.syncGateway();
    }
  }

  // ---------------------------------------------------------------- gateway

  private gatewayConfigPath(): string {
    return join(this.paths.dir, 'gateway.json');
  }

  private gatewayConfig(): GatewayFile {
    const routes: GatewayFile['routes'] = [];
    const services: GatewayFile['services'] = {};
    for (const name of this.order) {
      const p = this.plans.get(name);
      if (!p || p.kind === 'gateway') continue;
      for (const prefix of p.routes)
        routes.push({ prefix, service: name, maxBodyBytes: p.maxBodyBytes || undefined });
      const instances = [...this.instances.values()]
        // Only ready instances are routable (like Kubernetes endpoints): a crashed instance leaves
        // the gateway at once and comes back as a fresh upstream (no stale circuit breaker) when
        // its restart answers /readyz.
        .filter((m) => m.rec.service === name && !m.stopping && m.rec.state === 'ready')
        .map((m) => ({ id: m.rec.id, url: m.rec.url, version: m.rec.version }));
      const traffic = this.services.get(name)?.traffic;
      // Named properties, not spreads: the type checker then sees every key the gateway must know.
      services[name] = {
        instances,
        weights: traffic?.weights,
        header: traffic?.header || undefined,
        cookie: traffic?.cookie || undefined,
      };
    }
    return { routes, services };
  }

  private writeGatewayConfig(): GatewayFile {
    const config = this.gatewayConfig();
    ensureDir(this.paths.dir);
    const file = this.gatewayConfigPath();
    // a gateway (re)starting never reads half a file
    writeJsonAtomic(file, config);
    return config;
  }

  /** Writes the gateway config and pushes changed instance lists and weights to live gateways. */
  syncGateway(force = false): Promise<void> {
    this.gatewaySync = this.gatewaySync.then(async () => {
      if (this.closed || ![...this.plans.values()].some((p) => p.kind === 'gateway')) return;
      const config = this.gatewayConfig();
      const signature = JSON.stringify([config.routes, config.services]);
      if (signature !== this.gatewaySignature) {
        this.writeGatewayConfig();
        this.gatewaySignature = signature;
      }
      const gateways = [...this.instances.values()].filter(
        (m) => m.spec.kind === 'gateway' && m.rec.state === 'ready',
      );
      // Push only the services whose instances or traffic changed for each live gateway, all in
      // parallel: this is on the path from "restart ready" to "serving through the gateway".
      await Promise.all(
        gateways.map(async (g) => {
          const admin = new GatewayAdmin(g.rec.url, this.options.token);
          const pushed = this.pushed.get(g.rec.id) ?? new Map<string, string>();
          this.pushed.set(g.rec.id, pushed);
          // Routes first: a service added by `up <name>` is routable as soon as it has instances.
          const routes = JSON.stringify(config.routes);
          if (force || pushed.get(ROUTES_KEY) !== routes) {
            try {
              await admin.setRoutes(config.routes);
              pushed.set(ROUTES_KEY, routes);
            } catch {
              pushed.delete(ROUTES_KEY);
            }
          }
          await Promise.all(
            Object.entries(config.services).map(async ([service, s]) => {
              const traffic = this.services.get(service)?.traffic;
              const sig = JSON.stringify([s.instances, traffic]);
              if (!force && pushed.get(service) === sig) return;
              try {
                await admin.setInstances(service, s.instances);
                if (traffic) await admin.setTraffic(service, traffic);
                pushed.set(service, sig);
              } catch {
                // Retried on the next sync; a restarting gateway reads the file anyway.
                pushed.delete(service);
              }
            }),
          );
        }),
      );
    });
    return this.gatewaySync;
  }

  // ---------------------------------------------------------------- scale, deploy, retire, traffic

  private requirePlan(service: string): ServicePlan {
    const p = this.plans.get(service);
    const svc = this.services.get(service);
    if (!p || !svc) {
      throw new PlatformError('NOT_RUNNING', `service "${service}" is not running`, {
        hint: `start it first: platformctl up ${service}`,
      });
    }
    return p;
  }

  async scale(service: string, replicas: number, version?: string): Promise<void> {
    const p = this.requirePlan(service);
    const svc = this.services.get(service) as ServiceRecord;
    const v = version ?? svc.versions[0] ?? p.version;
    if (!svc.versions.includes(v)) {
      throw new PlatformError('UNKNOWN_VERSION', `${service} runs no version "${v}"`, {
        hint: `running versions: ${svc.versions.join(', ')}`,
      });
    }
    svc.replicas[v] = replicas;
    const mine = this.ofVersion(service, v);
    if (replicas > mine.length) {
      const entry = mine[0]?.rec.entry ?? p.entry;
      const created: Managed[] = [];
      for (let i = mine.length; i < replicas; i++) created.push(await this.createInstance(p, v, entry));
      await Promise.all(created.map((m) => this.waitReady(m)));
    } else if (replicas < mine.length) {
      const extra = mine
        .sort((a, b) => idNumber(b.rec.id) - idNumber(a.rec.id))
        .slice(0, mine.length - replicas);
      await this.remove(extra);
    }
    await this.syncGateway();
    this.persist();
  }

  async deploy(
    service: string,
    version: string,
    entry: string,
    replicas: number,
    initialWeight?: number,
  ): Promise<void> {
    const p = this.requirePlan(service);
    const svc = this.services.get(service) as ServiceRecord;
    if (svc.versions.includes(version)) {
      await this.scale(service, replicas, version);
      return;
    }
    const others = svc.versions.filter((v) => this.ofVersion(service, v).length > 0);
    svc.versions.push(version);
    svc.replicas[version] = replicas;
    const created: Managed[] = [];
    for (let i = 0; i < replicas; i++) created.push(await this.createInstance(p, version, entry));
    try {
      await Promise.all(created.map((m) => this.waitReady(m)));
    } catch (err) {
      await this.retire(service, version);
      throw err;
    }
    const weight = initialWeight ?? (others.length === 0 ? 100 : 0);
    const previous = Object.fromEntries(
      Object.entries(svc.traffic?.weights ?? {}).filter(([v]) => others.includes(v)),
    );
    // No split recorded yet: the oldest running version had all the traffic.
    const current = Object.keys(previous).length || !others[0] ? previous : { [others[0]]: 100 };
    svc.traffic = { ...(svc.traffic ?? {}), weights: withVersionAt(current, version, weight) };
    await this.syncGateway(true);
    this.persist();
  }

  async retire(service: string, version: string): Promise<void> {
    this.requirePlan(service);
    const svc = this.services.get(service) as ServiceRecord;
    const victims = [...this.instances.values()].filter(
      (m) => m.rec.service === service && m.rec.version === version,
    );
    svc.versions = svc.versions.filter((v) => v !== version);
    delete svc.replicas[version];
    if (svc.traffic) {
      svc.traffic = {
        ...svc.traffic,
        weights: withoutVersion(svc.traffic.weights, version, svc.versions[0]),
      };
    }
    await this.remove(victims);
    await this.syncGateway(true);
    this.persist();
  }

  async setTraffic(service: string, traffic: TrafficSpec): Promise<void> {
    this.requirePlan(service);
    const svc = this.services.get(service) as ServiceRecord;
    for (const v of Object.keys(traffic.weights)) {
      if (!svc.versions.includes(v)) {
        throw new PlatformError('UNKNOWN_VERSION', `${service} runs no version "${v}"`, {
          hint: `running versions: ${svc.versions.join(', ')}`,
        });
      }
    }
    svc.traffic = traffic;
    await this.syncGateway(true);
    this.persist();
  }

  /** Takes instances out of the gateway first, then stops them and forgets them. */
  private async remove(victims: Managed[]): Promise<void> {
    for (const m of victims) m.stopping = true;
    await this.syncGateway();
    await Promise.all(victims.map((m) => this.stopInstance(m)));
    for (const m of victims) this.instances.delete(m.rec.id);
    this.persist();
  }

  // ---------------------------------------------------------------- stop

  private async stopInstance(m: Managed): Promise<void> {
    m.stopping = true;
    if (m.timer) clearTimeout(m.timer);
    m.timer = undefined;
    const child = m.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) {
      m.rec.state = 'stopped';
      m.rec.pid = undefined;
      return;
    }
    this.setState(m, 'stopping');
    signalGroup(child.pid, 'SIGTERM');
    const deadline = this.options.stopTimeoutMs ?? 12_000;
    if (!(await exitedWithin(m, deadline))) {
      signalGroup(child.pid, 'SIGKILL');
      await exitedWithin(m, 2000);
    }
    m.rec.state = 'stopped';
    m.rec.pid = undefined;
    this.emit({ type: 'instance.stopped', instance: m.rec.id, service: m.rec.service });
  }

  /** Stops every instance, dependents first, and writes the final state. */
  async stopAll(): Promise<void> {
    if (this.healthTimer) clearInterval(this.healthTimer);
    const levels = depthLevels([...this.plans.values()]).reverse();
    const seen = new Set<string>();
    for (const level of levels) {
      const names = new Set(level.map((p) => p.name));
      const batch = [...this.instances.values()].filter((m) => names.has(m.rec.service));
      for (const m of batch) seen.add(m.rec.id);
      await Promise.all(batch.map((m) => this.stopInstance(m)));
      this.persist();
    }
    await Promise.all(
      [...this.instances.values()].filter((m) => !seen.has(m.rec.id)).map((m) => this.stopInstance(m)),
    );
    this.persist();
  }

  /** After stopAll: no further state writes (the caller removes or rewrites the file). */
  close(): void {
    this.closed = true;
    if (this.healthTimer) clearInterval(this.healthTimer);
  }

  instance(id: string): InstanceRecord | undefined {
    return this.instances.get(id)?.rec;
  }
}

/** Groups services by dependency depth: depth 0 has no dependencies among `plans`. */
export function depthLevels(plans: ServicePlan[]): ServicePlan[][] {
  const byName = new Map(plans.map((p) => [p.name, p]));
  const depth = new Map<string, number>();
  const visit = (p: ServicePlan, stack: Set<string>): number => {
    const known = depth.get(p.name);
    if (known !== undefined) return known;
    if (stack.has(p.name)) return 0;
    stack.add(p.name);
    let d = 0;
    for (const dep of p.dependsOn) {
      const q = byName.get(dep);
      if (q) d = Math.max(d, visit(q, stack) + 1);
    }
    stack.delete(p.name);
    depth.set(p.name, d);
    return d;
  };
  const levels: ServicePlan[][] = [];
  for (const p of plans) {
    const d = visit(p, new Set());
    const level = levels[d] ?? [];
    level.push(p);
    levels[d] = level;
  }
  return levels.filter(Boolean);
}

const MAX_LOG_BYTES = 20 * 1024 * 1024;

/** Keeps one previous file (`.log.1`) when a log grows past 20 MiB; checked at each (re)start. */
function rotateLog(file: string): void {
  try {
    if (statSync(file).size > MAX_LOG_BYTES) renameSync(file, `${file}.1`);
  } catch {
    // no file yet
  }
}

/** Waits for the instance's process to exit, at most `ms` (the timer never outlives the wait). */
async function exitedWithin(m: Managed, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  try {
    return await Promise.race([(m.exited ?? Promise.resolve()).then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function idNumber(id: string): number {
  return Number(/-(\d+)$/.exec(id)?.[1] ?? 0);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export async function probe(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
