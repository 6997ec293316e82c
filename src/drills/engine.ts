/**
 * Drill lifecycle: start (inject the hidden fault, page), ack / note / hint (timeline), resolve
 * (only when the scenario's probes pass: then revert what is left, time, score, measure impact
 * and write the postmortem), abort (revert, no score) and history. Every step is a separate CLI
 * process, so each reads and writes the drill state on disk. Nothing here prints.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ProbeResult } from '../chaos/probes.ts';
import { runProbes } from '../chaos/probes.ts';
import type { WebhookSpec } from '../core/config/schema.ts';
import { PlatformError } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';
import { type DeliveryResult, Notifier } from '../notify/webhooks.ts';
import { packageRoot } from '../providers/local/releases.ts';
import type { Provider } from '../providers/provider.ts';
import { injectDrillFault, revertDrillUndo } from './faults.ts';
import { diffCounters, type Impact, snapshotCounters } from './impact.ts';
import { writePostmortem } from './postmortem.ts';
import { findScenario, loadScenario, type Scenario, scenarioFiles, seededRandom } from './scenario.ts';
import { drillTimes, median, scoreDrill } from './scoring.ts';
import {
  addEntry,
  clearActive,
  type DrillRecord,
  type DrillState,
  readActive,
  readHistory,
  requireActive,
  type TimelineEntry,
  writeActive,
  writeRecord,
} from './state.ts';

export interface DrillEnv {
  root: string;
  provider: Provider;
  /** Empty when the platform is not running (abort only). */
  gatewayUrl: string;
  /** Where the gateway serves `/metrics` and `/admin/*` (the gateway URL when not apart). */
  gatewayAdminUrl?: string;
}

/** Project scenarios (`<root>/drills/`) first, then the ones shipped with platformctl. */
export function scenarioDirs(root: string): string[] {
  return [join(root, 'drills'), join(packageRoot(), 'drills')];
}

export function listScenarios(root: string): Scenario[] {
  return [...scenarioFiles(scenarioDirs(root)).values()].map((f) => loadScenario(f));
}

export function pickScenario(
  root: string,
  opts: { scenario?: string; random?: boolean; seed: number },
): Scenario {
  if (opts.scenario) return findScenario(scenarioDirs(root), opts.scenario);
  const names = [...scenarioFiles(scenarioDirs(root)).keys()];
  if (names.length === 0) throw new PlatformError('NO_SCENARIOS', 'no drill scenarios found');
  const name = names[Math.floor(seededRandom(opts.seed)() * names.length)] as string;
  return findScenario(scenarioDirs(root), name);
}

function scenarioOf(st: DrillState): Scenario {
  return loadScenario(st.file);
}

export interface StartResult {
  state: DrillState;
  deliveries: DeliveryResult[];
}

