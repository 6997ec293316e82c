/** Human renderings of rollout events, state and plans, shared by `deploy` and `canary`. */
import { formatDuration } from '../core/duration.ts';
import type { Output } from '../core/output.ts';
import { formatValue } from '../delivery/conditions.ts';
import type { RolloutPlan } from '../delivery/plan.ts';
import { type RolloutEvent, type RolloutState, runnerAlive } from '../delivery/store.ts';
import type { ResolvedStep } from '../delivery/strategy.ts';

const BAD = new Set(['rollout.aborting', 'rollout.rolledBack', 'analysis.fail', 'release.retire-failed']);
const GOOD = new Set(['rollout.promoted', 'analysis.pass', 'release.ready']);
const WAIT = new Set(['rollout.paused', 'rollout.inconclusive', 'analysis.inconclusive', 'control.received']);
const WARN = new Set(['early-abort.metrics-unavailable']);

/** One line per decision: `17:42:03.120 analysis.pass  step 2/5: …`. */
export function eventLine(out: Output, e: RolloutEvent): string {
  const s = out.style;
  const time = s.dim(e.at.slice(11, 23));
  const mark = BAD.has(e.type)
    ? s.red('✗')
    : GOOD.has(e.type)
      ? s.green('✓')
      : WAIT.has(e.type)
        ? s.yellow('‖')
        : WARN.has(e.type)
          ? s.yellow('!')
          : s.dim('•');
  return `${time} ${mark} ${e.message}`;
}

export function stepLabel(step: ResolvedStep): string {
  switch (step.kind) {
    case 'setWeight':
      return `setWeight ${step.weight}%`;
    case 'pause':
      return `pause ${formatDuration(step.durationMs)}`;
    case 'pauseUntilPromoted':
      return 'pause until promoted';
    case 'analysis':
      return `analysis ${step.analysis.count}×${formatDuration(step.analysis.interval)}`;
  }
}

export function renderState(out: Output, st: RolloutState): string {
  const s = out.style;
  const phaseColour =
    st.phase === 'Promoted'
      ? s.green
      : st.phase === 'RolledBack' || st.phase === 'Aborting'
        ? s.red
        : s.yellow;
  const alive = runnerAlive(st);
  const lines = [
    `${s.bold(st.service)} ${st.stable} → ${st.release}  ${phaseColour(st.phase)}  ${st.weight}% on ${st.release}  (${st.strategy})`,
    `  started ${st.startedAt}${st.held ? s.yellow(`, held since ${st.held.at} (onDeadline: pause): canary promote|abort ${st.service}`) : st.finishedAt ? `, finished ${st.finishedAt}` : alive ? `, run by pid ${st.pid}` : s.yellow(', runner not alive')}`,
  ];
  if (st.steps.length) {
    lines.push('  steps:');
    st.steps.forEach((step, i) => {
      const done = i < st.stepIndex || st.phase === 'Promoted';
      const current = i === st.stepIndex && !['Promoted', 'RolledBack'].includes(st.phase);
      const mark = done ? s.green('✓') : current ? s.cyan('▶') : s.dim('·');
      lines.push(`   ${mark} ${i + 1}. ${stepLabel(step)}`);
    });
  }
  const last = st.analyses.at(-1);
  const m = last?.measurements.at(-1);
  if (m) {
    lines.push(`  latest measurement (${formatDuration(m.windowMs)} window): ${m.verdict}`);
    for (const r of m.results) {
      const mark = r.verdict === 'pass' ? s.green('✓') : r.verdict === 'fail' ? s.red('✗') : s.yellow('?');
      lines.push(`   ${mark} ${r.condition}  ${s.dim(r.reason)}`);
    }
    const side = (name: string, v: typeof m.canary) =>
      `   ${name.padEnd(6)} ${String(v.requests).padStart(6)} req  errors ${v.errorRate === undefined ? '–' : formatValue(v.errorRate, 'ratio')}  p50 ${ms(v.p50)}  p95 ${ms(v.p95)}  p99 ${ms(v.p99)}`;
    lines.push(side('canary', m.canary), side('stable', m.stable));
  }
  if (st.outcome) lines.push(`  decision: ${st.outcome.reason}`);
  else lines.push(`  ${st.message}`);
  if (st.report) lines.push(`  report: ${st.report.markdown}`);
  return lines.join('\n');
}

