/**
 * The rollout engine: a state machine that moves a release from dark to 100% (or back), explaining
 * every decision as an event, persisting its state for other terminals and obeying their commands.
 *
 *   Progressing ──steps pass──▶ (Baking) ──▶ Promoting ──▶ Promoted
 *        │  ▲  └─pause / untilPromoted──▶ Paused ──resume──┘ (promote → Promoting, abort → Aborting)
 *        │  └─ analysis out of time (inconclusiveLimit, progressDeadline), onDeadline: pause
 *        │       ──▶ Inconclusive, held: the runner ends (exit 8); `canary abort|promote` finish it
 *        └─analysis fails / early abort / out of time (onDeadline: abort) / abort / Ctrl-C
 *             ──▶ Aborting ──▶ RolledBack (exit 4; 8 when out of time; 130 when interrupted)
 *
 * Provider-agnostic: it only calls `deploy`, `scale`, `retire`, `setTraffic` and `status` of the
 * provider. Locally `setTraffic` is the gateway's admin API; on Kubernetes the same call will set
 * Gateway API HTTPRoute backendRef weights (or an Istio VirtualService's route weights) — the
 * engine does not change when that provider lands.
 */

import { ExitCode, PlatformError } from '../core/errors.ts';
import { sleep } from '../core/sleep.ts';
import type { Notifier, NotifyEventName } from '../notify/webhooks.ts';
import type { Provider } from '../providers/provider.ts';
import {
  type AnalysisOutcome,
  checkEarlyAbort,
  DEFAULT_EARLY_ABORT,
  type EarlyAbortEvidence,
  type EarlyAbortSettings,
  earlyAbortReason,
  type Measurement,
  runAnalysis,
} from './analysis.ts';
import type { Condition } from './conditions.ts';
import { formatValue } from './conditions.ts';
import type { MetricSource, VersionMetrics } from './metrics.ts';
import { writeReport } from './report.ts';
import {
  type AnalysisRecord,
  type ControlCommand,
  clearInbox,
  type Phase,
  type RolloutEvent,
  type RolloutState,
  takeCommands,
  writeState,
} from './store.ts';
import type { ResolvedStep, ResolvedStrategy } from './strategy.ts';

/** The part of a provider the engine needs. */
export type DeliveryProvider = Pick<Provider, 'status' | 'deploy' | 'retire' | 'setTraffic' | 'scale'>;

export interface RolloutOptions {
  root: string;
  service: string;
  release: string;
  /** The environment of platform.yaml (absent: the local one); recorded in the state. */
  environment?: string;
  strategy: ResolvedStrategy;
  /** Compiled conditions by source text (see strategy.compileConditions). */
  conditions: Map<string, Condition>;
  provider: DeliveryProvider;
  source: MetricSource;
  /** Instances of the new version (the service's replicas by default). */
  replicas: number;
  notifier?: Notifier;
  /** Aborted on Ctrl-C: the rollout goes back to stable and ends "interrupted". */
  signal?: AbortSignal;
  onEvent?: (e: RolloutEvent) => void;
  /** How often commands and the early-abort test are checked (default 250 ms). */
  tickMs?: number;
  /** Statistical early abort; false disables it. */
  earlyAbort?: EarlyAbortSettings | false;
  /** Header that pins preview traffic to the new version (blue/green, canaries). */
  previewHeader?: string;
}

export interface RolloutResult {
  state: RolloutState;
  events: RolloutEvent[];
  exitCode: ExitCode;
}

type InterruptKind = 'abort' | 'promote' | 'pause' | 'hold';

/** Raised inside waits when a command (or Ctrl-C) changes the course of the rollout. */
class Interrupt extends Error {
  readonly kind: InterruptKind;
  readonly full: boolean;
  readonly reason: string;
  readonly interrupted: boolean;
  readonly evidence: EarlyAbortEvidence | undefined;
  /** An analysis ran out of time (inconclusiveLimit or progressDeadline). */
  readonly deadline: boolean;

  constructor(
    kind: InterruptKind,
    reason: string,
    opts: { full?: boolean; interrupted?: boolean; evidence?: EarlyAbortEvidence; deadline?: boolean } = {},
  ) {
    super(reason);
    this.kind = kind;
    this.reason = reason;
    this.full = opts.full ?? false;
    this.interrupted = opts.interrupted ?? false;
    this.evidence = opts.evidence;
    this.deadline = opts.deadline ?? false;
  }
}

