/**
 * The local provider: the Provider interface over a local supervisor (supervisor.ts). Read-only
 * calls read `.platform/state.json` and reconcile it with the live processes; changes go through
 * the supervisor's control API; traffic statistics and faults go to the gateway's admin API.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedPlatform } from '../../core/config/load.ts';
import { PlatformError, UsageError, unknownServiceError } from '../../core/errors.ts';
import { isPortFree } from '../../core/ports.ts';
import { isAlive } from '../../core/process-alive.ts';
import { sleep, until } from '../../core/sleep.ts';
import { ensureDir, statePaths } from '../../core/state-dir.ts';
import type { VersionMetrics } from '../metrics/source.ts';
import {
  type DeployOptions,
  type DownOptions,
  type FaultHandle,
  type FaultSpec,
  type LogEntry,
  type LogQuery,
  notSupported,
  type PlatformStatus,
  type Provider,
  type ProviderEvent,
  type ReleaseRef,
  type ServiceStatus,
  type TrafficSpec,
  type UpOptions,
} from '../provider.ts';
import { adminToken } from './admin-token.ts';
import { gatewayAdminPort, gatewayAdminUrl } from './edge-defaults.ts';
import type { GatewayAdmin } from './gateway-client.ts';
import { currentState, localStatus } from './local-status.ts';
import { lastLines, logFiles, readLogs } from './logs.ts';
import { readPinned, recordRolloutEnd } from './pinned-releases.ts';
import { assertPortFree } from './port-check.ts';
import { packageRoot, requireRelease } from './releases.ts';
import type { Plan } from './service-plan.ts';
import { type LocalState, readState, reconcile, removeState } from './state.ts';

/**
 * The supervisor's control client, the gateway's admin client and the planner are imported when a
 * call needs them: with them come zod and the secrets store, and `status` of a stopped platform
 * (the everyday command) needs none of it.
 */
const gatewayClient = () => import('./gateway-client.ts');

/** `callControl` (control.ts), imported on first use. */
async function callControl(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs?: number,
): Promise<LocalState> {
  const control = await import('./control.ts');
  return control.callControl(url, token, method, path, body, timeoutMs);
}

export class LocalProvider implements Provider {
  readonly name = 'local' as const;
  readonly platform: LoadedPlatform;
  readonly paths: ReturnType<typeof statePaths>;

  constructor(platform: LoadedPlatform) {
    this.platform = platform;
    this.paths = statePaths(platform.root);
  }

  token(): string {
    return adminToken(this.paths.dir);
  }

  /** The state reconciled with reality; a dead supervisor's leftovers are written back as cleaned. */
  current(): ReturnType<typeof currentState> {
    return currentState(this.platform.root);
  }

  private running(): LocalState & { supervisor: NonNullable<LocalState['supervisor']> } {
    const { state, running } = this.current();
    if (!running || !state.supervisor) {
      throw new PlatformError('NOT_RUNNING', 'the platform is not running locally', {
        hint: 'start it with `platformctl up --detach`',
      });
    }
    return state as LocalState & { supervisor: NonNullable<LocalState['supervisor']> };
  }

  // ------------------------------------------------------------------ up / down

  /** Builds the plan for `up` (releases are built or reused here, before anything starts). */
  async plan(opts: UpOptions & { dryRun?: boolean; fromSource?: boolean } = {}): Promise<Plan> {
    const { state, running } = this.current();
    const live: Record<string, { version: string; entry: string }> = {};
    if (running) {
      for (const [name, svc] of Object.entries(state.services)) {
        const first = state.instances.find((i) => i.service === name && i.version === svc.versions[0]);
        if (first && svc.versions[0]) live[name] = { version: svc.versions[0], entry: first.entry };
      }
    }
    const { makePlan } = await import('./plan.ts');
    return makePlan(this.platform, {
      services: opts.services,
      replicas: opts.replicas,
      running: live,
      pinned: opts.fromSource ? {} : readPinned(this.platform.root),
      onEvent: opts.onEvent,
      dryRun: opts.dryRun,
    });
  }

