import { describe, expect, it } from 'vitest';
import { openDb } from '../../lib/storage/db.ts';
import type { StoredEvent } from '../src/events.ts';
import { EventValidationError, fromBusEvent, parseEventBody } from '../src/events.ts';
import { createHll, hllAdd, hllEstimate, hllFromBytes, hllMerge, hllToBytes } from '../src/hll.ts';
import { Projector } from '../src/projector.ts';
import { contentStats, recommendations } from '../src/queries.ts';
import { logMigrations, migrations } from '../src/schema.ts';

describe('HyperLogLog', () => {
  it('is exact for small sets and within 5 % for 100k distinct values', () => {
    const small = createHll();
    for (let i = 0; i < 50; i++) hllAdd(small, `user-${i % 25}`);
    expect(hllEstimate(small)).toBe(25);
    const big = createHll();
    for (let i = 0; i < 100_000; i++) hllAdd(big, `u${i}`);
    expect(Math.abs(hllEstimate(big) - 100_000) / 100_000).toBeLessThan(0.05);
  });

  it('merges as a union and round-trips through sparse and dense storage', () => {
    const a = createHll();
    const b = createHll();
    for (let i = 0; i < 30; i++) hllAdd(a, `x${i}`);
    for (let i = 20; i < 60; i++) hllAdd(b, `x${i}`);
    expect(hllEstimate(hllMerge(hllFromBytes(hllToBytes(a)), b))).toBe(60);
    expect(hllToBytes(a).length).toBeLessThan(200);
    const dense = createHll();
    for (let i = 0; i < 20_000; i++) hllAdd(dense, `d${i}`);
    expect(hllToBytes(dense).length).toBe(4096);
    expect(hllEstimate(hllFromBytes(hllToBytes(dense)))).toBe(hllEstimate(dense));
  });
});

describe('event validation', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  it('accepts single events and batches, defaulting ts to now', () => {
    expect(parseEventBody({ id: 'a', type: 'view', contentId: 'c' }, now)).toEqual([
      ['a', 'view', 'c', null, now],
    ]);
    expect(
      parseEventBody(
        { events: [{ id: 'b', type: 'view', contentId: 'c', userId: 'u', ts: '2026-01-01T00:00:00Z' }] },
        now,
      ),
    ).toEqual([['b', 'view', 'c', 'u', now]]);
  });

  it('names each problem by index and field', () => {
    try {
      parseEventBody(
        {
          events: [
            { id: 'ok', type: 'view', contentId: 'c' },
            { id: 7, type: 'View', contentId: '' },
          ],
        },
        now,
      );
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EventValidationError);
      expect((err as EventValidationError).problems.map((p) => `${p.index}.${p.field}`)).toEqual([
        '1.id',
        '1.type',
        '1.contentId',
      ]);
    }
  });

  it('keeps an ISO country code for the lake and refuses anything else', () => {
    expect(parseEventBody({ id: 'a', type: 'view', contentId: 'c', country: 'DE' }, now)).toEqual([
      ['a', 'view', 'c', null, now, 'DE'],
    ]);
    for (const country of ['de', 'DEU', 7, '']) {
      expect(() => parseEventBody({ id: 'a', type: 'view', contentId: 'c', country }, now)).toThrow(
        EventValidationError,
      );
    }
  });

  it('maps content bus events, treating "anonymous" as no user', () => {
    expect(
      fromBusEvent('content.viewed', { id: 'e', contentId: 'c', userId: 'anonymous', ts: now }, now),
    ).toEqual(['e', 'view', 'c', null, now]);
    expect(fromBusEvent('content.uploaded', { id: 'e2', contentId: 'c', ownerId: 'o' }, now)?.[1]).toBe(
      'upload',
    );
    expect(fromBusEvent('content.deleted', { id: 'e3' }, now)).toBeUndefined();
  });
});

