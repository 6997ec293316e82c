import { LOG_LEVELS } from '../../runtime/contract/log-line.ts';
import type { CommandContext } from '../core/context.ts';
import { parseDuration } from '../core/duration.ts';
import { UsageError } from '../core/errors.ts';
import { openProvider } from '../providers/provider.ts';
import { renderLog } from './local-render.ts';

interface LogsFlags {
  follow?: boolean;
  since?: string;
  level?: string;
  requestId?: string;
  traceId?: string;
  instance?: string;
  tail?: string;
  env?: string;
}

export async function logs(ctx: CommandContext, [service]: string[], opts: LogsFlags) {
  const sinceMs = opts.since === undefined ? undefined : parseDuration(opts.since);
  if (opts.since !== undefined && sinceMs === undefined)
    throw new UsageError(`invalid --since "${opts.since}"`, 'e.g. --since 10m');
  if (opts.level && !LOG_LEVELS.includes(opts.level as (typeof LOG_LEVELS)[number])) {
    throw new UsageError(`invalid --level "${opts.level}"`, `use one of: ${LOG_LEVELS.join(', ')}`);
  }
  if (opts.requestId && opts.traceId)
    throw new UsageError('give --request-id or --trace-id, not both', 'a request has one trace: use either');
  const tail = opts.tail === undefined ? undefined : Number(opts.tail);
  if (tail !== undefined && (!Number.isInteger(tail) || tail < 0))
    throw new UsageError(`invalid --tail "${opts.tail}"`, 'e.g. --tail 50');
  const provider = await openProvider(ctx.loadRunningPlatform(), opts.env);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  try {
    for await (const e of provider.logs(service as string, {
      follow: opts.follow,
      sinceMs,
      level: opts.level,
      // The filter matches a line's reqId or traceId (or the id anywhere in it), so a trace id works.
      requestId: opts.requestId ?? opts.traceId,
      instance: opts.instance,
      tail,
      signal: abort.signal,
    })) {
      // Streams are JSON lines under --json (one object per log line, as the service wrote it).
      if (ctx.json) ctx.out.jsonLine({ service: e.service, instance: e.instance, ...e.fields });
      else ctx.out.print(renderLog(ctx.out, e));
    }
  } finally {
    process.off('SIGINT', onSignal);
  }
}
