/**
 * When each iteration is meant to start. Arrival-rate executors follow a piecewise-linear rate
 * curve; iteration i is due at the time the cumulative arrivals reach i. Every worker computes the
 * same global schedule and takes every N-th iteration, so the load is spread evenly.
 */
import type { ExecutorSpec } from './scenario.ts';

interface Segment {
  start: number;
  duration: number;
  /** Rates in iterations per millisecond. */
  r0: number;
  r1: number;
  /** Cumulative arrivals at the segment start. */
  n0: number;
}

export interface ArrivalSchedule {
  /** Total length in ms. */
  durationMs: number;
  /** Number of iterations in the whole run. */
  total: number;
  /** Intended start (ms since the run began) of iteration i. */
  timeOf(i: number): number;
  /** Iterations due by time t (ms). */
  dueBy(t: number): number;
}

export function arrivalSchedule(ex: ExecutorSpec): ArrivalSchedule {
  if (ex.type === 'ramping-vus') throw new Error('ramping-vus has no arrival schedule');
  const perMs = (r: number) => r / ex.timeUnit;
  const segments: Segment[] = [];
  if (ex.type === 'constant-arrival-rate') {
    segments.push({ start: 0, duration: ex.duration, r0: perMs(ex.rate), r1: perMs(ex.rate), n0: 0 });
  } else {
    let start = 0;
    let n0 = 0;
    let r0 = perMs(ex.startRate);
    for (const st of ex.stages) {
      const r1 = perMs(st.target);
      segments.push({ start, duration: st.duration, r0, r1, n0 });
      n0 += ((r0 + r1) / 2) * st.duration;
      start += st.duration;
      r0 = r1;
    }
  }
  const last = segments.at(-1) as Segment;
  const durationMs = last.start + last.duration;
  const arrivalsAt = (t: number): number => {
    for (const s of segments) {
      if (t <= s.start + s.duration) {
        const tau = Math.max(0, t - s.start);
        return s.n0 + s.r0 * tau + ((s.r1 - s.r0) / (2 * s.duration || 1)) * tau * tau;
      }
    }
    return last.n0 + ((last.r0 + last.r1) / 2) * last.duration;
  };
  const totalArrivals = arrivalsAt(durationMs);
  // Iteration i is due when the cumulative arrivals reach i (iteration 0 at t=0).
  const total = Math.ceil(totalArrivals - 1e-9);
  return {
    durationMs,
    total,
    dueBy(t) {
      if (t < 0) return 0;
      return Math.min(total, Math.floor(arrivalsAt(Math.min(t, durationMs)) + 1e-9) + 1);
    },
    timeOf(i) {
      for (const s of segments) {
        const n1 = s.n0 + ((s.r0 + s.r1) / 2) * s.duration;
        if (i < n1 || s === last) {
          const x = i - s.n0;
          if (x <= 0) return s.start;
          const a = (s.r1 - s.r0) / (2 * s.duration);
          if (Math.abs(a) < 1e-15) return s.start + (s.r0 > 0 ? x / s.r0 : 0);
          const disc = s.r0 * s.r0 + 4 * a * x;
          return s.start + (-s.r0 + Math.sqrt(Math.max(0, disc))) / (2 * a);
        }
      }
      return durationMs;
    },
  };
}

/** The number of VUs a ramping-vus executor wants at time t (whole run, all workers). */
export function vuTarget(ex: Extract<ExecutorSpec, { type: 'ramping-vus' }>): {
  durationMs: number;
  at(t: number): number;
  max: number;
} {
  if (!ex.stages) {
    const vus = ex.vus ?? 1;
    return { durationMs: ex.duration ?? 0, at: () => vus, max: vus };
  }
  const stages = ex.stages;
  const durationMs = stages.reduce((a, s) => a + s.duration, 0);
  const max = Math.max(ex.startVUs, ...stages.map((s) => s.target));
  return {
    durationMs,
    max,
    at(t) {
      let from = ex.startVUs;
      let start = 0;
      for (const s of stages) {
        if (t < start + s.duration) {
          const f = s.duration > 0 ? (t - start) / s.duration : 1;
          return Math.round(from + (s.target - from) * f);
        }
        start += s.duration;
        from = s.target;
      }
      return from;
    },
  };
}

/** This worker's share of n units (VUs or connections) when split across `count` workers. */
export function share(n: number, index: number, count: number): number {
  return Math.floor(n / count) + (index < n % count ? 1 : 0);
}