describe('projector', () => {
  it('applies each event once and counts co-views once per user and window', async () => {
    const db = await openDb('sqlite://:memory:');
    const log = await openDb('sqlite://:memory:');
    await db.migrate(migrations);
    await log.migrate(logMigrations);
    const t = Date.now();
    const append = (events: unknown[]) =>
      log.run('INSERT INTO ingest_log (received_at, events) VALUES (?, ?)', [t, JSON.stringify(events)]);
    await append([
      ['1', 'view', 'A', 'u1', t],
      ['2', 'view', 'B', 'u1', t + 1000],
      ['3', 'view', 'A', 'u1', t + 2000], // repeat view: no new co-view
      ['4', 'view', 'A', 'u2', t],
      ['5', 'view', 'B', 'u2', t + 1000],
      ['6', 'view', 'C', 'u2', t + 2 * 3_600_000], // outside the 30 min window
    ]);
    await append([['2', 'view', 'B', 'u1', t + 1000]]); // duplicate id in a later batch
    // Admission hears of what a slice has read before it is applied, and of each slice once.
    const reports: string[] = [];
    const projector = new Projector(db, log, {
      onTake: (position) => reports.push(`take ${position}`),
      onProgress: (position) => reports.push(`applied ${position}`),
    });
    expect(await projector.catchUp()).toBe(true);
    expect(reports).toEqual(['take 2', 'applied 2']);
    expect(projector.stats).toMatchObject({ applied: 6, duplicates: 1 });
    expect(await recommendations(db, 'A', 5)).toEqual([{ contentId: 'B', coViews: 2 }]);
    expect(await recommendations(db, 'C', 5)).toEqual([]);
    const a = await contentStats(db, 'A', 60, t + 2000);
    expect(a).toMatchObject({ views: 3, uniqueViewers: 2 });
    await db.close();
    await log.close();
  });
});

describe('ingest log encoding', () => {
  it('matches JSON.stringify, including ids that need escaping', async () => {
    const { encodeEvents } = await import('../src/ingest.ts');
    const events: StoredEvent[] = [
      ['a"b\\c', 'view', 'c"1', null, 1],
      ['plain', 'upload', 'x', 'u\\1', 2],
      ['with-country', 'view', 'x', null, 3, 'FR'],
    ];
    expect(encodeEvents(events)).toBe(JSON.stringify(events));
    expect(JSON.parse(encodeEvents(events))).toEqual(events);
  });
});

describe('ingest admission', () => {
  it('refuses a lagging append when asked to, and appends it anyway otherwise (the bus path)', async () => {
    const { Ingestor, ProjectionLaggingError } = await import('../src/ingest.ts');
    const log = await openDb('sqlite://:memory:');
    await log.migrate(logMigrations);
    const ingestor = new Ingestor(log, { admit: async () => false });
    const event = (id: string): StoredEvent => [id, 'view', 'item', 'user', Date.now()];
    await expect(ingestor.ingest([event('a')], { refuseWhenLagging: true })).rejects.toBeInstanceOf(
      ProjectionLaggingError,
    );
    // Refused means not remembered either: the retry is accepted, not answered as a duplicate.
    expect(await ingestor.ingest([event('a')])).toEqual({ accepted: 1, duplicates: 0 });
    expect(ingestor.acknowledged).toBe(1);
    expect((await log.query('SELECT seq FROM ingest_log')).length).toBe(1);
    await log.close();
  });
});

describe('service defaults', () => {
  const envOf = async (given: Record<string, string>) => {
    const { analyticsService } = await import('../src/main.ts');
    const schema = analyticsService().env;
    if (!schema) throw new Error('analytics declares no env schema');
    return schema.parse(given);
  };

  it('runs the projector thread at the same priority as ingest unless told otherwise', async () => {
    expect((await envOf({})).ANALYTICS_PROJECTOR_NICE).toBe(0);
    expect((await envOf({ ANALYTICS_PROJECTOR_NICE: '5' })).ANALYTICS_PROJECTOR_NICE).toBe(5);
  });

  it('holds ingest back once the read models trail by more than half a second', async () => {
    expect((await envOf({})).ANALYTICS_MAX_LAG_MS).toBe(500);
  });

  it('caps the events awaiting the projector at 25000 by default, 0 lifting the cap', async () => {
    expect((await envOf({})).ANALYTICS_MAX_BACKLOG_EVENTS).toBe(25_000);
    expect((await envOf({ ANALYTICS_MAX_BACKLOG_EVENTS: '0' })).ANALYTICS_MAX_BACKLOG_EVENTS).toBe(0);
  });
});
