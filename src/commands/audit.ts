import { readAudit, verifyAudit } from '../core/audit.ts';
import { auditKey } from '../core/audit-key.ts';
import type { CommandContext } from '../core/context.ts';
import { PlatformError, UsageError } from '../core/errors.ts';
import { statePaths } from '../core/state-dir.ts';

export async function verify(ctx: CommandContext) {
  const root = ctx.loadPlatform().root;
  const file = statePaths(root).audit;
  const v = verifyAudit(file, auditKey(root, process.env, { create: false }));
  if (!v.ok) {
    throw new PlatformError('AUDIT_TAMPERED', `${file}:${v.badLine}: ${v.reason}`, {
      hint: `the log was modified at or before line ${v.badLine}; restore it from backup and investigate`,
      details: { file, ...v },
    });
  }
  ctx.out.result({ file, ...v }, () =>
    v.anchored
      ? `audit log intact: ${v.records} records in ${file}, up to its anchor`
      : `audit log intact: ${v.records} records in ${file} (not anchored yet: the next mutating command anchors it)`,
  );
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

interface EventsOptions {
  type?: string;
  since?: string;
  service?: string;
}

/** `audit events`: the security events of the local platform, JSON lines with --json. */
export async function events(ctx: CommandContext, _args: string[], opts: EventsOptions) {
  const { collectEvents } = await import('../observability/audit-events.ts');
  const { parseDuration } = await import('../core/duration.ts');
  let sinceMs: number | undefined;
  if (opts.since !== undefined) {
    const d = parseDuration(opts.since);
    const t = Date.parse(opts.since);
    if (d !== undefined) sinceMs = d;
    else if (!Number.isNaN(t)) sinceMs = Date.now() - t;
    else throw new UsageError(`invalid --since "${opts.since}"`, 'use a duration (15m) or an ISO time');
  }
  const found = collectEvents(ctx.loadPlatform().root, {
    ...(opts.type ? { type: opts.type } : {}),
    ...(opts.service ? { service: opts.service } : {}),
    ...(sinceMs !== undefined ? { sinceMs } : {}),
  });
  if (ctx.json) {
    for (const e of found) ctx.out.jsonLine(e);
    return;
  }
  ctx.out.print(
    ctx.out.table(
      ['TIME', 'SERVICE', 'ACTION', 'OUTCOME', 'USER', 'SOURCE', 'DETAIL'],
      found.map((e) => [
        e['@timestamp'],
        e.service.name,
        e.event.kind === 'alert' ? ctx.out.style.red(e.event.action) : e.event.action,
        e.event.outcome,
        e.user?.id ?? e.user?.email ?? e.user?.name ?? '',
        e.source?.ip ?? '',
        e.event.reason ?? e.url?.path ?? e.message,
      ]),
    ),
  );
}
