/** Helpers that keep every command's --help rich and uniform. */
import type { Command } from 'commander';

/** Appends an "Examples:" section; each example is [what it does, the command line]. */
export function examples(command: Command, list: [string, string][]): Command {
  const text = list.map(([what, line]) => `  # ${what}\n  $ ${line}`).join('\n\n');
  return command.addHelpText('after', `\nExamples:\n${text}\n`);
}

/**
 * The description of `--env` on commands that drive a running platform: they open the
 * environment's provider, and say so (exit 2) when that provider cannot do what they need.
 */
export const ENV_OPTION =
  'environment of platform.yaml (default: the first local one); its provider runs the command';
