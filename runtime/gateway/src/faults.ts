/** Chaos faults the gateway injects: a delay and/or an abort with a status, per service/version/route. */
import { randomUUID } from 'node:crypto';
import type { Fault, FaultRequest } from '../../contract/gateway-admin.ts';

export interface FaultOutcome {
  delayMs: number;
  abort: { status: number; faultId: string } | undefined;
}

/**
 * The faults in force. A fault with a lease (`expiresAt`) lapses by itself: expired faults are
 * dropped the next time the table is read, so no timer is needed and a dead injector's fault
 * stops applying at its expiry.
 */
export class FaultTable {
  readonly #faults = new Map<string, Fault>();
  /** Lease expiry per fault id, epoch ms (parsed once, read on every request). */
  readonly #expiry = new Map<string, number>();

  add(spec: FaultRequest, now = Date.now()): Fault {
    const fault: Fault = { ...spec, id: randomUUID(), createdAt: new Date(now).toISOString() };
    if (spec.ttlMs !== undefined) fault.expiresAt = new Date(now + spec.ttlMs).toISOString();
    this.restore(fault);
    return fault;
  }

  /** Adds a fault created elsewhere (another gateway worker), keeping its id; also renews a lease. */
  restore(fault: Fault): void {
    this.#faults.set(fault.id, fault);
    if (fault.expiresAt) this.#expiry.set(fault.id, Date.parse(fault.expiresAt));
    else this.#expiry.delete(fault.id);
  }

  remove(id: string): boolean {
    this.#expiry.delete(id);
    return this.#faults.delete(id);
  }

  clear(): number {
    const n = this.size;
    this.#faults.clear();
    this.#expiry.clear();
    return n;
  }

  list(now = Date.now()): Fault[] {
    this.#dropExpired(now);
    return [...this.#faults.values()];
  }

  get size(): number {
    this.#dropExpired(Date.now());
    return this.#faults.size;
  }

  #dropExpired(now: number): void {
    if (this.#expiry.size === 0) return;
    for (const [id, at] of this.#expiry) if (at <= now) this.remove(id);
  }

  /** What to do to a request for `service`/`version` at `path`; undefined when no fault applies. */
  apply(
    service: string,
    version: string | undefined,
    path: string,
    random = Math.random,
  ): FaultOutcome | undefined {
    if (this.#faults.size === 0) return undefined;
    this.#dropExpired(Date.now());
    let outcome: FaultOutcome | undefined;
    for (const f of this.#faults.values()) {
      if (f.service !== service) continue;
      if (f.version !== undefined && f.version !== version) continue;
      if (f.route !== undefined && !underPrefix(path, f.route)) continue;
      outcome ??= { delayMs: 0, abort: undefined };
      outcome.delayMs += f.delayMs ?? 0;
      if (!outcome.abort && f.abortPct && random() * 100 < f.abortPct) {
        outcome.abort = { status: f.abortStatus ?? 503, faultId: f.id };
      }
    }
    return outcome;
  }
}

function underPrefix(path: string, prefix: string): boolean {
  const p = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return p === '/' || path === p || (path.startsWith(p) && path.charCodeAt(p.length) === 47);
}
