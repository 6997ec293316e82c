/**
 * The error catalogues (src/core/error-codes.ts for the CLI, runtime/contract/problem-codes.ts for
 * the runtime) against the code: nothing thrown that is not declared, nothing declared that is
 * never thrown, and docs/errors.md generated from them. The type checker already refuses an
 * undeclared CLI code; the runtime's codes are found in the sources.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROBLEM_CODES } from '../../runtime/contract/problem-codes.ts';
import { ERROR_CODES } from '../../src/core/error-codes.ts';
import { ERROR_DOCS_COMMAND, renderErrorCodes } from '../../src/docs/error-codes.ts';
import { REPO_ROOT } from '../helpers/cli.ts';

function sources(patterns: string[], skip: (file: string) => boolean): Map<string, string> {
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', ...patterns], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  })
    .split('\n')
    .filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !skip(f) && existsSync(join(REPO_ROOT, f)),
    );
  return new Map(files.map((f) => [f, readFileSync(join(REPO_ROOT, f), 'utf8')]));
}

/** A runtime problem is `(status, 'CODE', message)` in every form the runtime builds one. */
const RUNTIME_CODE = /(?:\b\d{3}\b|[A-Za-z_][\w.?]*)\s*,\s*'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)'\s*,/g;
const DEPENDENCY_CODE = /dependencyUnavailable\(\s*'([A-Z][A-Z0-9_]*)'/g;

describe('error catalogues', () => {
  it('every CLI code declared is thrown somewhere in src/', () => {
    const src = [...sources(['src'], (f) => f === 'src/core/error-codes.ts').values()].join('\n');
    const unused = Object.keys(ERROR_CODES).filter((code) => !src.includes(`'${code}'`));
    expect(
      unused,
      `declared in src/core/error-codes.ts but never thrown: remove ${unused.join(', ')} (or throw it), then ${ERROR_DOCS_COMMAND}`,
    ).toEqual([]);
  });

  it('every runtime problem code thrown is declared, and every declared one is thrown', () => {
    const files = sources(['runtime'], (f) => f.includes('/test/') || f.startsWith('runtime/contract/'));
    const used = new Map<string, string>();
    for (const [file, text] of files) {
      for (const re of [RUNTIME_CODE, DEPENDENCY_CODE])
        for (const m of text.matchAll(re)) if (!used.has(m[1] as string)) used.set(m[1] as string, file);
    }
    const undeclared = [...used].filter(([code]) => !(code in PROBLEM_CODES));
    expect(
      undeclared.map(([code, file]) => `${code} (${file})`),
      `problem codes thrown in runtime/ but not declared: add each to runtime/contract/problem-codes.ts as\n  CODE: { status: <http status>, meaning: '<one line>' },\nthen ${ERROR_DOCS_COMMAND}`,
    ).toEqual([]);
    const unused = Object.keys(PROBLEM_CODES).filter((code) => !used.has(code));
    expect(
      unused,
      `declared in runtime/contract/problem-codes.ts but never thrown: remove ${unused.join(', ')}`,
    ).toEqual([]);
  });

  it('docs/errors.md is generated from the catalogues', () => {
    const file = join(REPO_ROOT, 'docs', 'errors.md');
    const actual = existsSync(file) ? readFileSync(file, 'utf8') : '';
    expect(actual === renderErrorCodes(), `docs/errors.md is out of date: ${ERROR_DOCS_COMMAND}`).toBe(true);
  });
});
