/**
 * The local span store: the runtime services append finished spans as JSON lines to
 * `.platform/traces/<service>.jsonl` (runtime/lib/tracing.ts, enabled by TRACES_DIR, which the local
 * provider sets). This module reads them back, assembles traces (spans sharing a trace id, nested by
 * parent span id) and lays out a terminal waterfall, so no Jaeger is needed to see where a request
 * spent its time.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { TRACE_FILE_SUFFIX } from '../../runtime/contract/state-paths.ts';
import { scanLines } from './read-lines.ts';

export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string | undefined;
  service: string;
  name: string;
  kind: string;
  startMs: number;
  durationMs: number;
  status: 'ok' | 'error';
  statusMessage?: string;
  attributes: Record<string, unknown>;
}

export interface TraceSummary {
  traceId: string;
  /** The span without a parent in this trace (or the earliest one when the root is missing). */
  root: string;
  rootService: string;
  services: string[];
  spans: number;
  errors: number;
  startMs: number;
  durationMs: number;
  requestIds: string[];
}

export interface Trace extends TraceSummary {
  spans_: SpanRecord[];
}

export interface TraceQuery {
  traceId?: string;
  requestId?: string;
  service?: string;
  /** Only traces at least this long. */
  slowMs?: number;
  limit?: number;
}

/** The most recent bytes read per service file (the store is append-only and can grow). */
const MAX_BYTES_PER_FILE = 32 * 1024 * 1024;

function isSpan(v: unknown): v is SpanRecord {
  const s = v as SpanRecord;
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof s.traceId === 'string' &&
    typeof s.spanId === 'string' &&
    typeof s.startMs === 'number' &&
    typeof s.durationMs === 'number'
  );
}

/** Every readable span under `dir` (malformed lines are skipped). */
export function readSpans(dir: string): SpanRecord[] {
  if (!existsSync(dir)) return [];
  const spans: SpanRecord[] = [];
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(TRACE_FILE_SUFFIX)) continue;
    scanLines(
      join(dir, name),
      (line) => {
        try {
          const v = JSON.parse(line) as unknown;
          if (isSpan(v)) spans.push({ ...v, attributes: v.attributes ?? {}, service: v.service ?? name });
        } catch {
          // garbage: skip it
        }
      },
      { maxBytes: MAX_BYTES_PER_FILE },
    );
  }
  return spans;
}

function requestIdsOf(spans: SpanRecord[]): string[] {
  const ids = new Set<string>();
  for (const s of spans) {
    const id = s.attributes['http.request_id'];
    if (typeof id === 'string') ids.add(id);
  }
  return [...ids];
}

/** Groups spans into traces, most recent first. */
export function assembleTraces(spans: SpanRecord[]): Trace[] {
  const byTrace = new Map<string, SpanRecord[]>();
  for (const s of spans) {
    const list = byTrace.get(s.traceId);
    if (list) list.push(s);
    else byTrace.set(s.traceId, [s]);
  }
  const traces: Trace[] = [];
  for (const [traceId, list] of byTrace) {
    list.sort((a, b) => a.startMs - b.startMs);
    const ids = new Set(list.map((s) => s.spanId));
    const root = list.find((s) => !s.parentSpanId || !ids.has(s.parentSpanId)) ?? list[0]!;
    const start = Math.min(...list.map((s) => s.startMs));
    const end = Math.max(...list.map((s) => s.startMs + s.durationMs));
    traces.push({
      traceId,
      root: root.name,
      rootService: root.service,
      services: [...new Set(list.map((s) => s.service))],
      spans: list.length,
      errors: list.filter((s) => s.status === 'error').length,
      startMs: start,
      durationMs: end - start,
      requestIds: requestIdsOf(list),
      spans_: list,
    });
  }
  return traces.sort((a, b) => b.startMs - a.startMs);
}

/**
 * Traces matching `q`. `extraTraceIds` are trace ids found elsewhere for the request id (the
 * services' logs carry both `reqId` and `traceId`), for spans that lack the request id attribute.
 */
export function findTraces(spans: SpanRecord[], q: TraceQuery, extraTraceIds: string[] = []): Trace[] {
  let traces = assembleTraces(spans);
  if (q.traceId) traces = traces.filter((t) => t.traceId === q.traceId);
  if (q.requestId) {
    const want = q.requestId;
    traces = traces.filter((t) => t.requestIds.includes(want) || extraTraceIds.includes(t.traceId));
  }
  if (q.service) traces = traces.filter((t) => t.services.includes(q.service as string));
  if (q.slowMs !== undefined) {
    const min = q.slowMs;
    traces = traces.filter((t) => t.durationMs >= min).sort((a, b) => b.durationMs - a.durationMs);
  }
  return traces.slice(0, q.limit ?? 20);
}

export function summary(t: Trace): TraceSummary {
  const { spans_: _s, ...rest } = t;
  return rest;
}

export interface WaterfallRow {
  depth: number;
  span: SpanRecord;
  /** Offset from the trace start and length, in bar cells. */
  offset: number;
  width: number;
}

/** Orders a trace's spans depth-first (children by start time) and scales bars to `cells`. */
export function waterfall(t: Trace, cells = 40): WaterfallRow[] {
  const children = new Map<string, SpanRecord[]>();
  const ids = new Set(t.spans_.map((s) => s.spanId));
  const roots: SpanRecord[] = [];
  for (const s of t.spans_) {
    if (s.parentSpanId && ids.has(s.parentSpanId)) {
      const list = children.get(s.parentSpanId);
      if (list) list.push(s);
      else children.set(s.parentSpanId, [s]);
    } else roots.push(s);
  }
  const total = Math.max(t.durationMs, 0.001);
  const rows: WaterfallRow[] = [];
  const seen = new Set<string>();
  const visit = (s: SpanRecord, depth: number) => {
    if (seen.has(s.spanId)) return; // a span naming itself (or a cycle) as parent
    seen.add(s.spanId);
    const offset = Math.min(cells - 1, Math.floor(((s.startMs - t.startMs) / total) * cells));
    const width = Math.max(1, Math.min(cells - offset, Math.round((s.durationMs / total) * cells)));
    rows.push({ depth, span: s, offset, width });
    for (const c of (children.get(s.spanId) ?? []).sort((a, b) => a.startMs - b.startMs)) visit(c, depth + 1);
  };
  for (const r of roots.sort((a, b) => a.startMs - b.startMs)) visit(r, 0);
  // Spans only reachable through a cycle of parents (a broken exporter) still get a row.
  for (const s of t.spans_) if (!seen.has(s.spanId)) visit(s, 0);
  return rows;
}

export function formatMs(ms: number): string {
  if (ms < 1) return `${ms.toFixed(2)}ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 1 : 0)}ms`;
  return `${(ms / 1000).toFixed(2)}s`;
}