const ms = (v: number | undefined) => (v === undefined ? '–' : formatValue(v, 'duration'));
const dur = (ms: number) =>
  Number.isFinite(ms) ? formatDuration(ms) : 'never (no analysis sees the traffic)';

export function renderPlan(
  out: Output,
  service: string,
  plan: RolloutPlan & { observedRps?: number | undefined },
): string {
  const s = out.style;
  const lines = [`${s.bold(service)}: ${plan.strategy} rollout plan`];
  lines.push(
    out.table(
      ['#', 'step', 'weight', 'best', 'worst'],
      plan.steps.map((p) => [
        p.index + 1,
        p.description,
        `${p.weight}%`,
        p.waitsForHuman ? 'a human' : formatDuration(p.bestMs),
        p.waitsForHuman ? 'a human' : formatDuration(p.worstMs),
      ]),
    ),
  );
  lines.push(
    '',
    `time to full promotion:  ${formatDuration(plan.timeToFullPromotionMs)} when every measurement passes${plan.requiresHuman ? ' (plus the wait for `canary promote`)' : ''}`,
    `longest within limits:   ${formatDuration(plan.worstCaseToPromotionMs)} (every tolerated failure and inconclusive measurement)`,
    plan.detection.beforeUserTraffic
      ? `detect a bad release:    within ${dur(plan.detection.worstCaseMs)} of preview analysis, before any user traffic`
      : `detect a bad release:    ${Number.isFinite(plan.detection.worstCaseMs) ? `at worst ${dur(plan.detection.worstCaseMs)} after its first user request, at ${plan.detection.exposedWeight}% of traffic (exposure ≤ ${plan.detection.exposurePercentSeconds.toFixed(1)} %·s)` : 'never: a bad release reaches 100% unjudged'}${plan.detection.blind ? ` — ${plan.detection.blind}` : ''}`,
    `early abort:             every ${formatDuration(plan.detection.earlyAbortTickMs)} once the canary has ≥3 errors and a significantly worse error ratio (one-sided, alpha 0.001 per look)`,
    `roll back:               one traffic change (instant), then the new version is drained and stopped`,
    ...trafficLines(plan),
  );
  return lines.join('\n');
}

/** What traffic the analyses need, what was observed, and what happens without enough. */
function trafficLines(plan: RolloutPlan & { observedRps?: number | undefined }): string[] {
  const t = plan.traffic;
  const lines: string[] = [];
  if (t.requiredRps > 0) {
    const seen =
      plan.observedRps === undefined
        ? 'unknown (no metrics)'
        : `${plan.observedRps} req/s over the last minute`;
    lines.push(
      `traffic needed:          ${t.requiredRps} req/s overall (${t.analyses
        .filter((a) => a.weight > 0)
        .map((a) => `${a.label} at ${a.weight}%: ${a.requiredRps}`)
        .join(', ')}); observed ${seen}`,
    );
  }
  if (t.requiredPreviewRps > 0)
    lines.push(
      `preview traffic needed:  ${t.requiredPreviewRps} req/s pinned by header to the new version (user traffic does not reach the preview)`,
    );
  if (t.outOfTimeMs > 0)
    lines.push(
      `too little traffic:      inconclusive, then ${t.onDeadline === 'abort' ? 'rolled back' : 'held for a human'} after at most ${formatDuration(t.outOfTimeMs)} (exit 8)`,
    );
  return lines;
}
