/**
 * Runs an experiment: verify the steady state, start the workload, walk the method injecting and
 * reverting faults while watching abort conditions and "during" probes, roll everything back,
 * verify the steady state again and every acknowledged write, and return a journal with a verdict.
 * It never prints: progress goes to `onEvent`, and the caller writes and renders the journal.
 */

import { sleep } from '../core/sleep.ts';
import { evaluateCondition, parseCondition } from '../delivery/conditions.ts';
import type { Provider } from '../providers/provider.ts';
import { type ActiveChaos, clearActive, writeActive } from './active-faults.ts';
import type { Action, Experiment } from './experiment.ts';
import { type ActiveFault, inject } from './faults.ts';
import { type ProbeResult, type ProbeTarget, probeToken, runProbes, serviceMetrics } from './probes.ts';
import { type DataCheck, Workload } from './workload.ts';

export type Verdict = 'passed' | 'deviated' | 'aborted' | 'not-steady' | 'interrupted' | 'error';

export interface JournalEntry {
  at: string;
  /** Milliseconds since the run started. */
  t: number;
  type: 'steady-state' | 'inject' | 'revert' | 'pause' | 'probe' | 'abort' | 'note' | 'data' | 'error';
  message: string;
  ok?: boolean;
  probes?: ProbeResult[];
}

export interface Journal {
  title: string;
  file: string;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  verdict: Verdict;
  reason: string;
  before: ProbeResult[];
  after: ProbeResult[];
  duringFailures: ProbeResult[];
  data?: DataCheck & { ledger: Workload['ledger'] };
  entries: JournalEntry[];
}

export interface RunOptions {
  provider: Provider;
  /** Lease of traffic faults (default: the experiment's limits.faultLease), renewed while the run lives. */
  leaseMs?: number;
  gatewayUrl: string;
  root: string;
  file: string;
  signal?: AbortSignal;
  random?: () => number;
  onEvent?: (entry: JournalEntry) => void;
}

class Aborted extends Error {}