export async function startDrill(
  env: DrillEnv,
  scenario: Scenario,
  opts: { seed: number; webhooks: WebhookSpec[]; onProgress?: (msg: string) => void },
): Promise<StartResult> {
  const existing = readActive(env.root);
  if (existing)
    throw new PlatformError(
      'DRILL_RUNNING',
      `drill ${existing.id} (${existing.scenario}) is already running`,
      {
        hint: 'finish it with `platformctl drill resolve` or `platformctl drill abort`',
      },
    );
  opts.onProgress?.('checking the platform is healthy before the drill');
  const before = await runProbes(scenario.resolution.probes, env);
  const failing = before.filter((p) => !p.ok);
  if (failing.length > 0)
    throw new PlatformError(
      'NOT_STEADY',
      `the platform is not healthy before the drill: ${failing.map((p) => `${p.name} (${p.detail})`).join('; ')}`,
      { hint: 'fix it first (`platformctl status`), then start the drill' },
    );
  const now = new Date();
  const st: DrillState = {
    schema: 1,
    id: `${now.toISOString().slice(0, 19).replace(/[-:T]/g, '')}-${randomBytes(2).toString('hex')}`,
    scenario: scenario.name,
    title: scenario.title,
    severity: scenario.severity,
    file: scenario.file,
    startedAt: now.toISOString(),
    seed: opts.seed,
    page: scenario.page,
    runbook: scenario.runbook,
    faults: [],
    hintsTaken: 0,
    timeline: [],
  };
  try {
    st.baseline = await snapshotCounters(env.gatewayAdminUrl ?? env.gatewayUrl);
  } catch {
    // No baseline: the impact will say it could not be measured.
  }
  addEntry(st, 'start', `drill ${st.id} started (hidden scenario)`, now);
  writeActive(env.root, st);
  const random = seededRandom(opts.seed);
  try {
    for (const fault of scenario.fault) {
      opts.onProgress?.('injecting the hidden fault');
      const injected = await injectDrillFault(fault, { provider: env.provider, root: env.root, random });
      st.faults.push(injected);
      // Written after every fault: a crash half-way still leaves everything undoable.
      writeActive(env.root, st);
    }
  } catch (err) {
    await revertFaults(env, st);
    clearActive(env.root);
    throw err;
  }
  addEntry(st, 'page', `[${st.severity}] ${st.page}`);
  writeActive(env.root, st);
  const deliveries: DeliveryResult[] = [];
  const hooks = opts.webhooks.filter((h) => h.events === undefined || h.events.includes('drill.page'));
  if (hooks.length > 0) {
    const notifier = new Notifier(hooks, { onResult: (r) => deliveries.push(r) });
    notifier.notify({
      event: 'drill.page',
      drill: st.id,
      title: st.title,
      severity: st.severity,
      message: st.page,
      at: new Date().toISOString(),
      // No runbook link in the page: its name would give the cause away.
    });
    await notifier.flush(10_000);
  }
  return { state: st, deliveries };
}

async function revertFaults(env: DrillEnv, st: DrillState, platformDown = false): Promise<string[]> {
  const problems: string[] = [];
  for (const fault of [...st.faults].reverse()) {
    if (fault.reverted) continue;
    try {
      await revertDrillUndo(fault.undo, { ...env, platformDown });
      fault.reverted = true;
    } catch (err) {
      problems.push(`${fault.description}: ${(err as Error).message}`);
    }
  }
  return problems;
}

export function ack(root: string): { state: DrillState; entry: TimelineEntry; already: boolean } {
  const st = requireActive(root);
  const prior = st.timeline.find((e) => e.type === 'ack');
  if (prior) return { state: st, entry: prior, already: true };
  const entry = addEntry(st, 'ack', 'page acknowledged');
  writeActive(root, st);
  return { state: st, entry, already: false };
}

export function note(root: string, text: string): { state: DrillState; entry: TimelineEntry } {
  const st = requireActive(root);
  const entry = addEntry(st, 'note', text);
  writeActive(root, st);
  return { state: st, entry };
}

export function hint(root: string): { state: DrillState; level: number; hint: string; exhausted: boolean } {
  const st = requireActive(root);
  const hints = scenarioOf(st).hints;
  if (st.hintsTaken >= hints.length) {
    return { state: st, level: hints.length, hint: hints[hints.length - 1] as string, exhausted: true };
  }
  const level = st.hintsTaken + 1;
  const text = hints[level - 1] as string;
  st.hintsTaken = level;
  addEntry(st, 'hint', `hint ${level}/${hints.length}: ${text}`);
  writeActive(root, st);
  return { state: st, level, hint: text, exhausted: false };
}

export function status(root: string): (DrillState & { elapsedMs: number }) | undefined {
  const st = readActive(root);
  if (!st) return undefined;
  return { ...st, elapsedMs: Date.now() - Date.parse(st.startedAt) };
}

export type ResolveResult =
  | { resolved: false; failing: ProbeResult[]; probes: ProbeResult[] }
  | { resolved: true; record: DrillRecord; probes: ProbeResult[]; problems: string[] };

