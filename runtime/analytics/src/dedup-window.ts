/**
 * The ingestor's duplicate window: the last `capacity` accepted event ids, answered from memory.
 *
 * Held as 64-bit fingerprints (two MurmurHash3 seeds) in typed arrays, not as strings in a Map:
 * 2M ids as strings took ~160 MB of heap (and their GC marking time). The fingerprints live once,
 * in a ring in acceptance order (8 bytes per id); the hash table holds only ring slots (4 bytes
 * per table slot, at most half full), so the window is a fixed 16 bytes per id — 32 MB for 2M
 * ids, allocated once, never growing. Two different ids share a fingerprint with probability
 * ~2^-64 per pair, i.e. about 10^-13 for an id against a full 2M window; such an id would be
 * reported as a duplicate. (Beyond the window the projector's `seen` table decides exactly.)
 *
 * Structure: an open-addressing hash table with linear probing (home = low fingerprint half) whose
 * entries point into the ring, so the oldest id is evicted in O(1). Deletion shifts later entries
 * of the probe run back (no tombstones), so the table never degrades.
 */
import { murmur3 } from './hll.ts';

const SEED_HI = 0x2545f491;
const EMPTY = 0;

export class DedupWindow {
  readonly capacity: number;
  private readonly mask: number;
  /** Table: ring slot + 1 of a remembered id; EMPTY marks a free table slot. */
  private readonly table: Uint32Array;
  /** Ring in acceptance order: the fingerprint halves (lo is never 0 for a used slot). */
  private readonly rHi: Uint32Array;
  private readonly rLo: Uint32Array;
  private next = 0;
  private count = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(1, capacity);
    let size = 2;
    while (size < this.capacity * 2) size *= 2;
    this.mask = size - 1;
    this.table = new Uint32Array(size);
    this.rHi = new Uint32Array(this.capacity);
    this.rLo = new Uint32Array(this.capacity);
  }

  /** Ids currently held. */
  get size(): number {
    return this.count;
  }

  /** Bytes held by the window's arrays (fixed at construction). */
  get bytes(): number {
    return this.table.byteLength + this.rHi.byteLength + this.rLo.byteLength;
  }

  has(id: string): boolean {
    return this.find(murmur3(id, SEED_HI), fingerprintLo(id)) !== -1;
  }

  /** Remembers `id` as the newest entry, evicting the oldest when full. */
  add(id: string): void {
    const hi = murmur3(id, SEED_HI);
    const lo = fingerprintLo(id);
    const slot = this.next;
    this.next = (slot + 1) % this.capacity;
    if (this.rLo[slot] !== EMPTY) {
      // Forget the evicted id only if the table still points at this ring slot (a later add of the
      // same id moved it to a newer slot).
      const at = this.findSlot(this.rLo[slot]!, slot);
      if (at !== -1) this.removeAt(at);
    }
    const at = this.find(hi, lo);
    this.rHi[slot] = hi;
    this.rLo[slot] = lo;
    if (at !== -1) {
      this.table[at] = slot + 1;
      return;
    }
    let i = lo & this.mask;
    while (this.table[i] !== EMPTY) i = (i + 1) & this.mask;
    this.table[i] = slot + 1;
    this.count++;
  }

  /** Forgets `id` (its write failed, so a retry must be accepted). */
  delete(id: string): void {
    const at = this.find(murmur3(id, SEED_HI), fingerprintLo(id));
    if (at !== -1) this.removeAt(at);
  }

  /** Table index of the entry with this fingerprint, or -1. */
  private find(hi: number, lo: number): number {
    let i = lo & this.mask;
    for (;;) {
      const e = this.table[i]!;
      if (e === EMPTY) return -1;
      if (this.rLo[e - 1] === lo && this.rHi[e - 1] === hi) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Table index of the entry pointing at ring `slot` (whose low half is `lo`), or -1. */
  private findSlot(lo: number, slot: number): number {
    let i = lo & this.mask;
    for (;;) {
      const e = this.table[i]!;
      if (e === EMPTY) return -1;
      if (e === slot + 1) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Backward-shift deletion for linear probing. */
  private removeAt(hole: number): void {
    this.count--;
    let i = hole;
    for (;;) {
      i = (i + 1) & this.mask;
      const e = this.table[i]!;
      if (e === EMPTY) break;
      const home = this.rLo[e - 1]! & this.mask;
      // Move the entry at i into the hole unless its home lies cyclically in (hole, i].
      const stays = hole <= i ? home > hole && home <= i : home > hole || home <= i;
      if (stays) continue;
      this.table[hole] = e;
      hole = i;
    }
    this.table[hole] = EMPTY;
  }
}

/** The low fingerprint half, never 0 (0 marks a free table slot). */
function fingerprintLo(id: string): number {
  return (murmur3(id) | 1) >>> 0;
}
