/**
 * The launcher answers help requests from pages rendered at build time (src/help-pages.ts) without
 * loading commander. Every page must be byte-identical to what the fully declared program prints
 * for `<command…> --help`, at the width commander uses off a terminal (80) and on a wide terminal;
 * a terminal of another width must still get commander's own wrapping.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.ts';
import { type HelpFile, ROOT_HELP_FILE } from '../../src/help-pages.ts';
import { BIN, REPO_ROOT, runCli } from '../helpers/cli.ts';

const PAGES = join(REPO_ROOT, 'dist', 'cli', 'help');

function every(cmd: Command, visit: (c: Command) => void): void {
  visit(cmd);
  for (const sub of cmd.commands) every(sub, visit);
}

/** What the fully declared program prints for `platformctl <args>` at `width` columns. */
function programHelp(args: string[], width: number): string {
  const program = buildProgram();
  let out = '';
  every(program, (c) =>
    c
      .configureOutput({
        writeOut: (s) => {
          out += s;
        },
        getOutHelpWidth: () => width,
      })
      .exitOverride(),
  );
  try {
    program.parse(['node', 'platformctl', ...args]);
  } catch {
    // commander ends a help request by throwing under exitOverride
  }
  return out;
}

/** Every command path of the full program, root first: [], ['init'], ['config'], ['config', 'show']… */
function commandPaths(): string[][] {
  const paths: string[][] = [];
  const walk = (cmd: Command, path: string[]) => {
    paths.push(path);
    for (const sub of cmd.commands) if (!sub.name().startsWith('_')) walk(sub, [...path, sub.name()]);
  };
  walk(buildProgram(), []);
  return paths;
}

function page(path: string[]) {
  const file = JSON.parse(readFileSync(join(PAGES, `${path[0] ?? ROOT_HELP_FILE}.json`), 'utf8')) as HelpFile;
  return file[path.slice(1).join(' ')];
}

describe('build-time help pages', () => {
  const paths = commandPaths();

  it('exist for every command the program declares, and for nothing else', () => {
    expect(paths.length).toBeGreaterThan(50);
    const pages = readdirSync(PAGES).flatMap((f) =>
      Object.keys(JSON.parse(readFileSync(join(PAGES, f), 'utf8')) as HelpFile).map((sub) =>
        f === `${ROOT_HELP_FILE}.json` ? '' : [f.replace(/\.json$/, ''), sub].join(' ').trim(),
      ),
    );
    expect(pages.sort()).toEqual(paths.map((p) => p.join(' ')).sort());
  });

  it('are byte-identical to the full program at width 80 and unwrapped, for every command', () => {
    for (const path of paths) {
      const p = page(path);
      expect(p, path.join(' ')).toBeDefined();
      expect(p?.narrow, path.join(' ')).toBe(programHelp([...path, '--help'], 80));
      expect(p?.wide, path.join(' ')).toBe(programHelp([...path, '--help'], p?.wideFrom ?? 0));
      expect(p?.wide, path.join(' ')).toBe(programHelp([...path, '--help'], 10_000));
    }
  });
});

describe('the launcher answers help', () => {
  it.each([
    [['--help'], []],
    [['-h'], []],
    [['help'], []],
    [['help', 'deploy'], ['deploy']],
    [['deploy', '--help'], ['deploy']],
    [
      ['config', 'validate', '-h'],
      ['config', 'validate'],
    ],
    [
      ['service', 'new', '--help'],
      ['service', 'new'],
    ],
  ])('platformctl %j prints the full program help of %j', async (args, path) => {
    const r = await runCli(args, { cwd: REPO_ROOT });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(programHelp([...path, '--help'], 80));
  });

  it('leaves what has no page to commander (help for an unknown command is a usage error)', async () => {
    const r = await runCli(['help', 'deplyo'], { cwd: REPO_ROOT });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: platformctl [options] [command]');
  });

  /** `platformctl <args>` on a pseudo-terminal `cols` columns wide (util-linux `script`). */
  function onTerminal(args: string[], cols: number): string {
    const line = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qefc', `stty cols ${cols} rows 50; exec ${line}`, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { ...process.env, TERM: 'xterm', NO_COLOR: '1' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    return r.stdout.replace(/\r\n/g, '\n');
  }

  it('wraps as commander would on a terminal of any width', () => {
    const wideFrom = page(['deploy'])?.wideFrom ?? 0;
    for (const cols of [80, 97, wideFrom + 3])
      expect(onTerminal(['deploy', '--help'], cols), `${cols} columns`).toBe(
        programHelp(['deploy', '--help'], cols),
      );
  });
});
