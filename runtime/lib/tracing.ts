/**
 * Distributed tracing with W3C `traceparent`. Propagation is always on: every request gets a
 * trace id (taken from the caller's `traceparent` or new) that appears in logs and is forwarded
 * on outgoing calls. Recording spans is opt-in: only when `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `TRACES_DIR` is set is the OpenTelemetry SDK imported (it costs start-up time and memory), with
 * an OTLP/HTTP exporter and/or a JSON-lines file exporter read by `platformctl traces`; and then
 * only after the service is ready, so it never delays readiness.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { traceFile } from '../contract/state-paths.ts';
import { loadLater } from './load-later.ts';

export interface TracingOptions {
  service: string;
  version: string;
  instance: string;
  otlpEndpoint?: string | undefined;
  tracesDir?: string | undefined;
}

/** A span in progress (a no-op recorder when tracing is disabled; ids are real either way). */
export interface ActiveSpan {
  traceId: string;
  spanId: string;
  /** `traceparent` naming this span as parent: send it on calls made while handling the request. */
  traceparent: string;
  setAttribute(key: string, value: string | number | boolean): void;
  /** Ends the span; `error` marks it failed (HTTP 5xx or an exception). */
  end(error?: boolean | string): void;
}

export interface Tracing {
  /** True when spans are exported. */
  enabled: boolean;
  /** Starts the span of an incoming request, continuing the caller's `traceparent` if valid. */
  startServerSpan(
    name: string,
    traceparent: string | undefined,
    attributes?: Record<string, string | number>,
  ): ActiveSpan;
  /** Starts the span of an outgoing call under `parent` (a traceparent), or a new trace. */
  startClientSpan(
    name: string,
    parent: string | undefined,
    attributes?: Record<string, string | number>,
  ): ActiveSpan;
  /** Loads the exporters shortly (a service calls it once it is ready); spans wait for them until then. */
  warmUp(): void;
  /** Flushes pending spans. */
  shutdown(): Promise<void>;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface ParsedTraceparent {
  traceId: string;
  spanId: string;
  flags: string;
}

/** Parses a W3C traceparent; undefined when malformed or all-zero (per the spec: start a new trace). */
export function parseTraceparent(value: string | undefined): ParsedTraceparent | undefined {
  if (!value) return undefined;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m || m[1] === 'ff' || /^0+$/.test(m[2]!) || /^0+$/.test(m[3]!)) return undefined;
  return { traceId: m[2]!, spanId: m[3]!, flags: m[4]! };
}

export function formatTraceparent(traceId: string, spanId: string, flags = '01'): string {
  return `00-${traceId}-${spanId}-${flags}`;
}

// Ids for every request: drawn from a pooled random buffer (one crypto call per ~170 requests).
const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;
function hex(bytes: number): string {
  if (poolOffset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const out = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return out;
}

function idOnlySpan(parent: string | undefined): ActiveSpan {
  const p = parseTraceparent(parent);
  const traceId = p?.traceId ?? hex(16);
  const spanId = hex(8);
  return {
    traceId,
    spanId,
    traceparent: formatTraceparent(traceId, spanId, p?.flags ?? '01'),
    setAttribute() {},
    end() {},
  };
}

/** Tracing that only propagates ids (no SDK loaded). */
export const propagationOnly: Tracing = {
  enabled: false,
  startServerSpan: (_name, traceparent) => idOnlySpan(traceparent),
  startClientSpan: (_name, parent) => idOnlySpan(parent),
  warmUp: () => {},
  shutdown: async () => {},
};

/** A finished span, as the SDK gets it: recorded by us, exported by the SDK's processors. */
interface FinishedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  startMs: number;
  endMs: number;
  attributes: Record<string, string | number | boolean>;
  error: boolean | string | undefined;
}

/** Spans kept until the SDK is loaded; reaching this loads it at once (and beyond it they are dropped). */
const MAX_PENDING_SPANS = 10_000;
/**
 * How long after readiness the SDK loads: the first requests of a (re)started service are served
 * without its import competing for the CPU (they are what a restart's clients wait for).
 */
const WARM_UP_DELAY_MS = 1000;
const SERVER = 1;
const CLIENT = 2;

/**
 * Sets up tracing for a service; loads the OpenTelemetry SDK only if an exporter is configured,
 * and then a second after the service is ready (`warmUp()`), when spans pile up, or at shutdown:
 * importing the SDK was about a fifth of a traced service's start to ready, which a restart waits
 * for. Ids, times and attributes are recorded here as the request runs and handed to the SDK (same
 * ids, same times) once it is there, so nothing depends on when it arrived.
 */