/** Provider errors that mean "the new release did not become ready" (image, crash loop, readiness). */
const RELEASE_NOT_READY = new Set([
  'ROLLOUT_TIMEOUT',
  'ROLLOUT_STALLED',
  'ROLLOUT_IMAGE_PULL',
  'ROLLOUT_CRASH_LOOP',
]);

const MAX_EARLY_ABORT_WINDOW_MS = 10 * 60_000;
const HEARTBEAT_MS = 1000;

export class Rollout {
  readonly state: RolloutState;
  private readonly opts: RolloutOptions;
  private readonly events: RolloutEvent[] = [];
  private readonly tickMs: number;
  private lastPersist = 0;
  /** Commands taken from the inbox but not yet acted on (e.g. resume arriving before pause ends). */
  private queued: ControlCommand[] = [];
  /** The new version has been started (a failed deploy leaves nothing to take traffic from). */
  private deployed = false;
  /** Set when a human promoted past an analysis or pause, for the final decision's reason. */
  private promotedBy: string | undefined;
  /** Set while the early-abort check cannot read metrics, so the warning is said once, not per tick. */
  private earlyAbortBlind = false;

  constructor(opts: RolloutOptions, stable: string) {
    this.opts = opts;
    this.tickMs = opts.tickMs ?? 250;
    const now = new Date().toISOString();
    this.state = {
      schema: 1,
      id: `${opts.service}-${now.replace(/[:.]/g, '-')}`,
      service: opts.service,
      release: opts.release,
      stable,
      strategy: opts.strategy.strategy,
      phase: 'Progressing',
      steps: opts.strategy.steps,
      stepIndex: 0,
      weight: 0,
      startedAt: now,
      updatedAt: now,
      pid: process.pid,
      ...(opts.environment ? { environment: opts.environment } : {}),
      message: 'starting',
      analyses: [],
      events: [],
    };
  }

  /** Runs the rollout to its end: promoted, rolled back, or rolled back after an interruption. */
  async run(): Promise<RolloutResult> {
    const { service, release } = this.opts;
    clearInbox(this.opts.root, service);
    this.persist(true);
    this.emit(
      'rollout.started',
      `rolling out ${service} ${release} over ${this.state.stable} (${this.state.strategy})`,
      {
        stable: this.state.stable,
        steps: this.state.steps,
      },
    );
    this.notify('rollout.started');
    try {
      await this.deployNew();
      if (this.state.strategy === 'bluegreen') await this.runBlueGreen();
      else if (this.state.strategy === 'rolling') await this.runRolling();
      else await this.runCanary();
      if (this.opts.strategy.bake > 0) await this.runBake();
      await this.promote(
        this.promotedBy ? `all steps done (${this.promotedBy} past a hold)` : 'all steps passed',
      );
    } catch (err) {
      if (!(err instanceof Interrupt)) {
        // An unexpected failure mid-rollout still ends on stable; the error is reported after.
        await this.rollback(`error: ${(err as Error).message}`, {}).catch(() => undefined);
        this.finish();
        throw err;
      }
      if (err.kind === 'promote') await this.promote(err.reason);
      else if (err.kind === 'hold') this.hold(err.reason);
      else
        await this.rollback(err.reason, {
          interrupted: err.interrupted,
          evidence: err.evidence,
          deadline: err.deadline,
        });
    }
    return this.finish();
  }

  // ── strategies ────────────────────────────────────────────────────────────────────────────────

  private async deployNew(): Promise<void> {
    const { provider, service, release, replicas } = this.opts;
    this.emit(
      'release.deploying',
      `starting ${replicas} instance${replicas > 1 ? 's' : ''} of ${release} (no traffic yet)`,
    );
    try {
      await provider.deploy(service, { service, version: release }, { replicas, initialWeight: 0 });
    } catch (err) {
      // A release that never becomes ready is a failed rollout, not a platformctl error: it is
      // rolled back (exit 4) with the provider's reason in the report.
      if (err instanceof PlatformError && RELEASE_NOT_READY.has(err.code))
        throw new Interrupt('abort', `${release} never became ready: ${err.message}`);
      throw err;
    }
    this.deployed = true;
    this.emit('release.ready', `${release} is ready`);
  }

