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
 * - The only instance of a service that can have one (runtime kit services say so) gets a
 *   standby 2 s after it is ready: a process loaded with the same entry and environment, waiting
 *   to be started (standby.ts, standbys.ts). A restart starts the standby instead of a new
 *   process; a new standby follows 2 s after the restarted instance is ready.
 * - The gateway is configured by a GATEWAY_CONFIG file written before it starts and kept current;
 *   every change of routable instances or traffic is also pushed live through its admin API. A
 *   restarted instance keeps its port, so the gateway needs no change to reach it again.
 * - Stop: SIGTERM to the process group, a deadline, then SIGKILL; dependents stop first.
 *
 * This class holds the decisions (what runs, restarts, scale, deploy, retire, traffic); the
 * concerns beside it have their own modules: instance-process.ts (spawn, signals, logs),
 * readiness.ts (probe, waiting for ready), instance-env.ts (the runtime contract's environment),
 * gateway-sync.ts (routing file and admin API pushes), service-plan.ts and topology.ts (the plan
 * and start order), port-check.ts (ports).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { withoutVersion, withVersionAt } from '../../../runtime/contract/traffic-weights.ts';
import { PlatformError } from '../../core/errors.ts';
import { isPortFree } from '../../core/ports.ts';
import { sleep } from '../../core/sleep.ts';
import { ensureDir, statePaths } from '../../core/state-dir.ts';
import type { InstanceState, ProviderEvent, TrafficSpec } from '../provider.ts';
import { GatewaySync } from './gateway-sync.ts';
import { instanceEnv } from './instance-env.ts';
import {
  exitedWithin,
  idNumber,
  type Managed,
  onNotifications,
  signalGroup,
  startProcess,
} from './instance-process.ts';
import { lastLines } from './logs.ts';
import { extraInstanceBase, nextPort, portInUseError } from './port-check.ts';
import { probe, waitReady } from './readiness.ts';
import { type RestartPolicyOptions, RestartTracker } from './restart-policy.ts';
import type { Plan, ServicePlan } from './service-plan.ts';
import type { Standby } from './standby.ts';
import { standbySettingsFromEnv } from './standby-settings.ts';
import { emptySlot, Standbys } from './standbys.ts';
import {
  type InstanceRecord,
  type LocalState,
  type ServiceRecord,
  type SupervisorRecord,
  writeState,
} from './state.ts';
import { depthLevels } from './topology.ts';

export interface SupervisorOptions {
  root: string;
  token: string;
  detached: boolean;
  policy?: Partial<RestartPolicyOptions>;
  /** Grace period after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
  /**
   * Keep a standby (standbys.ts) beside the only instance of each service that can have one;
   * default: on, unless PLATFORMCTL_STANDBY=off (a loaded Node process per service is memory a
   * small machine may want back). See standby-settings.ts.
   */
  standby?: boolean;
  /** How long an instance is ready before its standby starts loading; default from the env. */
  standbyDelayMs?: number;
  onEvent?: (e: ProviderEvent) => void;
}

export class Supervisor {
  readonly root: string;
  readonly paths: ReturnType<typeof statePaths>;
  private readonly options: SupervisorOptions;
  private readonly instances = new Map<string, Managed>();
  private readonly services = new Map<string, ServiceRecord>();
  private plans = new Map<string, ServicePlan>();
  private order: string[] = [];
  private readonly gateway: GatewaySync;
  private readonly standbys: Standbys;
  private healthTimer: NodeJS.Timeout | undefined;
  private record: SupervisorRecord | undefined;
  private error: string | undefined;
  private closed = false;

  constructor(options: SupervisorOptions) {
    this.options = options;
    this.root = options.root;
    this.paths = statePaths(options.root);
    const fromEnv = standbySettingsFromEnv();
    this.standbys = new Standbys(
      {
        root: this.root,
        instances: () => this.instances.values(),
        envOf: (m) => this.envOf(m),
        closed: () => this.closed,
        emit: (e) => this.emit(e),
        persist: () => this.persist(),
      },
      {
        enabled: options.standby ?? fromEnv.enabled,
        delayMs: options.standbyDelayMs ?? fromEnv.delayMs,
      },
    );
    this.gateway = new GatewaySync(this.paths.gatewayConfig, options.token, {
      plans: () => this.order.map((n) => this.plans.get(n)).filter((p): p is ServicePlan => p !== undefined),
      instances: () => this.instances.values(),
      service: (name) => this.services.get(name),
      closed: () => this.closed,
    });
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
    // Another service may have changed every instance's environment (its <SERVICE>_URL).
    this.standbys.reconcile();
    this.persist();
  }

  private async ensureService(p: ServicePlan): Promise<void> {
    let svc = this.services.get(p.name);
    if (!svc) {
      svc = { kind: p.kind, replicas: { [p.version]: p.replicas }, versions: [p.version] };
      this.services.set(p.name, svc);
    }
    if (p.kind === 'gateway') this.gateway.write();
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
      standby: emptySlot(),
    };
    this.instances.set(id, m);
    this.spawn(m);
    return m;
  }

  /** The instance's environment as it would start now (runtime contract, instance-env.ts). */
  private envOf(m: Managed): Record<string, string> {
    return instanceEnv(m.rec, m.spec, {
      paths: this.paths,
      token: this.options.token,
      plans: this.plans.values(),
      gatewayConfig: this.gateway.configPath,
    });
  }

  /** Starts a process for `m`: its standby when it has one that fits, else a new one. */
  private spawn(m: Managed): void {
    if (this.closed) return;
    ensureDir(join(this.paths.data, m.rec.service));
    ensureDir(this.paths.bus);
    const env = this.envOf(m);
    const standby = this.standbys.take(m, env);
    const child = standby?.child ?? startProcess(m.rec.entry, this.root, env, m.rec.logFile);
    m.child = child;
    // A new run: what the last one said about standbys no longer holds (a standby is one, though).
    m.standby.capable = standby !== undefined;
    m.standby.unconfirmed = standby !== undefined;
    m.standby.broken = false;
    if (m.spec.kind === 'gateway') this.gateway.forget(m.rec.id);
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
      ...(standby ? { fromStandby: true } : {}),
    });
    this.persist();
    this.watchReady(m, child, standby);
  }

  /**
   * Learns when `child` is ready: from its own `READY=1` (runtime kit services, see
   * instance-process.ts onNotifications), else by polling its readiness URL — fast at first, since
   * restart-to-serving time is what users (and bench:recovery) feel. A child that said
   * `STATUS=starting` is polled only once a second, as a safety net: the 5 ms polls cost CPU that
   * the starting service (and on a restart the gateway and its clients) compete for.
   */
  private watchReady(m: Managed, child: ChildProcess, standby: Standby | undefined): void {
    // A standby said STATUS=standby: it speaks the protocol.
    const run = { notifies: standby !== undefined };
    const handlers = {
      starting: () => {
        run.notifies = true;
        if (m.child === child) m.standby.unconfirmed = false;
      },
      standbyCapable: () => {
        if (m.child === child) m.standby.capable = true;
      },
      ready: () => this.markReady(m, child),
    };
    if (standby) standby.start(handlers);
    else onNotifications(child, handlers);
    void this.pollReady(m, child, run);
  }

  private async pollReady(m: Managed, child: ChildProcess, run: { notifies: boolean }): Promise<void> {
    const url = `${m.rec.url}${m.spec.readiness}`;
    for (let i = 0; ; i++) {
      if (m.child !== child || child.exitCode !== null || child.signalCode !== null || m.stopping) return;
      if (m.readyThisRun) return;
      if (await probe(url)) {
        this.markReady(m, child);
        return;
      }
      // At 20 ms a restart waited 10 ms on average past the service's readiness; a refused connect
      // every 5 ms for the first 2 s costs little next to the starting service.
      await sleep(run.notifies ? 1000 : i < 400 ? 5 : 200);
    }
  }

  /** `child` of `m` is ready (once per run; a late probe or notification after that is ignored). */
  private markReady(m: Managed, child: ChildProcess): void {
    if (m.child !== child || m.stopping || m.readyThisRun) return;
    m.readyThisRun = true;
    m.rec.everReady = true;
    this.setState(m, 'ready');
    this.emit({
      type: 'instance.ready',
      instance: m.rec.id,
      service: m.rec.service,
      ms: Date.now() - m.spawnedAt,
    });
    void this.syncGateway();
    this.standbys.reconcile();
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
    if (m.standby.unconfirmed) {
      // A standby that died before it started (with the instance it replaced, or before reading
      // START): the instance's crash is counted already; start it afresh.
      this.spawn(m);
      return;
    }
    const now = Date.now();
    const decision = m.tracker.onCrash(now, now - m.spawnedAt, m.readyThisRun);
    if (decision.action === 'crash-loop') {
      void this.standbys.discard(m);
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
    return waitReady(m);
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
    this.standbys.reconcile();
  }

  // ---------------------------------------------------------------- gateway

  /** Writes the gateway config and pushes changed routes, instance lists and weights to live gateways. */
  syncGateway(force = false): Promise<void> {
    return this.gateway.sync(force);
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
    this.standbys.reconcile();
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
    this.standbys.reconcile();
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
    this.standbys.reconcile();
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
    await this.standbys.discard(m);
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
