/**
 * Three-way merge of one file for `service upgrade`: the user's version (ours), what the old
 * template rendered (base) and what the current template renders (theirs). Uses `git merge-file`,
 * the same merge git applies to a rebase, so users read familiar conflict markers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface MergeResult {
  text: string;
  conflicts: number;
}

export function mergeThreeWay(ours: string, base: string, theirs: string, label: string): MergeResult {
  if (ours === base) return { text: theirs, conflicts: 0 };
  if (theirs === base || ours === theirs) return { text: ours, conflicts: 0 };
  const dir = mkdtempSync(join(tmpdir(), 'platformctl-merge-'));
  try {
    const files = { ours: join(dir, 'ours'), base: join(dir, 'base'), theirs: join(dir, 'theirs') };
    writeFileSync(files.ours, ours);
    writeFileSync(files.base, base);
    writeFileSync(files.theirs, theirs);
    try {
      const text = execFileSync(
        'git',
        [
          'merge-file',
          '-p',
          '--diff3',
          '-L',
          `${label} (yours)`,
          '-L',
          `${label} (template before)`,
          '-L',
          `${label} (template now)`,
          files.ours,
          files.base,
          files.theirs,
        ],
        { encoding: 'utf8' },
      );
      return { text, conflicts: 0 };
    } catch (err) {
      // git merge-file exits with the number of conflicts and still prints the merged text.
      const e = err as { status?: number; stdout?: string };
      if (typeof e.status === 'number' && e.status > 0 && e.status < 128 && typeof e.stdout === 'string') {
        return { text: e.stdout, conflicts: e.status };
      }
      throw err;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