  private async runCanary(): Promise<void> {
    const steps = this.state.steps;
    for (let i = this.state.stepIndex; i < steps.length; i++) {
      this.state.stepIndex = i;
      const step = steps[i] as ResolvedStep;
      try {
        await this.runStep(i, step);
      } catch (err) {
        if (!(err instanceof Interrupt)) throw err;
        if (err.kind === 'abort' || err.kind === 'hold' || (err.kind === 'promote' && err.full)) throw err;
        if (err.kind === 'promote') {
          this.promotedBy = err.reason;
          this.emit('step.skipped', `step ${i + 1} skipped: ${err.reason}`);
          this.state.phase = 'Progressing';
          continue;
        }
        const next = await this.holdForHuman('Paused', err.reason);
        if (next === 'skip') continue;
        i--; // resume: run the interrupted step again
      }
    }
    this.state.stepIndex = steps.length;
  }

  private async runStep(i: number, step: ResolvedStep): Promise<void> {
    const n = `step ${i + 1}/${this.state.steps.length}`;
    this.state.phase = 'Progressing';
    if (step.kind === 'setWeight') {
      await this.setWeight(step.weight, `${n}: canary weight ${step.weight}%`);
      return;
    }
    if (step.kind === 'pause') {
      this.emit('step.pause', `${n}: pausing ${Math.round(step.durationMs / 100) / 10}s`);
      await this.wait(step.durationMs);
      return;
    }
    if (step.kind === 'pauseUntilPromoted') {
      const next = await this.holdForHuman('Paused', `${n}: paused until promoted`);
      if (next === 'resume') return;
      return;
    }
    for (;;) {
      const outcome = await this.analyse(i, step.analysis, n);
      if (outcome.verdict === 'pass') return;
      if (outcome.verdict === 'fail') {
        throw new Interrupt(
          'abort',
          outcome.reason,
          outcome.earlyAbort ? { evidence: outcome.earlyAbort } : {},
        );
      }
      throw this.outOfTime(step.analysis, `${n}: ${outcome.reason}`);
    }
  }

  /**
   * An analysis that ran out of time without a verdict (inconclusiveLimit, progressDeadline) ends
   * the rollout: too little evidence never passes, and waiting for it forever hangs CI.
   */
  private outOfTime(spec: ResolvedStrategy['analysis'], reason: string): Interrupt {
    return spec.onDeadline === 'pause'
      ? new Interrupt('hold', reason, { deadline: true })
      : new Interrupt('abort', `${reason}; rolling back (onDeadline: abort)`, { deadline: true });
  }

  private async runBlueGreen(): Promise<void> {
    const { service, release, strategy, provider } = this.opts;
    const blue = this.state.stable;
    const header = this.opts.previewHeader ?? 'x-canary: always';
    await this.guard(() => provider.setTraffic(service, { weights: { [blue]: 100, [release]: 0 }, header }));
    this.emit(
      'bluegreen.preview',
      `green ${release} is in preview: only requests with "${header}" reach it`,
      {
        header,
      },
    );
    this.state.steps = [];
    for (;;) {
      try {
        const outcome = await this.analyse(0, strategy.analysis, 'preview', { exposure: false });
        if (outcome.verdict === 'fail') {
          throw new Interrupt(
            'abort',
            outcome.reason,
            outcome.earlyAbort ? { evidence: outcome.earlyAbort } : {},
          );
        }
        if (outcome.verdict === 'inconclusive') {
          throw this.outOfTime(strategy.analysis, `preview: ${outcome.reason}`);
        }
        if (!strategy.blueGreen.autoPromote) {
          if (
            (await this.holdForHuman('Paused', 'preview passed; autoPromote is off: waiting for promote')) ===
            'resume'
          ) {
            continue;
          }
        }
        break;
      } catch (err) {
        if (err instanceof Interrupt && err.kind === 'pause') {
          if ((await this.holdForHuman('Paused', err.reason)) === 'skip') break;
          continue;
        }
        if (err instanceof Interrupt && err.kind === 'promote') {
          this.promotedBy = err.reason;
          break;
        }
        throw err;
      }
    }
    // One call moves all traffic: the switch is atomic at the gateway (or the mesh).
    await this.setWeight(100, `switching all traffic from blue ${blue} to green ${release}`, { [blue]: 0 });
    this.emit(
      'bluegreen.switched',
      `green ${release} serves 100%; blue ${blue} stays up for ${strategy.blueGreen.scaleDownDelay / 1000}s for an instant rollback`,
    );
    this.state.phase = 'Promoting';
    try {
      await this.wait(strategy.blueGreen.scaleDownDelay, { earlyAbort: false });
    } catch (err) {
      if (!(err instanceof Interrupt) || err.kind === 'abort') throw err;
      // pause keeps blue running (abort still switches back) until resume or promote
      if (err.kind === 'pause') await this.holdForHuman('Paused', `${err.reason}: blue ${blue} kept running`);
    }
  }

