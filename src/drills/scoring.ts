/**
 * Drill times and score. Times come from the timeline only, so the postmortem's durations are
 * exactly the gaps between its entries:
 * - acknowledge: start → `drill ack`
 * - detect: start → the first diagnostic action (a status, logs, top, traces, canary status or
 *   dashboard command run during the drill) or finding noted; acknowledging a page is not
 *   detecting its cause, and a hint is asking for it
 * - mitigate: start → the successful `drill resolve` (the platform was healthy again)
 *
 * Score (0–100): 60 for mitigating within the target, falling linearly to 0 at three times the
 * target; 25 for acknowledging within its target, falling to 0 at five times; 15 for keeping a
 * timeline (at least one note). Hints cost 5, 10 and 20 points (the third nearly gives the answer).
 */
import type { TimelineEntry } from './state.ts';

export interface Times {
  acknowledgeMs?: number;
  detectMs?: number;
  mitigateMs: number;
}

export interface Score {
  total: number;
  grade: 'A' | 'B' | 'C' | 'D' | 'F';
  parts: { mitigation: number; acknowledgement: number; timeline: number; hintPenalty: number };
}

export const HINT_PENALTIES = [5, 10, 20] as const;

export function drillTimes(timeline: TimelineEntry[], resolvedT: number): Times {
  const first = (types: string[]) => timeline.find((e) => types.includes(e.type))?.t;
  return {
    acknowledgeMs: first(['ack']),
    detectMs: first(['diagnose', 'note']),
    mitigateMs: resolvedT,
  };
}

/** 1 up to `target`, then linearly down to 0 at `target * factor`. */
function decay(ms: number | undefined, target: number, factor: number): number {
  if (ms === undefined) return 0;
  if (ms <= target) return 1;
  return Math.max(0, 1 - (ms - target) / (target * (factor - 1)));
}

export function scoreDrill(
  times: Times,
  opts: { hintsTaken: number; notes: number; targets: { acknowledge: number; mitigate: number } },
): Score {
  const mitigation = Math.round(60 * decay(times.mitigateMs, opts.targets.mitigate, 3));
  const acknowledgement = Math.round(25 * decay(times.acknowledgeMs, opts.targets.acknowledge, 5));
  const timeline = opts.notes > 0 ? 15 : 0;
  const hintPenalty = HINT_PENALTIES.slice(0, opts.hintsTaken).reduce((s, p) => s + p, 0);
  const total = Math.max(0, Math.min(100, mitigation + acknowledgement + timeline - hintPenalty));
  const grade = total >= 90 ? 'A' : total >= 75 ? 'B' : total >= 60 ? 'C' : total >= 40 ? 'D' : 'F';
  return { total, grade, parts: { mitigation, acknowledgement, timeline, hintPenalty } };
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
