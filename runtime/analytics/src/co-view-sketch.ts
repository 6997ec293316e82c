/**
 * The co-view partners of one item as a Space-Saving sketch (Metwally, Agrawal, El Abbadi 2005):
 * at most `capacity` counters `[partner, count, error]`. A partner already counted is incremented;
 * a new one takes a free counter, or replaces the smallest counter and inherits its count as its
 * error. Guarantees: every partner whose true count exceeds total/capacity is held; a held count
 * over-estimates the truth by at most its `error` (0 until the sketch first fills up, so small
 * items are exact). This bounds co-view state to `capacity` partners per item instead of one row
 * per pair of items ever co-viewed, which grew quadratically.
 *
 * Held and stored flat, `[partner, count, error, partner, count, error, …]`: the projector decodes,
 * updates and re-encodes the sketch of nearly every item in every slice, and one array per counter
 * made decoding (and the garbage it left) its largest cost in JavaScript. Stored as JSON text (one
 * row per item): small, portable between SQLite and PostgreSQL, and readable when debugging.
 */

/** `[partner content id, count, error]`. */
export type Counter = [partner: string, count: number, error: number];

/** A sketch's counters, flat: `[partner, count, error, …]`. */
export type Sketch = (string | number)[];

/** Counters per item by default: well above the largest `k` the API serves (100). */
export const CO_VIEW_CAPACITY = 128;

/** A stored sketch; also reads the earlier one-array-per-counter form (`[[partner, count, error], …]`). */
export function decodeSketch(text: string | null | undefined): Sketch {
  if (!text) return [];
  const parsed = JSON.parse(text) as unknown;
  if (!Array.isArray(parsed)) return [];
  return Array.isArray(parsed[0]) ? (parsed as Counter[]).flat() : (parsed as Sketch);
}

export function encodeSketch(sketch: Sketch): string {
  return JSON.stringify(sketch);
}

/** Number of counters held. */
export function sketchSize(sketch: Sketch): number {
  return sketch.length / 3;
}

/** The counters as `[partner, count, error]` triples, in storage order. */
export function countersOf(sketch: Sketch): Counter[] {
  const out: Counter[] = [];
  for (let i = 0; i < sketch.length; i += 3) {
    out.push([sketch[i] as string, sketch[i + 1] as number, sketch[i + 2] as number]);
  }
  return out;
}

/**
 * Adds `increments` (partner → co-views gained) to the counters, in place. Larger increments are
 * applied first, so a partner that is heavy in this batch does not evict one that is heavy
 * overall only to be evicted back.
 */
export function addToSketch(
  sketch: Sketch,
  increments: ReadonlyMap<string, number>,
  capacity = CO_VIEW_CAPACITY,
): void {
  const at = new Map<string, number>();
  for (let i = 0; i < sketch.length; i += 3) at.set(sketch[i] as string, i);
  const ordered = increments.size > 1 ? [...increments].sort((x, y) => y[1] - x[1]) : increments;
  for (const [partner, n] of ordered) {
    const i = at.get(partner);
    if (i !== undefined) {
      (sketch[i + 1] as number) += n;
    } else if (sketch.length < capacity * 3) {
      at.set(partner, sketch.length);
      sketch.push(partner, n, 0);
    } else {
      let min = 0;
      for (let j = 3; j < sketch.length; j += 3) if (sketch[j + 1]! < sketch[min + 1]!) min = j;
      const evicted = sketch[min + 1] as number;
      at.delete(sketch[min] as string);
      at.set(partner, min);
      sketch[min] = partner;
      sketch[min + 1] = evicted + n;
      sketch[min + 2] = evicted;
    }
  }
}

/** The `k` partners with the highest counts (ties by partner id, for stable answers). */
export function topOfSketch(sketch: Sketch, k: number): Counter[] {
  return countersOf(sketch)
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .slice(0, k);
}
