/** docs/code-map.md lists every folder that holds code, and nothing that does not exist. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.ts';

const MAP = join(REPO_ROOT, 'docs', 'code-map.md');

/** Folders that must be on the map: those holding non-test sources, and every test/<area>. */
function codeFolders(): string[] {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter((f) => f && existsSync(join(REPO_ROOT, f)));
  const folders = new Set<string>();
  for (const f of files) {
    if (f.startsWith('test/') && f.split('/').length > 2) folders.add(f.split('/').slice(0, 2).join('/'));
    if (!/\.(ts|cjs|mjs)$/.test(f) || /\.(test|d)\.ts$/.test(f)) continue;
    if (/(^|\/)(test|node_modules|templates|\.platformctl)\//.test(f) || f.startsWith('templates/')) continue;
    const dir = dirname(f);
    if (dir !== '.') folders.add(dir);
  }
  return [...folders].sort();
}

describe('docs/code-map.md', () => {
  const text = readFileSync(MAP, 'utf8');
  const listed = [...text.matchAll(/^\| `([^`]+)\/` \|/gm)].map((m) => m[1] as string);

  it('lists every folder that holds code', () => {
    const missing = codeFolders().filter((f) => !listed.includes(f));
    expect(missing, `add a line "| \`<folder>/\` | what it holds |" to docs/code-map.md for each`).toEqual(
      [],
    );
  });

  it('lists only folders that exist', () => {
    const gone = listed.filter((f) => !existsSync(join(REPO_ROOT, f)));
    expect(gone, 'remove these lines from docs/code-map.md').toEqual([]);
  });
});