  private async runRolling(): Promise<void> {
    const { service, release, provider, replicas, strategy } = this.opts;
    const stable = this.state.stable;
    this.state.steps = [];
    for (let i = 1; i <= replicas; i++) {
      if (i > 1) {
        await provider.scale(service, i, { version: release });
        this.emit('rolling.ready', `${release}: ${i}/${replicas} instances ready`);
      }
      const weight = Math.round((100 * i) / replicas);
      await this.setWeight(weight, `${i}/${replicas} instances replaced: ${weight}% on ${release}`);
      if (replicas - i > 0) await provider.scale(service, replicas - i, { version: stable });
      // Between batches the analysis runs as a canary step does: the old instances still serve
      // the rest, so the new ones are compared with them before more are replaced.
      while (i < replicas) {
        try {
          const label = `batch ${i}/${replicas}`;
          const outcome = await this.analyse(i - 1, strategy.analysis, label);
          if (outcome.verdict === 'fail') {
            throw new Interrupt(
              'abort',
              `${label}: ${outcome.reason}`,
              outcome.earlyAbort ? { evidence: outcome.earlyAbort } : {},
            );
          }
          if (outcome.verdict === 'inconclusive')
            throw this.outOfTime(strategy.analysis, `${label}: ${outcome.reason}`);
          break;
        } catch (err) {
          if (err instanceof Interrupt && err.kind === 'promote') {
            if (err.full) throw err;
            this.promotedBy = err.reason;
            break;
          }
          if (err instanceof Interrupt && err.kind === 'pause') {
            if ((await this.holdForHuman('Paused', err.reason)) === 'skip') break;
            continue;
          }
          throw err;
        }
      }
    }
  }

  /**
   * The bake: all traffic on the new version while the old one still runs (for an instant
   * rollback), the analysis keeps measuring for `bake` and a failure rolls back. There is no
   * stable traffic left to compare with, so relative conditions use stable's last measurement.
   */
  private async runBake(): Promise<void> {
    const { strategy } = this.opts;
    if (this.state.weight < 100)
      await this.setWeight(100, `100% of traffic on ${this.opts.release} for the bake`);
    this.state.phase = 'Baking';
    const baseline = await this.stableBaseline(strategy.analysis.interval);
    const until = Date.now() + strategy.bake;
    this.emit(
      'bake.started',
      `bake: ${strategy.bake / 1000}s at 100% with ${this.state.stable} kept for rollback`,
    );
    this.persist(true);
    for (;;) {
      try {
        const outcome = await this.analyse(this.state.steps.length, strategy.analysis, 'bake', {
          bake: { until: Math.max(until, Date.now() + strategy.analysis.interval), baseline },
        });
        if (outcome.verdict === 'fail') throw new Interrupt('abort', `bake: ${outcome.reason}`);
        if (outcome.verdict === 'inconclusive') {
          throw this.outOfTime(strategy.analysis, `bake: ${outcome.reason}`);
        }
        return;
      } catch (err) {
        if (!(err instanceof Interrupt)) throw err;
        if (err.kind === 'promote') {
          this.promotedBy = err.reason;
          return;
        }
        if (err.kind !== 'pause') throw err;
        if ((await this.holdForHuman('Paused', `${err.reason} during the bake`)) === 'skip') return;
        this.state.phase = 'Baking';
      }
    }
  }