export async function runExperiment(exp: Experiment, opts: RunOptions): Promise<Journal> {
  const started = Date.now();
  const entries: JournalEntry[] = [];
  const log = (type: JournalEntry['type'], message: string, extra: Partial<JournalEntry> = {}) => {
    const entry = { at: new Date().toISOString(), t: Date.now() - started, type, message, ...extra };
    entries.push(entry);
    opts.onEvent?.(entry);
  };
  const target: ProbeTarget = { provider: opts.provider, gatewayUrl: opts.gatewayUrl };
  const probes = [...exp.steadyState.probes, ...exp.during.probes];
  if (probes.some((p) => 'http' in p && p.http.auth)) target.token = await probeToken(opts.gatewayUrl);
  const active: ActiveFault[] = [];
  const duringFailures: ProbeResult[] = [];
  const abortCondition = exp.limits.abortWhen ? parseCondition(exp.limits.abortWhen) : undefined;
  let abortReason: string | undefined;
  const finish = (verdict: Verdict, reason: string, rest: Partial<Journal> = {}): Journal => ({
    title: exp.title,
    file: opts.file,
    startedAt: new Date(started).toISOString(),
    endedAt: new Date().toISOString(),
    durationMs: Date.now() - started,
    verdict,
    reason,
    before: [],
    after: [],
    duringFailures,
    entries,
    ...rest,
  });

  const before = await runProbes(exp.steadyState.probes, target);
  log('steady-state', 'before the method', { ok: before.every((p) => p.ok), probes: before });
  if (!before.every((p) => p.ok))
    return finish('not-steady', 'the steady state did not hold before any fault: fix the platform first', {
      before,
    });

  const leases = new Leases(exp, opts, log);
  const workload = new Workload(opts.gatewayUrl, exp.workload);
  try {
    await workload.start();
  } catch (err) {
    leases.close();
    throw err;
  }

  /** Waits `ms`, checking the abort condition and "during" probes, and honouring Ctrl-C. */
  const watch = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (opts.signal?.aborted) throw new Aborted('interrupted');
      if (Date.now() - started > exp.limits.maxDuration)
        throw new Aborted(`maxDuration of ${exp.limits.maxDuration}ms exceeded`);
      await sleep(Math.min(exp.during.interval, Math.max(0, until - Date.now())));
      if (abortCondition) {
        const totals = await platformMetrics(opts.provider);
        const result = evaluateCondition(
          abortCondition,
          { stable: totals, canary: totals },
          { minSampleSize: 1 },
        );
        if (result.verdict === 'pass') throw new Aborted(`abort condition met: ${result.reason}`);
      }
      if (exp.during.probes.length > 0 && active.length > 0) {
        const results = await runProbes(exp.during.probes, target);
        const failed = results.filter((p) => !p.ok);
        if (failed.length > 0) {
          duringFailures.push(...failed);
          log('probe', `during: ${failed.map((f) => `${f.name}: ${f.detail}`).join('; ')}`, {
            ok: false,
            probes: results,
          });
        } else {
          // Passing checks are evidence too: the journal shows the hypothesis held, and when.
          log('probe', `during: ${results.length} probe(s) passed`, { ok: true, probes: results });
        }
      }
    }
  };
  const revertAll = async () => {
    while (active.length > 0) {
      const fault = active.pop() as ActiveFault;
      try {
        await fault.revert();
        leases.forget(fault);
        log('revert', fault.description, { ok: true });
      } catch (err) {
        log('error', `could not revert "${fault.description}": ${(err as Error).message}`, { ok: false });
      }
    }
  };

  let interrupted = false;
  let failure: string | undefined;
  try {
    for (const action of exp.method) {
      if (action.action === 'pause') {
        log('pause', `${action.duration}ms`);
        await watch(action.duration);
        continue;
      }
      const fault = await inject(action as Exclude<Action, { action: 'pause' }>, {
        provider: opts.provider,
        root: opts.root,
        maxInstancesPct: exp.limits.maxInstancesPct,
        random: opts.random ?? Math.random,
        note: (m) => log('note', m),
        leaseMs: leases.ttlMs,
      });
      active.push(fault);
      leases.add(fault);
      log('inject', fault.description, { ok: true });
      if (action.duration !== undefined) {
        await watch(action.duration);
        active.pop();
        await fault.revert();
        leases.forget(fault);
        log('revert', fault.description, { ok: true });
      }
    }
  } catch (err) {
    if (err instanceof Aborted) {
      interrupted = err.message === 'interrupted';
      abortReason = err.message;
      log('abort', err.message, { ok: false });
    } else {
      failure = (err as Error).message;
      log('error', failure, { ok: false });
    }
  } finally {
    await revertAll();
    await workload.stop();
    leases.close();
  }

  log('note', `recovering for ${exp.recovery}ms`);
  await sleep(exp.recovery);
  const after = await runProbes(exp.steadyState.probes, target);
  log('steady-state', 'after rollback', { ok: after.every((p) => p.ok), probes: after });
  let data: Journal['data'];
  if (exp.verifyData && exp.workload.length > 0) {
    const check = await workload.verify(30_000);
    data = { ...check, ledger: workload.ledger };
    log(
      'data',
      check.ok
        ? `all acknowledged writes present (${workload.ledger.events.acked} events, ${workload.ledger.uploads.acked} uploads)`
        : `${check.lost} lost, ${check.duplicated} duplicated`,
      { ok: check.ok },
    );
  }

  const rest = { before, after, ...(data ? { data } : {}) };
  if (interrupted) return finish('interrupted', 'interrupted; every fault was rolled back', rest);
  if (failure) return finish('error', failure, rest);
  const problems = [
    ...(abortReason ? [abortReason] : []),
    ...after.filter((p) => !p.ok).map((p) => `after: ${p.name} (${p.detail})`),
    ...(duringFailures.length ? [`${duringFailures.length} probe failure(s) while faults were active`] : []),
    ...(data && !data.ok
      ? [`data: ${data.lost} acknowledged writes lost, ${data.duplicated} duplicated`]
      : []),
  ];
  if (abortReason) return finish('aborted', problems.join('; '), rest);
  return problems.length === 0
    ? finish('passed', 'the steady state held and nothing acknowledged was lost', rest)
    : finish('deviated', problems.join('; '), rest);
}

