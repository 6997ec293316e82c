/** Chaos faults the gateway injects: a delay and/or an abort with a status, per service/version/route. */
import { randomUUID } from 'node:crypto';
import type { Fault, FaultRequest } from '../../contract/gateway-admin.ts';

export interface FaultOutcome {
  delayMs: number;
  abort: { status: number; faultId: string } | undefined;
}

export class FaultTable {
  readonly #faults = new Map<string, Fault>();

  add(spec: FaultRequest): Fault {
    const fault: Fault = { ...spec, id: randomUUID(), createdAt: new Date().toISOString() };
    this.#faults.set(fault.id, fault);
    return fault;
  }

  /** Adds a fault created elsewhere (another gateway worker), keeping its id. */
  restore(fault: Fault): void {
    this.#faults.set(fault.id, fault);
  }

  remove(id: string): boolean {
    return this.#faults.delete(id);
  }

  clear(): number {
    const n = this.#faults.size;
    this.#faults.clear();
    return n;
  }

  list(): Fault[] {
    return [...this.#faults.values()];
  }

  get size(): number {
    return this.#faults.size;
  }

  /** What to do to a request for `service`/`version` at `path`; undefined when no fault applies. */
  apply(
    service: string,
    version: string | undefined,
    path: string,
    random = Math.random,
  ): FaultOutcome | undefined {
    if (this.#faults.size === 0) return undefined;
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
