/**
 * The glue between commander and command handlers: builds the CommandContext, imports the handler
 * module only when the command runs (so `--help` never loads heavy libraries), maps every error to
 * one rendered message and exit code, and writes the audit record of mutating commands.
 */
import type { Command } from 'commander';
import { appendAudit } from '../core/audit.ts';
import { CommandContext } from '../core/context.ts';
import { type ExitCode, ReportedError, toPlatformError } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';

/** A command handler: flags in, exit code out. Positionals come first, in declaration order. */
export type Handler<O = Record<string, unknown>> = (
  ctx: CommandContext,
  args: string[],
  opts: O,
) => Promise<ExitCode | void>;

export interface ActionMeta {
  /** Mutating commands are recorded in the audit log. */
  mutating?: boolean;
}

/** Returns a commander action that lazily loads `load()` and runs it with a context. */
export function lazyAction<O>(load: () => Promise<Handler<O>>, meta: ActionMeta = {}) {
  return async (...raw: unknown[]): Promise<void> => {
    const command = raw.at(-1) as Command;
    const opts = raw.at(-2) as O;
    const args = raw.slice(0, -2).flatMap((a) => (Array.isArray(a) ? a : a === undefined ? [] : [String(a)]));
    const ctx = new CommandContext(command.optsWithGlobals(), process.argv.slice(2));
    let exitCode: number = 0;
    let errorCode: string | undefined;
    try {
      const handler = await load();
      exitCode = (await handler(ctx, args, opts)) ?? 0;
    } catch (err) {
      const error = toPlatformError(err);
      if (!(error instanceof ReportedError)) ctx.out.error(error);
      exitCode = error.exitCode;
      errorCode = error.code;
    }
    if (meta.mutating) recordAudit(ctx, command, exitCode, errorCode);
    process.exitCode = exitCode;
  };
}

function recordAudit(ctx: CommandContext, command: Command, exitCode: number, errorCode?: string): void {
  const root = ctx.auditRoot ?? tryRoot(ctx);
  if (!root) return;
  try {
    appendAudit(statePaths(root).audit, {
      command: commandPath(command),
      args: ctx.argv,
      result: exitCode === 0 ? 'ok' : 'error',
      exitCode,
      ...(errorCode ? { errorCode } : {}),
    });
  } catch (err) {
    ctx.out.warn(`could not write the audit log: ${(err as Error).message}`);
  }
}

function tryRoot(ctx: CommandContext): string | undefined {
  try {
    return ctx.loadPlatform().root;
  } catch {
    return undefined;
  }
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