  /** Stable's figures from the last measurement that had them, else from the last interval. */
  private async stableBaseline(windowMs: number): Promise<VersionMetrics | undefined> {
    for (const record of [...this.state.analyses].reverse()) {
      const m = [...record.measurements].reverse().find((x) => x.stable.requests > 0);
      if (m) return m.stable;
    }
    try {
      const live = await this.opts.source.query(this.opts.service, this.state.stable, windowMs);
      return live.requests > 0 ? live : undefined;
    } catch {
      return undefined;
    }
  }

  // ── analysis, waiting and commands ─────────────────────────────────────────────────────────

  private async analyse(
    step: number,
    spec: ResolvedStrategy['analysis'],
    label: string,
    opts: { exposure?: boolean; bake?: { until: number; baseline: VersionMetrics | undefined } } = {},
  ): Promise<AnalysisOutcome> {
    const record: AnalysisRecord = {
      step,
      startedAt: new Date().toISOString(),
      weight: this.state.weight,
      measurements: [],
    };
    this.state.analyses.push(record);
    const conditions = spec.conditions.map((c) => {
      const compiled = this.opts.conditions.get(c);
      if (!compiled) throw new Error(`condition "${c}" was not compiled`);
      return compiled;
    });
    this.emit(
      'analysis.started',
      `${label}: analysis, ${spec.count} × ${spec.interval / 1000}s (min ${spec.minSampleSize} requests): ${spec.conditions.join(', ')}`,
    );
    const analysisStart = Date.now();
    const outcome = await runAnalysis({
      service: this.opts.service,
      stable: this.state.stable,
      canary: this.opts.release,
      spec,
      conditions,
      source: this.opts.source,
      wait: (ms, onTick) => this.wait(ms, { onTick }),
      // At 100% stable has no traffic to compare error ratios with: the bake relies on conditions.
      earlyAbort: async () =>
        opts.bake
          ? undefined
          : this.earlyAbortCheck(opts.exposure === false ? Date.now() - analysisStart : undefined),
      ...(opts.bake
        ? { until: opts.bake.until, ...(opts.bake.baseline ? { baseline: opts.bake.baseline } : {}) }
        : {}),
      onMeasurement: (m) => {
        record.measurements.push(m);
        this.emit(
          'analysis.measurement',
          `${label}: measurement ${m.index} ${m.verdict}: ${describeMeasurement(m)}`,
          {
            measurement: m,
          },
        );
      },
    });
    const { measurements: _m, ...summary } = outcome;
    record.outcome = summary;
    this.emit(
      `analysis.${outcome.verdict}`,
      `${label}: analysis ${verdictWord(outcome.verdict)}: ${outcome.reason}`,
      {
        verdict: outcome.verdict,
        ...(outcome.earlyAbort ? { earlyAbort: outcome.earlyAbort } : {}),
      },
    );
    return outcome;
  }

  private async earlyAbortCheck(windowOverrideMs?: number): Promise<EarlyAbortEvidence | undefined> {
    const settings = this.opts.earlyAbort === undefined ? DEFAULT_EARLY_ABORT : this.opts.earlyAbort;
    if (settings === false) return undefined;
    const exposedSince = this.state.exposedAt ? Date.parse(this.state.exposedAt) : undefined;
    const windowMs =
      windowOverrideMs ?? (exposedSince === undefined ? undefined : Date.now() - exposedSince + this.tickMs);
    if (windowMs === undefined || windowMs <= 0) return undefined;
    try {
      const evidence = await checkEarlyAbort(
        this.opts.source,
        this.opts.service,
        this.state.stable,
        this.opts.release,
        Math.min(Math.ceil(windowMs), MAX_EARLY_ABORT_WINDOW_MS),
        settings,
      );
      if (this.earlyAbortBlind) {
        this.earlyAbortBlind = false;
        this.emit(
          'early-abort.metrics-restored',
          `early-abort check reads metrics from ${this.opts.source.name} again`,
        );
      }
      return evidence;
    } catch (err) {
      // A metrics hiccup must not stop the rollout (the interval analysis counts it as
      // inconclusive), but nobody may believe the early-abort check is guarding the canary meanwhile.
      if (!this.earlyAbortBlind) {
        this.earlyAbortBlind = true;
        this.emit(
          'early-abort.metrics-unavailable',
          `early-abort check cannot read metrics from ${this.opts.source.name}: ${(err as Error).message}; only the interval analysis judges ${this.opts.release} until they are back`,
          { source: this.opts.source.name, error: (err as Error).message },
        );
      }
      return undefined;
    }
  }

