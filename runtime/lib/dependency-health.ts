/**
 * Dependency health, kept apart from liveness and readiness (the Kubernetes probe conventions):
 * each backend a service opened (database, bus, blob store) is pinged in the background and on
 * every probe, its state changes are logged once (`dependency down` / `dependency up again`) and
 * exported as `service_dependency_up` and `service_dependency_down_since_seconds`. Readiness asks
 * only whether the *critical* dependencies are up: a service whose reads still work without the
 * bus or the database stays routed, and only the requests that need the missing backend fail.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from './logger.ts';

/** How long one ping may take before the backend counts as unreachable. */
const PING_TIMEOUT_MS = 2000;

export interface DependencyState {
  status: 'up' | 'down';
  /** ISO time of the last change of status (start-up for a dependency that never changed). */
  since: string;
  /** Why it is down (the ping's error message). */
  error?: string;
  /** Readiness fails while a critical dependency is down. */
  critical: boolean;
}

interface Entry {
  ping: () => Promise<void>;
  critical: boolean;
  status: 'up' | 'down';
  since: number;
  error: string | undefined;
}

/** Rejects after `ms` so that a backend that swallows packets cannot hang a probe. */
function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class DependencyHealth {
  readonly #entries = new Map<string, Entry>();
  readonly #log: Logger;
  readonly #up: Gauge<'dependency'>;
  readonly #downSince: Gauge<'dependency'>;
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;

  constructor(registry: Registry, log: Logger) {
    this.#log = log;
    this.#up = new Gauge({
      name: 'service_dependency_up',
      help: '1 while the backend answers its health check, 0 while it is down',
      labelNames: ['dependency'] as const,
      registers: [registry],
    });
    this.#downSince = new Gauge({
      name: 'service_dependency_down_since_seconds',
      help: 'Unix time the backend went down, 0 while it is up',
      labelNames: ['dependency'] as const,
      registers: [registry],
    });
  }

  /** Adds a backend; it counts as up until a ping or a failed request says otherwise. */
  add(name: string, ping: () => Promise<void>, options: { critical?: boolean } = {}): void {
    this.#entries.set(name, {
      ping,
      critical: options.critical ?? false,
      status: 'up',
      since: Date.now(),
      error: undefined,
    });
    this.#up.set({ dependency: name }, 1);
    this.#downSince.set({ dependency: name }, 0);
  }

  /** Records the outcome of a ping or of a request that reached (or missed) the backend. */
  report(name: string, error: unknown): void {
    const e = this.#entries.get(name);
    if (!e) return;
    const status = error === undefined ? 'up' : 'down';
    const message = error === undefined ? undefined : error instanceof Error ? error.message : String(error);
    if (status === e.status) {
      e.error = message;
      return;
    }
    const now = Date.now();
    if (status === 'down') {
      this.#log.warn({ dependency: name, error: message, critical: e.critical }, 'dependency down');
    } else {
      this.#log.info({ dependency: name, downForMs: now - e.since }, 'dependency up again');
    }
    e.status = status;
    e.since = now;
    e.error = message;
    this.#up.set({ dependency: name }, status === 'up' ? 1 : 0);
    this.#downSince.set({ dependency: name }, status === 'up' ? 0 : now / 1000);
  }

  /** Pings every backend once (concurrent callers share one round). */
  check(): Promise<void> {
    this.#checking ??= Promise.all(
      [...this.#entries].map(async ([name, e]) => {
        try {
          await withTimeout(e.ping(), PING_TIMEOUT_MS);
          this.report(name, undefined);
        } catch (err) {
          this.report(name, err);
        }
      }),
    ).then(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /** Pings in the background so that outages are logged and exported even when nobody probes. */
  start(intervalMs: number): void {
    this.#timer ??= setInterval(() => void this.check(), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Every backend's state, for `/health/dependencies` and `/readyz`. */
  snapshot(): Record<string, DependencyState> {
    const out: Record<string, DependencyState> = {};
    for (const [name, e] of this.#entries) {
      out[name] = {
        status: e.status,
        since: new Date(e.since).toISOString(),
        ...(e.error ? { error: e.error } : {}),
        critical: e.critical,
      };
    }
    return out;
  }

  /** The critical backends that are down (readiness fails while this is not empty). */
  criticalDown(): string[] {
    return [...this.#entries].filter(([, e]) => e.critical && e.status === 'down').map(([name]) => name);
  }
}
