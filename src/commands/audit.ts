import { readAudit, verifyAudit } from '../core/audit.ts';
import type { CommandContext } from '../core/context.ts';
import { ExitCode, PlatformError } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';

export async function verify(ctx: CommandContext) {
  const file = statePaths(ctx.loadPlatform().root).audit;
  const v = verifyAudit(file);
  if (!v.ok) {
    throw new PlatformError('AUDIT_TAMPERED', `${file}:${v.badLine}: ${v.reason}`, {
      exitCode: ExitCode.policyViolation,
      hint: `the log was modified at or before line ${v.badLine}; restore it from backup and investigate`,
      details: { file, ...v },
    });
  }
  ctx.out.result({ file, ...v }, () => `audit log intact: ${v.records} records in ${file}`);
}

interface ListOptions {
  command?: string;
  since?: string;
  failed?: boolean;
}

export async function list(ctx: CommandContext, _args: string[], opts: ListOptions) {
  const records = readAudit(statePaths(ctx.loadPlatform().root).audit).filter(
    (r) =>
      (!opts.command || r.command.startsWith(opts.command)) &&
      (!opts.since || r.ts >= opts.since) &&
      (!opts.failed || r.result === 'error'),
  );
  ctx.out.result(records, () =>
    ctx.out.table(
      ['SEQ', 'TIME', 'ACTOR', 'COMMAND', 'RESULT'],
      records.map((r) => [
        r.seq,
        r.ts,
        r.actor,
        [r.command, ...r.args.slice(r.command.split(' ').length)].join(' '),
        r.result === 'ok' ? 'ok' : `exit ${r.exitCode}`,
      ]),
    ),
  );
}
