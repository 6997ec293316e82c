/**
 * The glue between commander and command handlers. Deliberately tiny: it is loaded on every start,
 * so everything else (context, config, audit, the handler) is imported only when a command runs.
 */
import type { CommandContext } from '../core/context.ts';
import type { ExitCode } from '../core/errors.ts';

/** A command handler: flags in, exit code out. Positionals come first, in declaration order. */
export type Handler<O = Record<string, unknown>> = (
  ctx: CommandContext,
  args: string[],
  opts: O,
) => Promise<ExitCode | void>;

export interface ActionMeta {
  /** Mutating commands are recorded in the audit log. */
  mutating?: boolean;
  /** Commands an on-call uses to look at the platform; during a drill they mark "detect". */
  diagnostic?: boolean;
}

/** Returns a commander action that lazily loads `load()` and runs it with a context. */
export function lazyAction<O>(load: () => Promise<Handler<O>>, meta: ActionMeta = {}) {
  return async (...raw: unknown[]): Promise<void> => {
    const { runCommand } = await import('./run-command.ts');
    await runCommand(raw, load as () => Promise<Handler<unknown>>, meta);
  };
}