  /**
   * Waits `ms`, ticking every `tickMs`: applies commands, watches Ctrl-C and, while the new version
   * has traffic, runs the early-abort test. `onTick` (the analysis' own check) can end it early.
   */
  private async wait(
    ms: number,
    opts: { onTick?: (() => Promise<boolean>) | undefined; earlyAbort?: boolean } = {},
  ): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (;;) {
      this.checkCommands();
      if (opts.onTick) {
        if (await opts.onTick()) return true;
      } else if (opts.earlyAbort !== false && this.state.weight > 0 && this.state.weight < 100) {
        const evidence = await this.earlyAbortCheck();
        if (evidence) throw new Interrupt('abort', earlyAbortReason(evidence), { evidence });
      }
      this.persist();
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      await this.sleep(Math.min(this.tickMs, remaining));
    }
  }

  private sleep(ms: number): Promise<void> {
    const signal = this.opts.signal;
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Applies queued commands; throws an Interrupt when one changes the course. */
  private checkCommands(allowResume = false): 'resume' | undefined {
    if (this.opts.signal?.aborted) {
      throw new Interrupt('abort', 'interrupted (Ctrl-C or SIGTERM): going back to stable', {
        interrupted: true,
      });
    }
    this.queued.push(...takeCommands(this.opts.root, this.opts.service));
    while (this.queued.length) {
      const cmd = this.queued.shift() as ControlCommand;
      this.emit('control.received', `command "${cmd.type}${cmd.full ? ' --full' : ''}" from ${cmd.from}`, {
        command: cmd,
      });
      if (cmd.type === 'abort') throw new Interrupt('abort', `aborted by a user (${cmd.from})`);
      if (cmd.type === 'promote') {
        throw new Interrupt('promote', `promoted by a user${cmd.full ? ' (--full)' : ''}`, {
          full: cmd.full ?? false,
        });
      }
      if (cmd.type === 'pause') {
        if (allowResume) continue;
        throw new Interrupt('pause', `paused by a user (${cmd.from})`);
      }
      if (cmd.type === 'resume') {
        if (allowResume) return 'resume';
        this.emit('control.ignored', 'resume ignored: the rollout is not paused');
      }
    }
    return undefined;
  }

  /**
   * Holds in Paused or Inconclusive until a human decides. Resolves 'resume' (retry the step) or
   * 'skip' (promote: go on with the next step); abort and promote --full throw.
   */
  private async holdForHuman(phase: Phase, reason: string): Promise<'resume' | 'skip'> {
    this.state.phase = phase;
    this.state.message = reason;
    this.emit(
      phase === 'Inconclusive' ? 'rollout.inconclusive' : 'rollout.paused',
      `${reason} — waiting: canary resume|promote|abort ${this.opts.service}`,
    );
    this.persist(true);
    for (;;) {
      try {
        if (this.checkCommands(true) === 'resume') {
          this.state.phase = 'Progressing';
          this.emit('rollout.resumed', 'resumed');
          return 'resume';
        }
      } catch (err) {
        if (err instanceof Interrupt && err.kind === 'promote' && !err.full) {
          this.promotedBy = err.reason;
          this.state.phase = 'Progressing';
          this.emit('rollout.resumed', `resumed: ${err.reason}`);
          return 'skip';
        }
        throw err;
      }
      if (this.state.weight > 0 && this.state.weight < 100) {
        const evidence = await this.earlyAbortCheck();
        if (evidence) throw new Interrupt('abort', earlyAbortReason(evidence), { evidence });
      }
      this.persist();
      await this.sleep(this.tickMs);
    }
  }

  // ── traffic, promotion and rollback ────────────────────────────────────────────────────────────

  private async setWeight(
    weight: number,
    message: string,
    extra: Record<string, number> = {},
  ): Promise<void> {
    const { service, release, provider } = this.opts;
    const weights: Record<string, number> =
      weight >= 100 ? { [release]: 100, ...extra } : { [this.state.stable]: 100 - weight, [release]: weight };
    await this.guard(() => provider.setTraffic(service, { weights }));
    this.state.weight = weight;
    if (weight > 0 && !this.state.exposedAt) this.state.exposedAt = new Date().toISOString();
    this.emit('traffic.set', message, { weights });
    this.persist(true);
  }

  private async promote(reason: string): Promise<void> {
    const { service, release, provider } = this.opts;
    this.state.phase = 'Promoting';
    this.emit('rollout.promoting', `promoting ${release}: ${reason}`);
    if (this.state.weight < 100) await this.setWeight(100, `100% of traffic on ${release}`);
    this.emit('release.retiring', `draining and stopping ${this.state.stable}`);
    await provider.retire(service, this.state.stable);
    this.state.phase = 'Promoted';
    this.state.outcome = { result: 'promoted', reason };
    this.state.message = `${release} serves 100%; ${this.state.stable} stopped`;
    this.emit('rollout.promoted', this.state.message);
  }

  private async rollback(
    reason: string,
    opts: { interrupted?: boolean; evidence?: EarlyAbortEvidence | undefined; deadline?: boolean },
  ): Promise<void> {
    const { service, release, provider } = this.opts;
    this.state.phase = 'Aborting';
    this.emit(
      'rollout.aborting',
      `rolling back ${release}: ${reason}`,
      opts.evidence ? { evidence: opts.evidence } : {},
    );
    this.persist(true);
    // Traffic first (one call, instant), then the slower drain and stop of the new version.
    const weights = this.deployed ? { [this.state.stable]: 100, [release]: 0 } : { [this.state.stable]: 100 };
    await this.guard(() => provider.setTraffic(service, { weights }));
    if (this.state.strategy === 'rolling') {
      await provider
        .scale(service, this.opts.replicas, { version: this.state.stable })
        .catch(() => undefined);
    }
    this.state.weight = 0;
    this.emit('traffic.set', `100% of traffic back on ${this.state.stable}`, { weights });
    this.persist(true);
    if (this.deployed) {
      try {
        await provider.retire(service, release);
        this.emit('release.retired', `${release} drained and stopped`);
      } catch (err) {
        this.emit('release.retire-failed', `could not stop ${release}: ${(err as Error).message}`);
      }
    }
    this.state.phase = 'RolledBack';
    this.state.outcome = {
      result: 'rolledBack',
      reason,
      ...(opts.interrupted ? { interrupted: true } : {}),
      ...(opts.deadline ? { deadlineExceeded: true } : {}),
    };
    this.state.message = `rolled back: ${reason}`;
    this.emit('rollout.rolledBack', `${this.state.stable} serves 100%; ${release} rolled back: ${reason}`);
  }

  /**
   * onDeadline: pause. The traffic stays where it is and this runner ends (exit 8), so a CI job
   * waiting on it finishes; the rollout is left held for `canary abort|promote`, which act on the
   * provider directly once the runner is gone.
   */
  private hold(reason: string): void {
    this.state.phase = 'Inconclusive';
    this.state.held = { at: new Date().toISOString(), reason };
    this.emit(
      'rollout.held',
      `${reason}; holding ${this.state.weight}% on ${this.opts.release} (onDeadline: pause) — finish it: canary promote|abort ${this.opts.service}`,
    );
  }

  /** Retries a traffic change a few times: it is the one call a rollback must not lose. */
  private async guard(fn: () => Promise<void>): Promise<void> {
    let last: unknown;
    for (let attempt = 0; attempt < 4; attempt++) {
      try {
        return await fn();
      } catch (err) {
        last = err;
        await sleep(100 * 2 ** attempt);
      }
    }
    throw last;
  }

  private finish(): RolloutResult {
    this.state.finishedAt = new Date().toISOString();
    const report = writeReport(this.opts.root, this.state, this.events);
    this.state.report = report;
    this.persist(true);
    const outcome = this.state.outcome;
    if (outcome) {
      this.notify(
        outcome.result === 'promoted' ? 'rollout.promoted' : 'rollout.rolledBack',
        outcome.reason,
        report.json,
      );
    }
    const exitCode =
      outcome?.result === 'promoted'
        ? ExitCode.ok
        : outcome?.interrupted
          ? ExitCode.interrupted
          : !outcome || outcome.deadlineExceeded
            ? ExitCode.deadlineExceeded
            : ExitCode.rolledBack;
    return { state: this.state, events: this.events, exitCode };
  }

  // ── events and persistence ────────────────────────────────────────────────────────────────────

  private emit(type: string, message: string, data?: Record<string, unknown>): void {
    const event: RolloutEvent = {
      at: new Date().toISOString(),
      type,
      service: this.opts.service,
      message,
      ...(data ? { data } : {}),
    };
    this.events.push(event);
    this.state.events = [...this.state.events.slice(-49), event];
    this.state.message = message;
    this.opts.onEvent?.(event);
  }

  private persist(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPersist < HEARTBEAT_MS) return;
    this.lastPersist = now;
    this.state.updatedAt = new Date(now).toISOString();
    writeState(this.opts.root, this.state);
  }

  private notify(event: NotifyEventName, reason?: string, report?: string): void {
    this.opts.notifier?.notify({
      event,
      service: this.opts.service,
      release: this.opts.release,
      stable: this.state.stable,
      strategy: this.state.strategy,
      at: new Date().toISOString(),
      ...(reason ? { reason } : {}),
      ...(report ? { report } : {}),
      ...(event === 'rollout.rolledBack' ? { evidence: this.state.analyses } : {}),
    });
  }
}