export async function initTracing(options: TracingOptions): Promise<Tracing> {
  if (!options.otlpEndpoint && !options.tracesDir) return propagationOnly;

  const pending: FinishedSpan[] = [];
  let record: ((span: FinishedSpan) => void) | undefined;
  const sdk = loadLater(() =>
    loadSdk(options).then((pipeline) => {
      record = pipeline.record;
      for (const span of pending.splice(0)) pipeline.record(span);
      return pipeline;
    }),
  );
  const now = () => performance.timeOrigin + performance.now();

  function start(
    kind: number,
    name: string,
    parent: string | undefined,
    attributes: Record<string, string | number> | undefined,
  ): ActiveSpan {
    const p = parseTraceparent(parent);
    // The SDK's default sampler follows the parent: a caller that does not sample, is not sampled.
    const sampled = !p || (Number.parseInt(p.flags, 16) & 1) === 1;
    const traceId = p?.traceId ?? hex(16);
    const spanId = hex(8);
    const attrs: Record<string, string | number | boolean> = { ...attributes };
    const startMs = now();
    let ended = false;
    return {
      traceId,
      spanId,
      traceparent: formatTraceparent(traceId, spanId, sampled ? '01' : '00'),
      setAttribute: (key, value) => {
        attrs[key] = value;
      },
      end: (error) => {
        if (ended || !sampled) return;
        ended = true;
        const span = {
          name,
          kind,
          traceId,
          spanId,
          parentSpanId: p?.spanId,
          startMs,
          endMs: now(),
          attributes: attrs,
          error,
        };
        if (record) return record(span);
        if (pending.length < MAX_PENDING_SPANS) pending.push(span);
        // Spans pile up: load the SDK now. If it cannot load, spans are dropped, not the service.
        else sdk.get().catch(() => {});
      },
    };
  }

  return {
    enabled: true,
    startServerSpan: (name, traceparent, attributes) => start(SERVER, name, traceparent, attributes),
    startClientSpan: (name, parent, attributes) => start(CLIENT, name, parent, attributes),
    warmUp: () => sdk.warmUp(WARM_UP_DELAY_MS),
    shutdown: async () => {
      sdk.cancel();
      if (!sdk.started && pending.length === 0) return;
      await (await sdk.get()).shutdown();
    },
  };
}

interface SdkPipeline {
  record(span: FinishedSpan): void;
  shutdown(): Promise<void>;
}

/** The OpenTelemetry SDK with the configured exporters, fed spans that have already ended. */
async function loadSdk(options: TracingOptions): Promise<SdkPipeline> {
  const api = await import('@opentelemetry/api');
  const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  type SpanProcessor = InstanceType<typeof BatchSpanProcessor>;

  const spanProcessors: SpanProcessor[] = [];
  if (options.otlpEndpoint) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const url = `${options.otlpEndpoint.replace(/\/$/, '')}/v1/traces`;
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url })));
  }
  if (options.tracesDir) {
    spanProcessors.push(
      new BatchSpanProcessor(new FileSpanExporter(traceFile(options.tracesDir, options.service), options)),
    );
  }
  // The SDK takes the span's ids from here: they were handed out (traceparent) when it started.
  let ids = { traceId: '', spanId: '' };
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.service,
      'service.version': options.version,
      'service.instance.id': options.instance,
    }),
    spanProcessors,
    idGenerator: { generateTraceId: () => ids.traceId, generateSpanId: () => ids.spanId },
  });
  const tracer = provider.getTracer(options.service, options.version);
  return {
    record(s) {
      ids = s;
      const parent = s.parentSpanId
        ? api.trace.setSpanContext(api.ROOT_CONTEXT, {
            traceId: s.traceId,
            spanId: s.parentSpanId,
            traceFlags: api.TraceFlags.SAMPLED,
            isRemote: true,
          })
        : api.ROOT_CONTEXT;
      const span = tracer.startSpan(
        s.name,
        { kind: s.kind, attributes: s.attributes, startTime: s.startMs },
        parent,
      );
      if (s.error)
        span.setStatus({
          code: api.SpanStatusCode.ERROR,
          ...(typeof s.error === 'string' ? { message: s.error } : {}),
        });
      span.end(s.endMs);
    },
    shutdown: () => provider.shutdown(),
  };
}

interface ExportableSpan {
  name: string;
  kind: number;
  spanContext(): { traceId: string; spanId: string };
  parentSpanContext?: { spanId: string } | undefined;
  startTime: [number, number];
  duration: [number, number];
  status: { code: number; message?: string };
  attributes: Record<string, unknown>;
}

const KINDS = ['internal', 'server', 'client', 'producer', 'consumer'];

/**
 * Appends finished spans as JSON lines to one file per service. Written by hand because it is a
 * dozen lines and the format is ours: the fields `platformctl traces` reads to assemble a trace.
 */
export class FileSpanExporter {
  private readonly file: string;
  private readonly service: string;
  private ready: Promise<unknown> | undefined;

  constructor(file: string, labels: { service: string }) {
    this.file = file;
    this.service = labels.service;
  }

  export(spans: ExportableSpan[], resultCallback: (result: { code: number; error?: Error }) => void): void {
    const lines = spans.map((s) => {
      const sc = s.spanContext();
      return JSON.stringify({
        traceId: sc.traceId,
        spanId: sc.spanId,
        parentSpanId: s.parentSpanContext?.spanId,
        service: this.service,
        name: s.name,
        kind: KINDS[s.kind] ?? String(s.kind),
        startMs: s.startTime[0] * 1000 + s.startTime[1] / 1e6,
        durationMs: s.duration[0] * 1000 + s.duration[1] / 1e6,
        status: s.status.code === 2 ? 'error' : 'ok',
        ...(s.status.message ? { statusMessage: s.status.message } : {}),
        attributes: s.attributes,
      });
    });
    this.ready ??= mkdir(join(this.file, '..'), { recursive: true });
    this.ready
      .then(() => appendFile(this.file, lines.join('\n') + '\n'))
      .then(
        () => resultCallback({ code: 0 }),
        (err: Error) => resultCallback({ code: 1, error: err }),
      );
  }

  async shutdown(): Promise<void> {}
  async forceFlush(): Promise<void> {}
}
