/**
 * Runs one command: builds the CommandContext, imports and calls the handler, maps every error to
 * one rendered message and exit code, and writes the audit record of mutating commands.
 */
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { CommandContext } from '../core/context.ts';
import { ReportedError, toPlatformError } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';
import type { ActionMeta, Handler } from './action.ts';

/** `raw` is what commander passes to an action: positionals..., own options, command. */
export async function runCommand(
  raw: unknown[],
  load: () => Promise<Handler<unknown>>,
  meta: ActionMeta,
): Promise<void> {
  const command = raw.at(-1) as Command;
  // Handlers see their own options merged over their ancestors' (e.g. `pipeline --repo` for
  // `pipeline run`), so a verb group can declare shared flags once.
  const opts = command.optsWithGlobals();
  const args = raw
    .slice(0, -2)
    .flatMap((a) => (Array.isArray(a) ? a.map(String) : a === undefined ? [] : [String(a)]));
  const ctx = new CommandContext(command.optsWithGlobals(), process.argv.slice(2));
  await ctx.preparePlatform();
  let exitCode: number = 0;
  let errorCode: string | undefined;
  if (meta.diagnostic) await noteDiagnosis(ctx, command);
  try {
    const handler = await load();
    exitCode = (await handler(ctx, args, opts)) ?? 0;
  } catch (err) {
    const error = toPlatformError(err);
    if (!(error instanceof ReportedError)) ctx.out.error(error);
    exitCode = error.exitCode;
    errorCode = error.code;
  }
  if (meta.mutating) await recordAudit(ctx, command, exitCode, errorCode);
  process.exitCode = exitCode;
}

/**
 * Appends the audit record of a mutating command. The audit log and its key (HMAC, derived from the
 * secrets' master key) are imported here, not at start: read-only commands never need them.
 */
async function recordAudit(
  ctx: CommandContext,
  command: Command,
  exitCode: number,
  errorCode?: string,
): Promise<void> {
  const root = ctx.auditRoot ?? tryRoot(ctx);
  if (!root) return;
  try {
    const [{ appendAudit }, { auditKey }] = await Promise.all([
      import('../core/audit.ts'),
      import('../core/audit-key.ts'),
    ]);
    appendAudit(
      statePaths(root).audit,
      {
        command: commandPath(command),
        args: ctx.argv,
        result: exitCode === 0 ? 'ok' : 'error',
        exitCode,
        ...(errorCode ? { errorCode } : {}),
      },
      new Date(),
      auditKey(root, process.env, { create: true }),
    );
  } catch (err) {
    ctx.out.warn(`could not write the audit log: ${(err as Error).message}`);
  }
}

/** During a drill, the on-call's diagnostic commands go on its timeline (they measure "detect"). */
async function noteDiagnosis(ctx: CommandContext, command: Command): Promise<void> {
  const root = tryRoot(ctx);
  // No drill on (nearly always): the drill modules are not loaded, two chunks fewer to start.
  if (!root || !existsSync(statePaths(root).activeDrill)) return;
  try {
    const { recordDiagnosis } = await import('../drills/diagnosis.ts');
    recordDiagnosis(root, `platformctl ${commandPath(command)}`);
  } catch (err) {
    ctx.out.debug(`could not note the diagnosis on the drill timeline: ${(err as Error).message}`);
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
