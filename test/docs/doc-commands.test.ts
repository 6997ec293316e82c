/**
 * Every `platformctl …` command line in the README and the operator docs must parse against the
 * real commander definitions (commands, options, choices, arguments), so a renamed flag breaks this
 * test instead of a newcomer's first hour. Actions are replaced by no-ops: nothing runs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.ts';
import { REPO_ROOT } from '../helpers/cli.ts';

const DOCS = join(REPO_ROOT, 'docs');
const FILES = [
  '../README.md',
  'getting-started.md',
  ...readdirSync(join(DOCS, 'guides')).map((f) => `guides/${f}`),
  'decisions/0002-undici-gateway.md',
  'decisions/0003-embedded-bus.md',
  ...readdirSync(join(DOCS, 'runbooks')).map((f) => `runbooks/${f}`),
];

/** Splits a shell command line into words (quotes respected) and stops at operators and comments. */
function words(line: string): string[] {
  const out: string[] = [];
  // A `<placeholder with spaces>` is one word; `a|b|c` in prose stands for its first choice.
  const re = /"([^"]*)"|'([^']*)'|(<[^>]*>\S*)|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    const bare = m[4];
    if (bare !== undefined && /^(#|&&|\|\||\||;|\)|`|>|2>)/.test(bare)) break;
    // `[--flag value]` in a synopsis is optional: the line must parse without it.
    if (bare?.startsWith('[')) {
      let depth = 0;
      for (let rest: RegExpExecArray | null = m; rest; rest = re.exec(line)) {
        const t = rest[0];
        depth += (t.match(/\[/g) ?? []).length - (t.match(/\]/g) ?? []).length;
        if (depth <= 0) break;
      }
      continue;
    }
    const w = m[1] ?? m[2] ?? m[3] ?? (bare as string).replace(/[`);]+$/, '');
    out.push(bare !== undefined && /^[a-z0-9-]+(\|[a-z0-9-]+)+$/.test(w) ? (w.split('|')[0] as string) : w);
  }
  return out;
}

/**
 * Command lines written as code: lines of fenced blocks (with `\` continuations joined) and inline
 * code spans. Prose that merely mentions platformctl is not a command.
 */
function commandLines(text: string): string[] {
  const lines: string[] = [];
  const PREFIX = /^(?:\$ )?(?:npx )?platformctl (.*)$/;
  let fenced = false;
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    const line = (raw[i] as string).trim();
    if (line.startsWith('```')) {
      fenced = !fenced;
      continue;
    }
    if (fenced) {
      let joined = line;
      while (joined.endsWith('\\') && i + 1 < raw.length)
        joined = `${joined.slice(0, -1)} ${(raw[++i] as string).trim()}`;
      const m = PREFIX.exec(joined);
      if (m) lines.push((m[1] as string).trim());
      continue;
    }
    // A span naming just a verb ("`platformctl deploy` rolls a release out…") is prose, not a command.
    for (const span of line.matchAll(/`(?:npx )?platformctl ([^`]*)`/g)) {
      const args = (span[1] as string).trim();
      if (args.includes(' ')) lines.push(args);
    }
  }
  return lines;
}

function silence(cmd: Command): void {
  cmd.exitOverride();
  cmd.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  cmd.action(() => {});
  for (const sub of cmd.commands) silence(sub);
}

describe('command lines in the docs', () => {
  const cases = FILES.flatMap((file) =>
    commandLines(readFileSync(join(DOCS, file), 'utf8')).map((line) => [file, line] as const),
  );

  it('finds command lines to check', () => {
    expect(cases.length).toBeGreaterThan(40);
  });

  it.each(cases)('%s: platformctl %s', async (_file, line) => {
    const program = buildProgram();
    silence(program);
    const argv = words(line);
    if (argv.length === 0 || argv[0]?.startsWith('<')) return;
    try {
      await program.parseAsync(['node', 'platformctl', ...argv]);
    } catch (err) {
      // --help ends with a CommanderError carrying exit code 0; anything else is a broken line.
      if ((err as { exitCode?: number }).exitCode !== 0) throw err;
    }
  });
});