  /**
   * Detached `up`: hands the plan to the running supervisor, or starts a supervisor daemon first,
   * then waits until every planned instance is ready (or one crash-loops).
   */
  async up(opts: UpOptions = {}): Promise<PlatformStatus> {
    const plan = await this.plan(opts);
    return this.upWithPlan(plan, opts);
  }

  async upWithPlan(plan: Plan, opts: UpOptions = {}, timeoutMs = 120_000): Promise<PlatformStatus> {
    const current = this.current();
    const token = this.token();
    await this.cleanOrphans(current.orphans);
    let controlUrl = current.running ? current.state.supervisor?.controlUrl : undefined;
    if (!controlUrl) {
      await this.checkPorts(plan, undefined);
      controlUrl = await this.startDaemon();
    } else {
      await this.checkPorts(plan, current.state);
    }
    await callControl(controlUrl, token, 'POST', '/up', plan);
    await this.waitForPlan(plan, opts.onEvent, timeoutMs);
    return this.status();
  }

  /** A port wanted by a service that is not running yet must be free; else name who holds it. */
  async checkPorts(plan: Plan, state: LocalState | undefined): Promise<void> {
    for (const p of plan.services) {
      if (!plan.run.includes(p.name)) continue;
      const live = state?.instances.some((i) => i.service === p.name && i.port === p.basePort);
      if (live) continue;
      await assertPortFree(p.basePort, `${p.name} (instance 1)`);
      // A gateway also listens on its admin port (ADMIN_PORT); a busy one would only show as a
      // gateway that never becomes ready.
      if (p.kind === 'gateway')
        await assertPortFree(gatewayAdminPort(p.basePort), `${p.name} (instance 1, admin listener)`);
    }
  }

  private async startDaemon(): Promise<string> {
    ensureDir(this.paths.logs);
    const bin = join(packageRoot(), 'bin', 'platformctl');
    const fd = openSync(join(this.paths.logs, 'supervisor.log'), 'a');
    const child = spawn(process.execPath, [bin, '__supervise', this.platform.root], {
      cwd: this.platform.root,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: process.env,
    });
    closeSync(fd);
    child.unref();
    for (let i = 0; i < 200; i++) {
      const state = readState(this.paths.state);
      if (state.supervisor && state.supervisor.pid === child.pid && isAlive(child.pid))
        return state.supervisor.controlUrl;
      if (child.exitCode !== null || !isAlive(child.pid)) break;
      await sleep(50);
    }
    throw new PlatformError('SUPERVISOR_START_FAILED', 'the local supervisor did not start', {
      hint: `see ${join(this.paths.logs, 'supervisor.log')}`,
      details: { lastLines: lastLines(join(this.paths.logs, 'supervisor.log'), 10) },
    });
  }

  /** Polls the state until the plan's instances are ready; throws on crash-loop or a failed start. */
  private async waitForPlan(
    plan: Plan,
    onEvent: ((e: ProviderEvent) => void) | undefined,
    timeoutMs: number,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const announced = new Set<string>();
    while (Date.now() < deadline) {
      const { state, running } = reconcile(readState(this.paths.state));
      if (!running) {
        throw new PlatformError(
          'SUPERVISOR_DIED',
          'the local supervisor exited while starting the platform',
          {
            hint: `see ${join(this.paths.logs, 'supervisor.log')}`,
          },
        );
      }
      const wanted = state.instances.filter((i) => plan.run.includes(i.service));
      for (const i of wanted) {
        if (i.state === 'ready' && !announced.has(i.id)) {
          announced.add(i.id);
          onEvent?.({ type: 'instance.ready', instance: i.id, service: i.service, ms: 0 });
        }
      }
      const looping = wanted.find((i) => i.state === 'crash-loop');
      if (looping) {
        throw new PlatformError(
          'CRASH_LOOP',
          `${looping.id} keeps crashing at start (${looping.restarts} restarts); it is no longer restarted`,
          {
            hint: `see its logs: platformctl logs ${looping.service} --since 5m; fix it, then run platformctl up again (or platformctl down)`,
            details: { instance: looping.id, lastLogLines: looping.lastLogLines ?? [] },
          },
        );
      }
      const complete = plan.run.every((name) => {
        const svc = state.services[name];
        if (!svc) return false;
        return svc.versions.every((v) => {
          const of = wanted.filter((i) => i.service === name && i.version === v);
          return (
            of.length >= (svc.replicas[v] ?? 0) &&
            of.every((i) => i.state === 'ready' || i.state === 'unhealthy')
          );
        });
      });
      if (complete) return;
      // apply() clears `error` before the control API answers POST /up, so any error is this run's.
      if (state.error) {
        throw new PlatformError('UP_FAILED', state.error, {
          hint: 'see `platformctl status` and `platformctl logs all --since 5m`',
        });
      }
      await sleep(100);
    }
    throw new PlatformError(
      'UP_TIMEOUT',
      `the platform was not ready within ${Math.round(timeoutMs / 1000)}s`,
      {
        hint: 'see `platformctl status` and `platformctl logs all --since 5m`',
      },
    );
  }