/** All services' gateway metrics added up, for the abort condition. */
async function platformMetrics(provider: Provider) {
  const status = await provider.status();
  const all = await Promise.all(
    status.services.filter((s) => s.kind !== 'gateway').map((s) => serviceMetrics(provider, s.name, 5000)),
  );
  const requests = all.reduce((n, m) => n + m.requests, 0);
  const errors = all.reduce((n, m) => n + m.errors, 0);
  return requests === 0
    ? { requests: 0, errors: 0 }
    : {
        requests,
        errors,
        errorRate: errors / requests,
        p99: Math.max(...all.map((m) => m.p99 ?? 0)),
        p95: Math.max(...all.map((m) => m.p95 ?? 0)),
        p50: Math.max(...all.map((m) => m.p50 ?? 0)),
      };
}

/**
 * Keeps the leases of the run's traffic faults alive while the run lives, and the record of its
 * active faults (`.platform/chaos/active.json`) current for `chaos stop` and `status`. A provider
 * that cannot renew (Chaos Mesh) gets a lease as long as the experiment may run.
 */
class Leases {
  readonly ttlMs: number;
  private readonly opts: RunOptions;
  private readonly record: ActiveChaos;
  private readonly keys = new Map<ActiveFault, number>();
  private readonly timer: NodeJS.Timeout;
  private next = 1;

  constructor(exp: Experiment, opts: RunOptions, log: (type: JournalEntry['type'], m: string) => void) {
    this.opts = opts;
    const renewable = typeof opts.provider.renewFault === 'function';
    this.ttlMs = renewable
      ? (opts.leaseMs ?? exp.limits.faultLease)
      : exp.limits.maxDuration + exp.recovery + 60_000;
    this.record = {
      pid: process.pid,
      experiment: opts.file,
      startedAt: new Date().toISOString(),
      faults: [],
    };
    this.timer = setInterval(
      () => {
        void this.renew().catch((err: Error) =>
          log('error', `could not renew a fault lease: ${err.message}`),
        );
      },
      Math.max(50, Math.floor(this.ttlMs / 3)),
    );
    this.timer.unref();
    this.save();
  }

  add(fault: ActiveFault): void {
    const key = this.next++;
    this.keys.set(fault, key);
    const leased = fault.undo?.kind === 'gateway-fault';
    this.record.faults.push({
      key,
      description: fault.description,
      injectedAt: new Date().toISOString(),
      ...(leased ? { expiresAt: new Date(Date.now() + this.ttlMs).toISOString() } : {}),
      ...(fault.undo ? { undo: fault.undo } : {}),
    });
    this.save();
  }

  forget(fault: ActiveFault): void {
    const key = this.keys.get(fault);
    this.keys.delete(fault);
    this.record.faults = this.record.faults.filter((f) => f.key !== key);
    this.save();
  }

  /** The run has reverted everything and stopped its load: nothing left for `chaos stop`. */
  close(): void {
    clearInterval(this.timer);
    clearActive(this.opts.root);
  }

  private async renew(): Promise<void> {
    const provider = this.opts.provider;
    if (!provider.renewFault) return;
    for (const f of this.record.faults) {
      if (f.undo?.kind !== 'gateway-fault') continue;
      await provider.renewFault(f.undo.id, this.ttlMs);
      f.expiresAt = new Date(Date.now() + this.ttlMs).toISOString();
    }
    this.save();
  }

  private save(): void {
    writeActive(this.opts.root, this.record);
  }
}
