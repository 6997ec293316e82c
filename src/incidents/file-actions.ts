/**
 * Files a postmortem's action items in the team's tracker, idempotently: items filed before (found
 * by their key, whatever their state) are reported and left alone, so `incident file-actions` can
 * run again after a partial failure or from a second machine without duplicates.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PlatformError, UsageError } from '../core/errors.ts';
import type { FollowUp, Tracker } from './tracker.ts';

const reportSchema = z.object({
  id: z.string(),
  title: z.string(),
  scenario: z.string(),
  severity: z.string(),
  startedAt: z.string(),
  services: z.array(z.string()).default([]),
  actionItems: z.array(z.object({ key: z.string().regex(/^[0-9a-f]{12}$/), title: z.string().min(1) })),
});

/** The parts of a postmortem's JSON report that filing needs. */
export type PostmortemReport = z.output<typeof reportSchema> & { file: string };

/** Reads a postmortem JSON report (`.platform/reports/drills/*.json`). */
export function readPostmortem(file: string): PostmortemReport {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(
      `cannot read the postmortem ${file}: ${(err as Error).message}`,
      'pass the .json report that `drill resolve` wrote under .platform/reports/drills/',
      'POSTMORTEM_UNREADABLE',
    );
  }
  const parsed = reportSchema.safeParse(raw);
  if (!parsed.success)
    throw new UsageError(
      `${file} is not a postmortem report with action items (${parsed.error.issues[0]?.path.join('.') || 'root'}: ${parsed.error.issues[0]?.message})`,
      'reports written before platformctl listed action items in the JSON cannot be filed; resolve a new drill',
      'POSTMORTEM_UNREADABLE',
    );
  return { ...parsed.data, file };
}

/** The newest postmortem JSON report in `dir`, or an error saying how to make one. */
export function latestPostmortem(dir: string): string {
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {}
  const newest = files
    .map((f) => join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs || b.localeCompare(a))[0];
  if (!newest)
    throw new PlatformError('POSTMORTEM_NOT_FOUND', `no postmortem under ${dir}`, {
      hint: 'finish a drill with `platformctl drill resolve`, or pass the report file',
    });
  return newest;
}

/** What happened to one action item. */
export interface FilingResult {
  key: string;
  title: string;
  status: 'created' | 'exists' | 'would-create';
  ref?: string;
  url?: string;
}

/** Turns one action item into the issue text every tracker files. */
export function followUpOf(
  report: PostmortemReport,
  item: { key: string; title: string },
  owners: string[],
  postmortemLink: string,
): FollowUp {
  return {
    key: item.key,
    title: item.title,
    owners,
    body: [
      `Action item from the postmortem of "${report.title}" (${report.scenario}, ${report.severity}), started ${report.startedAt}.`,
      `Postmortem: ${postmortemLink}`,
      ...(report.services.length ? [`Services: ${report.services.join(', ')}`] : []),
    ],
  };
}

/**
 * Files every item not filed yet. With `dryRun` the tracker is still read (so the answer says
 * what exists) but nothing is created. Items are filed one by one; a failure stops the run and
 * the items filed before it stay filed, which the next run finds.
 */
export async function fileActionItems(
  report: PostmortemReport,
  tracker: Tracker,
  opts: { owners: string[]; postmortemLink: string; dryRun?: boolean; onFiled?: (r: FilingResult) => void },
): Promise<FilingResult[]> {
  const existing = await tracker.filed();
  const results: FilingResult[] = [];
  for (const item of report.actionItems) {
    const found = existing.get(item.key);
    let result: FilingResult;
    if (found)
      result = { key: item.key, title: item.title, status: 'exists', ref: found.ref, url: found.url };
    else if (opts.dryRun) result = { key: item.key, title: item.title, status: 'would-create' };
    else {
      const filed = await tracker.create(followUpOf(report, item, opts.owners, opts.postmortemLink));
      result = { key: item.key, title: item.title, status: 'created', ref: filed.ref, url: filed.url };
    }
    results.push(result);
    opts.onFiled?.(result);
  }
  return results;
}
