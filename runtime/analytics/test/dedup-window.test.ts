/** The in-memory duplicate window of the ingestor: bounded, oldest-first eviction, O(1) per id. */
import { describe, expect, it } from 'vitest';
import type { Db } from '../../lib/storage/db.ts';
import type { StoredEvent } from '../src/events.ts';
import { Ingestor } from '../src/ingest.ts';

/** Just enough of a Db for appends: counts rows, or fails when told to. */
function fakeLog(fail = { now: false }): Db {
  let seq = 0;
  return {
    runMany: async (_sql: string, rows: unknown[][]) => {
      if (fail.now) throw new Error('disk full');
      seq += rows.length;
      return { changes: rows.length, lastInsertRowid: seq };
    },
  } as unknown as Db;
}

const ev = (id: string): StoredEvent => [id, 'view', 'c1', null, Date.now()];

describe('duplicate window', () => {
  it('rejects ids it holds and forgets the oldest once full', async () => {
    const ingestor = new Ingestor(fakeLog(), { dedupCapacity: 3 });
    expect(await ingestor.ingest(['a', 'b', 'c'].map(ev))).toEqual({ accepted: 3, duplicates: 0 });
    expect(await ingestor.ingest([ev('a')])).toEqual({ accepted: 0, duplicates: 1 });
    expect(await ingestor.ingest([ev('d')])).toEqual({ accepted: 1, duplicates: 0 });
    // 'a' was the oldest of a, b, c, d: it fell out of the 3-id window; 'b', 'c', 'd' did not.
    expect(await ingestor.ingest([ev('a')])).toEqual({ accepted: 1, duplicates: 0 });
    expect(await ingestor.ingest(['c', 'd'].map(ev))).toEqual({ accepted: 0, duplicates: 2 });
  });

  it('forgets the ids of a failed write so a retry is accepted', async () => {
    const fail = { now: true };
    const ingestor = new Ingestor(fakeLog(fail), { dedupCapacity: 10 });
    await expect(ingestor.ingest([ev('x')])).rejects.toThrow('disk full');
    fail.now = false;
    expect(await ingestor.ingest([ev('x')])).toEqual({ accepted: 1, duplicates: 0 });
  });
});