function verdictWord(v: string): string {
  return v === 'pass' ? 'passed' : v === 'fail' ? 'failed' : 'inconclusive';
}

/** `canary 212 req, 0.5% errors, p99 130ms | stable …` */
export function describeMeasurement(m: Measurement): string {
  const side = (name: string, v: Measurement['canary']) =>
    `${name} ${v.requests} req, ${v.errorRate === undefined ? '–' : formatValue(v.errorRate, 'ratio')} errors, p99 ${v.p99 === undefined ? '–' : formatValue(v.p99, 'duration')}`;
  // Conditions that fail for the same reason (e.g. too few requests) are listed once.
  const byReason = new Map<string, string[]>();
  for (const r of m.results.filter((x) => x.verdict !== 'pass')) {
    const why = r.verdict === 'fail' ? `${r.condition}: ${r.reason}` : r.reason;
    byReason.set(why, [...(byReason.get(why) ?? []), r.condition]);
  }
  const failed = [...byReason.keys()];
  return `${side('canary', m.canary)} | ${side('stable', m.stable)}${failed.length ? ` — ${failed.join('; ')}` : ''}`;
}

/**
 * Starts a rollout: finds the stable version, asks the pre-rollout gate, then runs the engine.
 * The service must be running (its current version is the stable one and the rollback target).
 */
