/**
 * Whether a run measured what it set out to: a generator short of CPU, file descriptors or ports
 * starts iterations late, drops them or cannot send them, and then its figures describe the
 * generator, not the server. Past these limits the run is invalid, whatever its thresholds say.
 */
import { readFileSync } from 'node:fs';
import type { Aggregate } from './metrics.ts';

/** The documented limits (docs/guides/load.md, "Run validity"). */
export const VALIDITY_LIMITS = {
  /** Average lateness of iterations against their schedule (open model), ms. */
  maxAvgScheduleLagMs: 25,
  /** Share of scheduled iterations dropped because `maxInFlight` were outstanding. */
  maxDroppedRatio: 0.01,
  /** Share of iterations the generator could not send (EMFILE, EADDRNOTAVAIL...). */
  maxGeneratorErrorRatio: 0.01,
} as const;

export interface RunValidity {
  valid: boolean;
  /** One sentence per limit exceeded; empty when valid. */
  reasons: string[];
  limits: typeof VALIDITY_LIMITS;
}

/** Judges a finished run's measurements against VALIDITY_LIMITS. */
export function judgeValidity(agg: Aggregate, openModel: boolean): RunValidity {
  const reasons: string[] = [];
  const L = VALIDITY_LIMITS;
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
  return `${x * 100}%`;
}
