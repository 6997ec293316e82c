/**
 * Durations as people write them in YAML, flags and query strings: `250ms`, `30s`, `5m`, `1h`,
 * `1h30m`. Lives in the runtime kit so services need nothing from the CLI; the CLI re-uses it.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

/** Parses a duration string to milliseconds; returns undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  return total;
}

/** Formats milliseconds compactly: 950ms, 12.5s, 3m20s, 1h5m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return h > 0 ? `${h}h${m}m` : `${m}m${s ? `${s}s` : ''}`;
}
