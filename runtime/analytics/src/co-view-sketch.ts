/**
 * The co-view partners of one item as a Space-Saving sketch (Metwally, Agrawal, El Abbadi 2005):
 * at most `capacity` counters `[partner, count, error]`. A partner already counted is incremented;
 * a new one takes a free counter, or replaces the smallest counter and inherits its count as its
 * error. Guarantees: every partner whose true count exceeds total/capacity is held; a held count
 * over-estimates the truth by at most its `error` (0 until the sketch first fills up, so small
 * items are exact). This bounds co-view state to `capacity` partners per item instead of one row
 * per pair of items ever co-viewed, which grew quadratically.
 *
 * Stored as JSON text (one row per item): small, portable between SQLite and PostgreSQL, and
 * readable when debugging.
 */

/** `[partner content id, count, error]`. */
export type Counter = [partner: string, count: number, error: number];

/** Counters per item by default: well above the largest `k` the API serves (100). */
export const CO_VIEW_CAPACITY = 128;

export function decodeSketch(text: string | null | undefined): Counter[] {
  if (!text) return [];
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? (parsed as Counter[]) : [];
}

export function encodeSketch(counters: readonly Counter[]): string {
  return JSON.stringify(counters);
}

/**
 * Adds `increments` (partner → co-views gained) to the counters, in place. Larger increments are
 * applied first, so a partner that is heavy in this batch does not evict one that is heavy
 * overall only to be evicted back.
 */
export function addToSketch(
  counters: Counter[],
  increments: ReadonlyMap<string, number>,
  capacity = CO_VIEW_CAPACITY,
): void {
  const at = new Map<string, number>();
  for (let i = 0; i < counters.length; i++) at.set(counters[i]![0], i);
  const ordered = [...increments].sort((x, y) => y[1] - x[1]);
  for (const [partner, n] of ordered) {
    const i = at.get(partner);
    if (i !== undefined) {
      counters[i]![1] += n;
    } else if (counters.length < capacity) {
      at.set(partner, counters.length);
      counters.push([partner, n, 0]);
    } else {
      let min = 0;
      for (let j = 1; j < counters.length; j++) if (counters[j]![1] < counters[min]![1]) min = j;
      const evicted = counters[min]!;
      at.delete(evicted[0]);
      at.set(partner, min);
      counters[min] = [partner, evicted[1] + n, evicted[1]];
    }
  }
}

/** The `k` partners with the highest counts (ties by partner id, for stable answers). */
export function topOfSketch(counters: readonly Counter[], k: number): Counter[] {
  return [...counters].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).slice(0, k);
}
