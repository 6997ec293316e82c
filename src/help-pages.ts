/**
 * Every command's `--help` text, rendered at build time (scripts/build.ts) from the fully declared
 * program, so the launcher (bin/platformctl) can answer a help request by reading one small JSON
 * file instead of loading the CLI bundle and commander. Help is static per build: it depends only
 * on the declarations and on the terminal width, so each page is kept at commander's default
 * width (80, used whenever stdout is not a terminal) and unwrapped, with the narrowest width at
 * which commander's output is the unwrapped text.
 */
import type { Command } from 'commander';

/** One command's help as commander prints it. */
export interface HelpPage {
  /** At width 80: commander's width when stdout is not a terminal. */
  narrow: string;
  /** With nothing wrapped: what any terminal at least `wideFrom` columns wide gets. */
  wide: string;
  /** The longest line of `wide`; from this width on commander wraps nothing. */
  wideFrom: number;
}

/** The help pages of one top-level verb's file, keyed by the path below the verb ('' = the verb). */
export type HelpFile = Record<string, HelpPage>;

/** File name (without `.json`) of root help; verbs start with a letter, so it names no verb. */
export const ROOT_HELP_FILE = '_root';

/** Names the launcher may turn into a file name and look up: no separators, no dots. */
export const HELP_NAME = /^[a-z][a-z0-9-]*$/;

const UNBOUNDED = 1_000_000;

/** What `<path…> --help` prints at `width` columns, captured from commander itself. */
function render(cmd: Command, width: number): string {
  let out = '';
  cmd.configureOutput({
    writeOut: (s) => {
      out += s;
    },
    getOutHelpWidth: () => width,
  });
  cmd.outputHelp();
  return out;
}

function page(cmd: Command): HelpPage {
  const wide = render(cmd, UNBOUNDED);
  return {
    narrow: render(cmd, 80),
    wide,
    wideFrom: Math.max(...wide.split('\n').map((line) => line.length)),
  };
}

/**
 * The help files of `program` (fully declared): root help under ROOT_HELP_FILE, and one file per
 * top-level verb holding that verb's page and every subcommand's below it.
 */
export function renderHelpPages(program: Command): Record<string, HelpFile> {
  const files: Record<string, HelpFile> = { [ROOT_HELP_FILE]: { '': page(program) } };
  for (const verb of program.commands) {
    if (!HELP_NAME.test(verb.name())) continue;
    const file: HelpFile = {};
    const walk = (cmd: Command, path: string[]): void => {
      file[path.join(' ')] = page(cmd);
      for (const sub of cmd.commands) if (HELP_NAME.test(sub.name())) walk(sub, [...path, sub.name()]);
    };
    walk(verb, []);
    files[verb.name()] = file;
  }
  return files;
}