  /** Instances left running by a supervisor that died: stop them before anything else. */
  async cleanOrphans(orphans: { pid?: number; entry: string }[]): Promise<void> {
    const live = orphans.filter((o) => isAlive(o.pid, o.entry));
    for (const o of live) signal(o.pid as number, 'SIGTERM');
    await until(() => !live.some((o) => isAlive(o.pid, o.entry)), 100, 100);
    for (const o of live) if (isAlive(o.pid, o.entry)) signal(o.pid as number, 'SIGKILL');
  }

  async down(opts: DownOptions = {}): Promise<void> {
    const { state, running, orphans } = this.current();
    const ports = state.instances.map((i) => i.port);
    if (running && state.supervisor) {
      const pid = state.supervisor.pid;
      try {
        await callControl(state.supervisor.controlUrl, this.token(), 'POST', '/stop', {}, 5000);
      } catch {
        signal(pid, 'SIGTERM');
      }
      await until(() => !isAlive(pid), 300, 100);
      if (isAlive(pid)) signal(pid, 'SIGKILL');
    }
    // Whatever is still alive (a supervisor killed with -9 leaves its children): stop it by pid.
    await this.cleanOrphans([...orphans, ...state.instances]);
    removeState(this.paths.state);
    rmSync(this.paths.gatewayConfig, { force: true });
    if (opts.purge) {
      for (const dir of [this.paths.data, this.paths.logs, this.paths.traces])
        rmSync(dir, { recursive: true, force: true });
      opts.onEvent?.({ type: 'info', message: 'removed data, logs and traces' });
    }
    for (const port of ports) {
      await until(() => isPortFree(port), 50, 100);
    }
  }

  // ------------------------------------------------------------------ status

  status(): Promise<PlatformStatus> {
    return localStatus(this.platform);
  }

  // ------------------------------------------------------------------ logs

  logs(service: string, opts: LogQuery = {}): AsyncIterable<LogEntry> {
    const known = [
      ...new Set([
        ...Object.keys(this.platform.config.services),
        ...Object.keys(readState(this.paths.state).services),
      ]),
    ];
    if (service !== 'all' && !known.includes(service))
      throw unknownServiceError(this.platform.config.services, service);
    const files = () =>
      logFiles(this.paths.logs, service, known).filter((f) => !opts.instance || f.instance === opts.instance);
    return readLogs(files, opts);
  }

  // ------------------------------------------------------------------ changes via the supervisor

  private serviceStatus(state: LocalState, service: string): ServiceStatus {
    const rec = state.services[service];
    const instances = state.instances
      .filter((i) => i.service === service)
      .map(({ entry: _e, logFile: _l, everReady: _r, ...i }) => i);
    return {
      name: service,
      kind: rec?.kind ?? 'service',
      versions: rec?.versions ?? [],
      desiredReplicas: rec ? Object.values(rec.replicas).reduce((s, n) => s + n, 0) : 0,
      instances,
      healthy: instances.length > 0 && instances.every((i) => i.state === 'ready'),
      ...(rec?.traffic ? { traffic: rec.traffic } : {}),
    };
  }

  private requireService(service: string): void {
    if (!(service in this.platform.config.services))
      throw unknownServiceError(this.platform.config.services, service);
  }

