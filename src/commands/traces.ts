import type { CommandContext } from '../core/context.ts';
import { parseDuration } from '../core/duration.ts';
import { UsageError } from '../core/errors.ts';
import type { Output } from '../core/output.ts';
import { statePaths } from '../core/state-dir.ts';
import {
  findTraces,
  formatMs,
  readSpans,
  summary,
  type Trace,
  type TraceQuery,
  waterfall,
} from '../observability/traces.ts';
import { openProvider, requireLocal } from '../providers/provider.ts';

interface TracesFlags {
  requestId?: string;
  traceId?: string;
  slow?: string;
  service?: string;
  limit?: string;
  env?: string;
}

export async function traces(ctx: CommandContext, _args: string[], opts: TracesFlags) {
  const slowMs = opts.slow === undefined ? undefined : parseDuration(opts.slow);
  if (opts.slow !== undefined && slowMs === undefined)
    throw new UsageError(`invalid --slow "${opts.slow}"`, 'e.g. --slow 200ms');
  const limit = opts.limit === undefined ? undefined : Number(opts.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new UsageError(`invalid --limit "${opts.limit}"`, 'e.g. --limit 10');
  const platform = ctx.loadPlatform();
  const provider = requireLocal(
    await openProvider(platform, opts.env),
    'traces (the local span store)',
    'on Kubernetes, read traces in the tracing backend the collector exports to (OTEL_EXPORTER_OTLP_ENDPOINT)',
  );
  const dir = statePaths(platform.root).traces;
  const q: TraceQuery = {
    ...(opts.traceId ? { traceId: opts.traceId.toLowerCase() } : {}),
    ...(opts.requestId ? { requestId: opts.requestId } : {}),
    ...(opts.service ? { service: opts.service } : {}),
    ...(slowMs !== undefined ? { slowMs } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
  // The logs know which trace a request id belongs to even where a span lacks the attribute.
  const extra: string[] = [];
  if (opts.requestId) {
    for await (const e of provider.logs('all', { requestId: opts.requestId })) {
      const t = e.fields.traceId;
      if (typeof t === 'string' && !extra.includes(t)) extra.push(t);
    }
  }
  const found = findTraces(readSpans(dir), q, extra);
  const single = Boolean(opts.traceId || opts.requestId);
  const filtered = single || Boolean(opts.slow || opts.service);
  if (ctx.json) {
    ctx.out.result(
      single
        ? { traces: found.map((t) => ({ ...summary(t), spans: t.spans_ })) }
        : { traces: found.map(summary) },
      () => '',
    );
    return;
  }
  if (found.length === 0) {
    ctx.out.print(
      `no traces${filtered ? ' match' : ` in ${dir}`}. Spans are written by services started with TRACES_DIR (platformctl up sets it); send a request and retry.`,
    );
    return;
  }
  if (single) {
    ctx.out.print(found.map((t) => renderWaterfall(ctx.out, t)).join('\n\n'));
    return;
  }
  ctx.out.print(
    ctx.out.table(
      ['TRACE', 'STARTED', 'DURATION', 'SPANS', 'ERRORS', 'SERVICES', 'ROOT'],
      found.map((t) => [
        t.traceId,
        new Date(t.startMs).toISOString().slice(11, 23),
        formatMs(t.durationMs),
        t.spans,
        t.errors,
        t.services.join(','),
        t.root,
      ]),
    ),
  );
}

function renderWaterfall(out: Output, t: Trace): string {
  const s = out.style;
  const cells = 40;
  const rows = waterfall(t, cells);
  const labels = rows.map((r) => `${'  '.repeat(r.depth)}${r.span.service} ${r.span.name}`);
  const width = Math.min(60, Math.max(...labels.map((l) => l.length)));
  const lines = [
    `${s.bold(`trace ${t.traceId}`)}  ${formatMs(t.durationMs)}  ${t.spans} spans  ${t.services.join(' → ')}${t.requestIds.length ? `  request ${t.requestIds.join(', ')}` : ''}`,
  ];
  rows.forEach((r, i) => {
    const label = (labels[i] as string).slice(0, width).padEnd(width);
    const bar = `${' '.repeat(r.offset)}${'█'.repeat(r.width)}`.padEnd(cells);
    const failed = r.span.status === 'error';
    const status = failed
      ? s.red(`error${r.span.statusMessage ? `: ${r.span.statusMessage}` : ''}`)
      : s.green('ok');
    lines.push(
      `${label} ${failed ? s.red(bar) : s.cyan(bar)} ${formatMs(r.span.durationMs).padStart(8)} ${status}`,
    );
  });
  return lines.join('\n');
}