export async function resolve(env: DrillEnv): Promise<ResolveResult> {
  const st = requireActive(env.root);
  const scenario = scenarioOf(st);
  const probes = await runProbes(scenario.resolution.probes, env);
  const failing = probes.filter((p) => !p.ok);
  if (failing.length > 0) {
    addEntry(st, 'resolve-refused', `still failing: ${failing.map((p) => p.name).join(', ')}`);
    writeActive(env.root, st);
    return { resolved: false, failing, probes };
  }
  const entry = addEntry(st, 'resolve', 'resolution probes pass: platform healthy');
  const times = drillTimes(st.timeline, entry.t);
  const score = scoreDrill(times, {
    hintsTaken: st.hintsTaken,
    notes: st.timeline.filter((e) => e.type === 'note').length,
    targets: scenario.targets,
  });
  const impact = await measureImpact(env, st);
  const problems = await revertFaults(env, st);
  addEntry(
    st,
    'revert',
    problems.length ? `revert problems: ${problems.join('; ')}` : 'remaining faults reverted',
  );
  return {
    resolved: true,
    record: finish(env.root, st, scenario, 'resolved', { times, score, impact }),
    probes,
    problems,
  };
}

async function measureImpact(env: DrillEnv, st: DrillState): Promise<Impact> {
  if (!st.baseline)
    return {
      services: [],
      requests: 0,
      errors: 0,
      throttled: 0,
      partial: false,
      unavailable: 'no gateway counters at the start',
    };
  try {
    return diffCounters(st.baseline, await snapshotCounters(env.gatewayAdminUrl ?? env.gatewayUrl));
  } catch (err) {
    return {
      services: [],
      requests: 0,
      errors: 0,
      throttled: 0,
      partial: false,
      unavailable: (err as Error).message,
    };
  }
}

function finish(
  root: string,
  st: DrillState,
  scenario: Scenario | undefined,
  outcome: DrillRecord['outcome'],
  extra: Partial<DrillRecord>,
): DrillRecord {
  const { faults, baseline: _baseline, ...rest } = st;
  const record: DrillRecord = {
    ...rest,
    outcome,
    endedAt: new Date().toISOString(),
    faults: faults.map((f) => ({ description: f.description })),
    ...extra,
  };
  if (scenario) record.report = writePostmortem(statePaths(root).reports, record, scenario);
  writeRecord(root, record);
  clearActive(root);
  return record;
}

/**
 * `platformDown`: the platform was stopped meanwhile, which took gateway rules, paused processes
 * and the canary with it; only what lives on disk is left to undo.
 */
export async function abort(
  env: DrillEnv,
  opts: { platformDown?: boolean } = {},
): Promise<{ record: DrillRecord; problems: string[] }> {
  const st = requireActive(env.root);
  const problems = await revertFaults(env, st, opts.platformDown);
  if (problems.length > 0) {
    writeActive(env.root, st);
    throw new PlatformError('REVERT_FAILED', `could not revert: ${problems.join('; ')}`, {
      hint: 'the drill stays active; fix the cause (is the platform up?) and run `platformctl drill abort` again',
    });
  }
  addEntry(st, 'abort', 'drill aborted; every fault reverted');
  return { record: finish(env.root, st, undefined, 'aborted', {}), problems };
}

export interface HistorySummary {
  drills: DrillRecord[];
  scenarios: {
    scenario: string;
    runs: number;
    resolved: number;
    medianMitigateMs?: number;
    medianScore?: number;
  }[];
  /** Scores of resolved drills, oldest first. */
  scoreTrend: { at: string; scenario: string; score: number }[];
}

export function history(root: string): HistorySummary {
  const drills = readHistory(root);
  const by = new Map<string, DrillRecord[]>();
  for (const d of drills) by.set(d.scenario, [...(by.get(d.scenario) ?? []), d]);
  const scenarios = [...by.entries()].map(([scenario, list]) => {
    const resolved = list.filter((d) => d.outcome === 'resolved');
    return {
      scenario,
      runs: list.length,
      resolved: resolved.length,
      medianMitigateMs: median(resolved.flatMap((d) => (d.times ? [d.times.mitigateMs] : []))),
      medianScore: median(resolved.flatMap((d) => (d.score ? [d.score.total] : []))),
    };
  });
  const scoreTrend = drills.flatMap((d) =>
    d.score ? [{ at: d.startedAt, scenario: d.scenario, score: d.score.total }] : [],
  );
  return { drills, scenarios, scoreTrend };
}
