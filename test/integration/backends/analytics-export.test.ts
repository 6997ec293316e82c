/**
 * Data-lake export of analytics events as gzip JSON lines (`--format jsonl`): `platformctl
 * analytics export --date` writes them under events/dt=<date>/ (only events received that day), is
 * idempotent, and works the same against an S3-compatible store. Parquet and the SQL queries over
 * it are in analytics-lake.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportDay } from '../../../runtime/analytics/src/export.ts';
import { encodeEvents } from '../../../runtime/analytics/src/ingest.ts';
import { openBlobs } from '../../../runtime/lib/storage/blobs.ts';
import { type Db, openDb } from '../../../runtime/lib/storage/db.ts';
import { runCli } from '../../helpers/cli.ts';
import { ingestLogUrl, type LakeWorkspace, lakeWorkspace } from './lake-workspace.ts';

const DAY = Date.parse('2026-03-14T00:00:00Z');

async function seed(log: Db): Promise<void> {
  const batch = (n: number, at: number, from: number) =>
    [
      at,
      encodeEvents(
        Array.from({ length: n }, (_, i) => [`e${from + i}`, 'view', 'c1', i % 2 ? null : 'u"1', at - 5]),
      ),
    ] as const;
  await log.runMany('INSERT INTO ingest_log (received_at, events) VALUES (?, ?)', [
    batch(2, DAY - 1, 0), // the day before
    batch(3, DAY + 1000, 100),
    batch(4, DAY + 86_399_999, 200),
    batch(1, DAY + 86_400_000, 300), // the day after
  ]);
}

function lines(gz: Buffer): Record<string, unknown>[] {
  return gunzipSync(gz)
    .toString('utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('analytics export', () => {
  let lake: LakeWorkspace;
  beforeAll(async () => {
    lake = await lakeWorkspace(seed);
  });
  afterAll(() => lake?.dispose());

  it('writes the day’s events as gzip JSON lines in a dt= partition, idempotently', async () => {
    const run = () =>
      runCli(['analytics', 'export', '--date', '2026-03-14', '--format', 'jsonl', '--json'], {
        cwd: lake.dir,
      });
    const first = await run();
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ date: '2026-03-14', events: 7 });
    const dir = join(lake.dir, '.platform', 'data', 'lake', 'events', 'dt=2026-03-14');
    expect(readdirSync(dir).sort()).toEqual(['_SUCCESS', 'part-00000.jsonl.gz']);
    const rows = lines(readFileSync(join(dir, 'part-00000.jsonl.gz')));
    expect(rows.map((r) => r.id)).toEqual(['e100', 'e101', 'e102', 'e200', 'e201', 'e202', 'e203']);
    expect(rows[0]).toEqual({
      id: 'e100',
      type: 'view',
      contentId: 'c1',
      userId: 'u"1',
      country: null,
      ts: DAY + 995,
      receivedAt: DAY + 1000,
    });
    expect(rows[1]?.userId).toBeNull();
    const again = await run();
    expect(JSON.parse(again.stdout)).toMatchObject({ events: 7 });
    expect(readdirSync(dir).sort()).toEqual(['_SUCCESS', 'part-00000.jsonl.gz']);
    const bad = await runCli(['analytics', 'export', '--date', '2026-02-30'], { cwd: lake.dir });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('YYYY-MM-DD');
  });

  it('splits parts and writes to an S3-compatible store', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, lake.s3.env);
    try {
      const blobs = await openBlobs(lake.s3.url('lake'));
      const log = await openDb(ingestLogUrl(lake.dir));
      const result = await exportDay(log, blobs, '2026-03-14', { eventsPerPart: 3, format: 'jsonl' });
      await log.close();
      expect(result.parts).toEqual([
        'events/dt=2026-03-14/part-00000.jsonl.gz',
        'events/dt=2026-03-14/part-00001.jsonl.gz',
        'events/dt=2026-03-14/part-00002.jsonl.gz',
      ]);
      const last = await blobs.get('events/dt=2026-03-14/part-00002.jsonl.gz');
      expect(lines(await buffer(last!.stream)).map((r) => r.id)).toEqual(['e203']);
      expect(await blobs.stat('events/dt=2026-03-14/_SUCCESS')).toBeDefined();
    } finally {
      process.env = saved;
    }
  });
});
