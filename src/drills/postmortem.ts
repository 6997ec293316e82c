/** The drill's postmortem: Markdown for people, JSON for tools, under `.platform/reports/drills/`. */
import { existsSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatDuration } from '../core/duration.ts';
import { ensureDir } from '../core/state-dir.ts';
import { deriveActionItems } from '../incidents/action-items.ts';
import { packageRoot } from '../providers/local/releases.ts';
import type { Scenario } from './scenario.ts';
import type { DrillRecord } from './state.ts';

/** Runbooks ship with platformctl; link the file itself so the link works from the report's folder. */
function runbookLink(runbook: string): string {
  if (/^[a-z]+:\/\//.test(runbook) || isAbsolute(runbook)) return runbook;
  for (const base of [process.cwd(), packageRoot()]) {
    const file = join(base, runbook);
    if (existsSync(file)) return pathToFileURL(file).href;
  }
  return runbook;
}

const fmt = (ms: number | undefined) => (ms === undefined ? '—' : formatDuration(ms));
const pct = (r: number) => `${(r * 100).toFixed(r > 0 && r < 0.01 ? 2 : 1)}%`;

export function renderPostmortem(r: DrillRecord, scenario: Scenario): string {
  const t = r.times;
  const good: string[] = [];
  const better: string[] = [];
  if (t?.acknowledgeMs !== undefined && t.acknowledgeMs <= scenario.targets.acknowledge)
    good.push(
      `Acknowledged within the ${fmt(scenario.targets.acknowledge)} target (${fmt(t.acknowledgeMs)}).`,
    );
  else
    better.push(
      t?.acknowledgeMs === undefined
        ? 'The page was never acknowledged: ack first, so others know someone is on it.'
        : `Acknowledgement took ${fmt(t.acknowledgeMs)} (target ${fmt(scenario.targets.acknowledge)}).`,
    );
  if (t && t.mitigateMs <= scenario.targets.mitigate)
    good.push(`Mitigated within the ${fmt(scenario.targets.mitigate)} target (${fmt(t.mitigateMs)}).`);
  else if (t) better.push(`Mitigation took ${fmt(t.mitigateMs)} (target ${fmt(scenario.targets.mitigate)}).`);
  if (r.hintsTaken === 0) good.push('Diagnosed without hints.');
  else better.push(`${r.hintsTaken} hint(s) needed: the runbook and dashboards should make this quicker.`);
  const notes = r.timeline.filter((e) => e.type === 'note').length;
  if (notes > 0) good.push(`The timeline was kept (${notes} note(s)).`);
  else better.push('No notes were taken: write down what you check and decide while you do it.');
  const refused = r.timeline.filter((e) => e.type === 'resolve-refused').length;
  if (refused > 0) better.push(`Resolve was attempted ${refused} time(s) before the platform was healthy.`);

  const lines = [
    `# Postmortem (drill): ${r.title}`,
    '',
    '## Summary',
    '',
    `- Scenario: \`${r.scenario}\` — severity ${r.severity}`,
    `- Page: "${r.page}"`,
    `- Started ${r.startedAt}, resolved ${r.endedAt}`,
    `- Time to acknowledge: ${fmt(t?.acknowledgeMs)}`,
    `- Time to detect (first diagnostic command or note): ${fmt(t?.detectMs)}`,
    `- Time to mitigate: ${fmt(t?.mitigateMs)}`,
    ...(r.score
      ? [
          `- Score: **${r.score.total}/100 (${r.score.grade})** — mitigation ${r.score.parts.mitigation}, acknowledgement ${r.score.parts.acknowledgement}, timeline ${r.score.parts.timeline}, hints −${r.score.parts.hintPenalty}`,
        ]
      : []),
    ...(r.runbook ? [`- Runbook: [${r.runbook}](${runbookLink(r.runbook)})`] : []),
    '',
    '## Timeline',
    '',
    '| t | time (UTC) | event | detail |',
    '| --- | --- | --- | --- |',
    ...r.timeline.map(
      (e) =>
        `| ${fmt(e.t)} | ${e.at.slice(11, 19)} | ${e.type} | ${e.message.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`,
    ),
    '',
    '## Impact',
    '',
  ];
  const impact = r.impact;
  if (!impact || impact.unavailable)
    lines.push(`Not measured: ${impact?.unavailable ?? 'no gateway counters'}.`);
  else if (impact.services.length === 0)
    lines.push(
      'No service traffic went through the gateway during the drill, so no user-visible failure was measured.',
    );
  else {
    lines.push(
      `${impact.requests} requests through the gateway during the drill: ${impact.errors} failed (5xx), ${impact.throttled} were refused with 429${impact.partial ? ' — the gateway restarted, so these are lower bounds' : ''}.`,
      '',
      '| service | requests | errors (5xx) | error rate | 429 |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...impact.services.map(
        (s) => `| ${s.service} | ${s.requests} | ${s.errors} | ${pct(s.errorRate)} | ${s.throttled} |`,
      ),
    );
  }
  lines.push(
    '',
    '## Root cause',
    '',
    scenario.rootCause.trim(),
    '',
    `Injected: ${r.faults.map((f) => f.description).join('; ')}.`,
    '',
    '## What went well',
    '',
    ...(good.length ? good.map((g) => `- ${g}`) : ['- (nothing yet — that is what drills are for)']),
    '',
    '## What could go better',
    '',
    ...(better.length ? better.map((b) => `- ${b}`) : ['- Nothing stood out.']),
    '',
    '## Mitigation',
    '',
    'What the on-call is expected to run (compare with the timeline):',
    '',
    ...scenario.mitigation.map((m) => `- \`${m}\``),
    '',
    '## Action items',
    '',
    ...deriveActionItems(r, scenario).map((a) => `- [ ] ${a.title}`),
    '',
  );
  return `${lines.join('\n')}\n`;
}

/** The services a scenario's faults hit: their owners get the follow-ups. */
function affectedServices(scenario: Scenario): string[] {
  const names = scenario.fault.flatMap((f) => {
    if ('target' in f && f.target) return [f.target.service];
    // In a drill a partition pauses a service (bus and db partitions are refused by the schema).
    if ('dependency' in f && typeof f.dependency === 'string') return [f.dependency];
    return [];
  });
  return [...new Set(names)];
}

export function writePostmortem(
  reportsDir: string,
  record: DrillRecord,
  scenario: Scenario,
): { markdown: string; json: string } {
  const dir = ensureDir(join(reportsDir, 'drills'));
  const stem = `${record.startedAt.replace(/[:.]/g, '-')}-${record.scenario}`;
  const markdown = join(dir, `${stem}.md`);
  const json = join(dir, `${stem}.json`);
  const withReport = { ...record, report: { markdown, json } };
  writeFileSync(markdown, renderPostmortem(withReport, scenario));
  // The JSON carries the action items and affected services so `incident file-actions` can file
  // them later without the scenario file (which may have changed since).
  const forTools = {
    ...withReport,
    services: affectedServices(scenario),
    actionItems: deriveActionItems(withReport, scenario),
  };
  writeFileSync(json, `${JSON.stringify(forTools, null, 2)}\n`);
  return { markdown, json };
}