  async scale(service: string, replicas: number, opts: { version?: string } = {}): Promise<ServiceStatus> {
    this.requireService(service);
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 32) {
      throw new UsageError(`replicas must be a whole number from 0 to 32 (got ${replicas})`);
    }
    const { supervisor } = this.running();
    const state = await callControl(supervisor.controlUrl, this.token(), 'POST', '/scale', {
      service,
      replicas,
      version: opts.version,
    });
    return this.serviceStatus(state, service);
  }

  async deploy(service: string, release: ReleaseRef, opts: DeployOptions = {}): Promise<ServiceStatus> {
    this.requireService(service);
    requireRelease(this.platform.root, service, release.version);
    const { supervisor } = this.running();
    const state = await callControl(supervisor.controlUrl, this.token(), 'POST', '/deploy', {
      service,
      version: release.version,
      replicas: opts.replicas ?? 1,
      initialWeight: opts.initialWeight,
    });
    return this.serviceStatus(state, service);
  }

  async retire(service: string, version: string): Promise<ServiceStatus> {
    this.requireService(service);
    const { supervisor } = this.running();
    const state = await callControl(supervisor.controlUrl, this.token(), 'POST', '/retire', {
      service,
      version,
    });
    const after = this.serviceStatus(state, service);
    // One version left: the rollout is over, and that is what the next `up` should start.
    const [remaining, ...others] = after.versions;
    if (remaining && others.length === 0) recordRolloutEnd(this.platform.root, service, remaining);
    return after;
  }

  async setTraffic(service: string, traffic: TrafficSpec): Promise<void> {
    this.requireService(service);
    const total = Object.values(traffic.weights).reduce((s, w) => s + w, 0);
    if (Math.abs(total - 100) > 0.001) throw new UsageError(`traffic weights must sum to 100 (got ${total})`);
    const { supervisor } = this.running();
    await callControl(supervisor.controlUrl, this.token(), 'PUT', '/traffic', { service, traffic });
  }

  // ------------------------------------------------------------------ gateway: metrics, faults

  private async gateway(): Promise<GatewayAdmin> {
    const state = this.running();
    if (!state.gatewayUrl) {
      throw new PlatformError('NO_GATEWAY', 'no gateway is running', {
        hint: 'add a service of kind gateway to platform.yaml and run `platformctl up`',
      });
    }
    const { GatewayAdmin } = await gatewayClient();
    return new GatewayAdmin(gatewayAdminUrl(state.gatewayUrl), this.token());
  }

  async metrics(service: string, version: string, windowMs: number): Promise<VersionMetrics> {
    const { versionMetricsOf } = await gatewayClient();
    return versionMetricsOf(await (await this.gateway()).stats(windowMs, service), service, version);
  }

  async kill(instanceId: string): Promise<void> {
    const state = this.running();
    const inst = state.instances.find((i) => i.id === instanceId);
    if (!inst) {
      throw new PlatformError('UNKNOWN_INSTANCE', `no instance "${instanceId}"`, {
        hint: `instances: ${state.instances.map((i) => i.id).join(', ')}`,
      });
    }
    if (!isAlive(inst.pid, inst.entry))
      throw new PlatformError('NOT_RUNNING', `${instanceId} has no live process right now (${inst.state})`, {
        hint: 'check its state with `platformctl status`; try again once it is ready',
      });
    signal(inst.pid as number, 'SIGKILL');
  }

  async injectFault(fault: FaultSpec): Promise<string> {
    this.requireService(fault.service);
    return (await this.gateway()).addFault(fault);
  }

  async clearFaults(id?: string): Promise<void> {
    return (await this.gateway()).clearFaults(id);
  }

  async renewFault(id: string, ttlMs: number): Promise<void> {
    return (await this.gateway()).renewFault(id, ttlMs);
  }

  // The chaos engine fills this seam (e.g. by pointing BUS_URL/DATABASE_URL at a blackholed path or
  // pausing the dependency's processes with SIGSTOP).
  partition(dependency: string, _opts?: { service?: string }): Promise<FaultHandle> {
    return Promise.reject(notSupported('local', `partition("${dependency}")`));
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
