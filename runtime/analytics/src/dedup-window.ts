/**
 * The ingestor's duplicate window: the last `capacity` accepted event ids, answered from memory.
 *
 * Held as 64-bit fingerprints (two MurmurHash3 seeds) in typed arrays, not as strings in a Map:
 * 2M ids as strings took ~160 MB of heap (and their GC marking time); as fingerprints the window
 * is a fixed 12 bytes per table slot (at most half full) plus 8 bytes per ring slot — 64 MB for
 * 2M ids, allocated once, never growing. Two different ids share a fingerprint with probability
 * ~2^-64 per pair, i.e. about 10^-13 for an id against a full 2M window; such an id would be
 * reported as a duplicate. (Beyond the window the projector's `seen` table decides exactly.)
 *
 * Structure: an open-addressing hash table with linear probing (fingerprint → ring slot) and a
 * ring of fingerprints in acceptance order, so the oldest id is evicted in O(1). Deletion shifts
 * later entries of the probe run back (no tombstones), so the table never degrades.
 */
import { murmur3 } from './hll.ts';

const SEED_HI = 0x2545f491;
const EMPTY = 0;

export class DedupWindow {
  readonly capacity: number;
  private readonly mask: number;
  /** Table: fingerprint halves and the ring slot that remembered them; lo === 0 marks a free slot. */
  private readonly tHi: Uint32Array;
  private readonly tLo: Uint32Array;
  private readonly tSlot: Uint32Array;
  /** Ring in acceptance order. */
  private readonly rHi: Uint32Array;
  private readonly rLo: Uint32Array;
  private next = 0;
  private count = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
    let size = 2;
    while (size < this.capacity * 2) size *= 2;
    this.mask = size - 1;
    this.tHi = new Uint32Array(size);
    this.tLo = new Uint32Array(size);
    this.tSlot = new Uint32Array(size);
    this.rHi = new Uint32Array(this.capacity);
    this.rLo = new Uint32Array(this.capacity);
  }

  /** Ids currently held. */
  get size(): number {
    return this.count;
  }

  has(id: string): boolean {
    const lo = fingerprintLo(id);
    return this.find(murmur3(id, SEED_HI), lo) !== -1;
  }

  /** Remembers `id` as the newest entry, evicting the oldest when full. */
  add(id: string): void {
    const hi = murmur3(id, SEED_HI);
    const lo = fingerprintLo(id);
    const slot = this.next;
    this.next = (slot + 1) % this.capacity;
    const oldLo = this.rLo[slot]!;
    if (oldLo !== EMPTY) {
      // Forget the evicted id only if this ring slot is still where it was remembered last.
      const at = this.find(this.rHi[slot]!, oldLo);
      if (at !== -1 && this.tSlot[at] === slot) this.removeAt(at);
    }
    this.rHi[slot] = hi;
    this.rLo[slot] = lo;
    const at = this.find(hi, lo);
    if (at !== -1) {
      this.tSlot[at] = slot;
      return;
    }
    let i = lo & this.mask;
    while (this.tLo[i] !== EMPTY) i = (i + 1) & this.mask;
    this.tHi[i] = hi;
    this.tLo[i] = lo;
    this.tSlot[i] = slot;
    this.count++;
  }

  /** Forgets `id` (its write failed, so a retry must be accepted). */
  delete(id: string): void {
    const at = this.find(murmur3(id, SEED_HI), fingerprintLo(id));
    if (at !== -1) this.removeAt(at);
  }

  private find(hi: number, lo: number): number {
    let i = lo & this.mask;
    for (;;) {
      const l = this.tLo[i]!;
      if (l === EMPTY) return -1;
      if (l === lo && this.tHi[i] === hi) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Backward-shift deletion for linear probing. */
  private removeAt(hole: number): void {
    this.count--;
    let i = hole;
    for (;;) {
      i = (i + 1) & this.mask;
      const lo = this.tLo[i]!;
      if (lo === EMPTY) break;
      const home = lo & this.mask;
      // Move the entry at i into the hole unless its home lies cyclically in (hole, i].
      const stays = hole <= i ? home > hole && home <= i : home > hole || home <= i;
      if (stays) continue;
      this.tHi[hole] = this.tHi[i]!;
      this.tLo[hole] = lo;
      this.tSlot[hole] = this.tSlot[i]!;
      hole = i;
    }
    this.tLo[hole] = EMPTY;
    this.tHi[hole] = 0;
  }
}

/** The low fingerprint half, never 0 (0 marks a free table slot). */
function fingerprintLo(id: string): number {
  return (murmur3(id) | 1) >>> 0;
}
