/**
 * The rollout's record: `.platform/reports/rollouts/<service>-<timestamp>.json` (state, every event,
 * every measurement with its metric values — the evidence of a rollback) and a readable `.md`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { statePaths } from '../core/state-dir.ts';
import { formatValue } from './conditions.ts';
import type { RolloutEvent, RolloutState } from './store.ts';

export function reportsDir(root: string): string {
  return join(statePaths(root).reports, 'rollouts');
}

export function writeReport(
  root: string,
  state: RolloutState,
  events: RolloutEvent[],
): { json: string; markdown: string } {
  const dir = reportsDir(root);
  mkdirSync(dir, { recursive: true });
  const stamp = state.startedAt.replace(/[:.]/g, '-');
  const base = join(dir, `${state.service}-${stamp}`);
  const json = `${base}.json`;
  const markdown = `${base}.md`;
  writeFileSync(json, `${JSON.stringify({ ...state, events }, null, 2)}\n`);
  writeFileSync(markdown, renderMarkdown(state, events));
  return { json, markdown };
}

const pct = (v: number | undefined) => (v === undefined ? '–' : formatValue(v, 'ratio'));
const ms = (v: number | undefined) => (v === undefined ? '–' : formatValue(v, 'duration'));

export function renderMarkdown(state: RolloutState, events: RolloutEvent[]): string {
  const lines: string[] = [];
  const result =
    state.outcome?.result === 'promoted' ? 'promoted' : state.outcome ? 'rolled back' : state.phase;
  lines.push(`# Rollout of ${state.service} ${state.release}: ${result}`, '');
  lines.push(`- Strategy: ${state.strategy}`);
  lines.push(`- Stable before: ${state.stable}`);
  lines.push(`- Started: ${state.startedAt}`);
  if (state.finishedAt) {
    lines.push(
      `- Finished: ${state.finishedAt} (${((Date.parse(state.finishedAt) - Date.parse(state.startedAt)) / 1000).toFixed(1)}s)`,
    );
  }
  if (state.outcome)
    lines.push(`- Decision: ${state.outcome.reason}${state.outcome.interrupted ? ' (interrupted)' : ''}`);
  lines.push('');
  if (state.analyses.length) {
    lines.push('## Analyses', '');
    for (const a of state.analyses) {
      lines.push(
        `### Step ${a.step + 1} at ${a.weight}% — ${a.outcome ? `${a.outcome.verdict}: ${a.outcome.reason}` : 'interrupted'}`,
        '',
      );
      if (a.measurements.length) {
        lines.push(
          '| # | canary req | canary errors | canary p99 | stable req | stable errors | stable p99 | verdict | why |',
          '|---|---|---|---|---|---|---|---|---|',
        );
        for (const m of a.measurements) {
          const why = m.results
            .filter((r) => r.verdict !== 'pass')
            .map((r) => `${r.condition}: ${r.reason}`)
            .join('; ');
          lines.push(
            `| ${m.index} | ${m.canary.requests} | ${pct(m.canary.errorRate)} | ${ms(m.canary.p99)} | ${m.stable.requests} | ${pct(m.stable.errorRate)} | ${ms(m.stable.p99)} | ${m.verdict} | ${why.replace(/\|/g, '\\|')} |`,
          );
        }
        lines.push('');
      }
    }
  }
  lines.push('## Decisions', '');
  for (const e of events) lines.push(`- \`${e.at.slice(11, 23)}\` **${e.type}** — ${e.message}`);
  lines.push('');
  return lines.join('\n');
}