export async function startRollout(opts: RolloutOptions): Promise<RolloutResult> {
  const status = await opts.provider.status();
  const svc = status.services.find((s) => s.name === opts.service);
  const stable = svc?.versions.find((v) => v !== opts.release) ?? svc?.versions[0];
  if (!svc || !stable) {
    throw new PlatformError(
      'NOT_RUNNING',
      `${opts.service} is not running, so there is nothing to roll out over`,
      {
        hint: 'start the platform first: platformctl up',
      },
    );
  }
  if (stable === opts.release || (svc.versions.length === 1 && svc.versions[0] === opts.release)) {
    throw new PlatformError('ALREADY_RUNNING', `${opts.service} already runs ${opts.release}`, {
      hint: 'pass another --release, or check `platformctl canary status`',
    });
  }
  if (opts.notifier) {
    const gate = await opts.notifier.gate({
      service: opts.service,
      release: opts.release,
      stable,
      strategy: opts.strategy.strategy,
      at: new Date().toISOString(),
    });
    if (!gate.allowed) {
      const refusal = gate.results.find((r) => !r.ok);
      throw new PlatformError(
        'ROLLOUT_BLOCKED',
        `the pre-rollout gate "${refusal?.hook}" refused ${opts.service} ${opts.release} (${refusal?.error ?? 'refused'})`,
        { hint: 'fix what the gate reports, or remove rollout.gate from that webhook in platform.yaml' },
      );
    }
  }
  return new Rollout(opts, stable).run();
}
