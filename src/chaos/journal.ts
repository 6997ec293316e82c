/** Writes an experiment's journal as JSON and as a readable Markdown report. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration } from '../core/duration.ts';
import { ensureDir } from '../core/state-dir.ts';
import type { Journal } from './runner.ts';

export function writeJournal(reportsDir: string, journal: Journal): { json: string; markdown: string } {
  const dir = ensureDir(join(reportsDir, 'chaos'));
  const stem = `${journal.startedAt.replace(/[:.]/g, '-')}-${journal.title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)}`;
  const json = join(dir, `${stem}.json`);
  const markdown = join(dir, `${stem}.md`);
  writeFileSync(json, `${JSON.stringify(journal, null, 2)}\n`);
  writeFileSync(markdown, renderMarkdown(journal));
  return { json, markdown };
}

export function renderMarkdown(j: Journal): string {
  const probes = (list: Journal['before']) =>
    list.map((p) => `- ${p.ok ? '✅' : '❌'} ${p.name}: ${p.detail}`).join('\n') || '- (none)';
  const lines = [
    `# Chaos experiment: ${j.title}`,
    '',
    `- Verdict: **${j.verdict}** — ${j.reason}`,
    `- File: \`${j.file}\``,
    `- Started ${j.startedAt}, took ${formatDuration(j.durationMs)}`,
    '',
    '## Steady state before',
    probes(j.before),
    '',
    '## Steady state after rollback',
    probes(j.after),
    '',
  ];
  if (j.data) {
    const l = j.data.ledger;
    lines.push(
      '## Acknowledged writes',
      `- Events: ${l.events.sent} sent, ${l.events.acked} acknowledged, ${l.events.failed} failed or dropped`,
      `- Uploads: ${l.uploads.sent} sent, ${l.uploads.acked} acknowledged, ${l.uploads.failed} failed or dropped`,
      `- Lost: ${j.data.lost}, duplicated: ${j.data.duplicated}`,
      ...j.data.details.map((d) => `  - ${d}`),
      '',
    );
  }
  lines.push('## Timeline', '', '| t | event | detail |', '| --- | --- | --- |');
  for (const e of j.entries)
    lines.push(`| ${formatDuration(e.t)} | ${e.type} | ${e.message.replace(/\|/g, '\\|')} |`);
  return `${lines.join('\n')}\n`;
}
