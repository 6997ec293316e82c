/**
 * Whether a run measured what it set out to: a generator short of CPU, file descriptors or ports
 * starts iterations late, drops them or cannot send them, and then its figures describe the
 * generator, not the server. Past these limits the run is invalid, whatever its thresholds say.
 */
import { readFileSync } from 'node:fs';
import type { Aggregate } from './metrics.ts';

/** The limits a run is judged against. */
export interface ValidityLimits {
  /** Average lateness of iterations against their schedule (open model), ms. */
  maxAvgScheduleLagMs: number;
  /** Share of scheduled iterations dropped because `maxInFlight` were outstanding. */
  maxDroppedRatio: number;
  /** Share of iterations the generator could not send (EMFILE, EADDRNOTAVAIL...). */
  maxGeneratorErrorRatio: number;
}

/**
 * The documented default limits (docs/guides/load.md, "Run validity"); a scenario's `validity:`
 * block may set others, and the summary reports the ones the run was judged against.
 */
export const VALIDITY_LIMITS: Readonly<ValidityLimits> = Object.freeze({
  maxAvgScheduleLagMs: 25,
  maxDroppedRatio: 0.01,
  maxGeneratorErrorRatio: 0.01,
});

export interface RunValidity {
  valid: boolean;
  /** One sentence per limit exceeded; empty when valid. */
  reasons: string[];
  limits: Readonly<ValidityLimits>;
}

/** Judges a finished run's measurements against `limits` (the documented defaults unless given). */
export function judgeValidity(
  agg: Aggregate,
  openModel: boolean,
  limits: Readonly<ValidityLimits> = VALIDITY_LIMITS,
): RunValidity {
  const reasons: string[] = [];
  const L = limits;
  if (openModel && agg.lagCount > 0) {
    const avg = agg.lagSum / agg.lagCount;
    if (avg > L.maxAvgScheduleLagMs) {
      reasons.push(
        `the generator started iterations ${avg.toFixed(1)} ms late on average (limit ${L.maxAvgScheduleLagMs} ms): it was short of CPU`,
      );
    }
  }
  if (agg.iterations > 0 && agg.dropped / agg.iterations > L.maxDroppedRatio) {
    reasons.push(
      `${agg.dropped} of ${agg.iterations} iterations were dropped (limit ${pct(L.maxDroppedRatio)}): the planned load was not applied`,
    );
  }
  const generatorErrors = [...agg.generatorErrors.values()].reduce((a, b) => a + b, 0);
  if (agg.iterations > 0 && generatorErrors / agg.iterations > L.maxGeneratorErrorRatio) {
    const codes = [...agg.generatorErrors].map(([c, n]) => `${c} ${n}`).join(', ');
    reasons.push(
      `the generator could not send ${generatorErrors} requests itself (${codes}; limit ${pct(L.maxGeneratorErrorRatio)}): raise the file-descriptor limit or lower the connections`,
    );
  }
  return { valid: reasons.length === 0, reasons, limits: L };
}

/** The limits that differ from the documented defaults, e.g. `schedule lag 500 ms`; empty when none do. */
export function nonDefaultLimits(limits: Readonly<ValidityLimits>): string[] {
  const D = VALIDITY_LIMITS;
  const said: string[] = [];
  if (limits.maxAvgScheduleLagMs !== D.maxAvgScheduleLagMs) {
    said.push(`schedule lag ${limits.maxAvgScheduleLagMs} ms (default ${D.maxAvgScheduleLagMs} ms)`);
  }
  if (limits.maxDroppedRatio !== D.maxDroppedRatio) {
    said.push(`dropped ${pct(limits.maxDroppedRatio)} (default ${pct(D.maxDroppedRatio)})`);
  }
  if (limits.maxGeneratorErrorRatio !== D.maxGeneratorErrorRatio) {
    said.push(
      `generator errors ${pct(limits.maxGeneratorErrorRatio)} (default ${pct(D.maxGeneratorErrorRatio)})`,
    );
  }
  return said;
}

/**
 * The process's open-file limit (soft, hard) on Linux, or null elsewhere. Node raises the soft
 * limit to the hard one at start-up, so this is what the generator really has; only root can raise
 * the hard limit (`ulimit -Hn`).
 */
export function fileDescriptorLimit(): { soft: number; hard: number } | null {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const m = line && /(\d+|unlimited)\s+(\d+|unlimited)/.exec(line);
    if (!m) return null;
    const n = (s: string | undefined) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
    return { soft: n(m[1]), hard: n(m[2]) };
  } catch {
    return null;
  }
}

function pct(x: number): string {
  return `${Number((x * 100).toFixed(3))}%`;
}
