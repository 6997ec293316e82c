/**
 * The data lake end to end: `analytics export` writes Parquet parts typed by
 * runtime/analytics/lake/events.schema.json, a reader nobody here wrote (pyarrow) finds exactly the
 * events of the ingest log in each partition, and `analytics query` answers BI questions over them
 * with DuckDB, from a local lake and from an S3-compatible one.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../../runtime/analytics/src/events.ts';
import { encodeEvents } from '../../../runtime/analytics/src/ingest.ts';
import { REPO_ROOT, runCli } from '../../helpers/cli.ts';
import { type LakeWorkspace, lakeWorkspace } from './lake-workspace.ts';

const DAYS = ['2026-03-02', '2026-03-03', '2026-03-10'];
const at = (day: string, ms = 0) => Date.parse(`${day}T00:00:00Z`) + ms;

/**
 * A small, known history: users u1..u4 in three countries, across two ISO weeks, plus anonymous
 * views without a country. Every figure the tests expect is computed from this list, not typed in.
 */
function history(): { day: string; receivedAt: number; event: StoredEvent }[] {
  const rows: { day: string; receivedAt: number; event: StoredEvent }[] = [];
  let n = 0;
  const add = (day: string, type: string, content: string, user: string | null, country?: string) => {
    const receivedAt = at(day, 3_600_000 + n * 1000);
    const event: StoredEvent = [`ev-${n++}`, type, content, user, receivedAt - 200];
    if (country) event.push(country);
    rows.push({ day, receivedAt, event });
  };
  for (const [user, country] of [
    ['u1', 'DE'],
    ['u2', 'DE'],
    ['u3', 'FR'],
    ['u4', 'US'],
  ] as const)
    add('2026-03-02', 'view', 'c-alpha', user, country);
  add('2026-03-02', 'view', 'c-beta', 'u1', 'DE');
  add('2026-03-02', 'like', 'c-alpha', 'u1', 'DE');
  add('2026-03-03', 'view', 'c-beta', 'u2', 'DE');
  add('2026-03-03', 'view', 'c-beta', 'u3', 'FR');
  add('2026-03-03', 'view', 'c-gamma', null);
  add('2026-03-03', 'view', 'c-gamma', null);
  add('2026-03-10', 'view', 'c-alpha', 'u1', 'DE'); // u1 comes back the next week
  add('2026-03-10', 'view', 'c-delta', 'u5', 'US'); // a new user in the second week
  return rows;
}

/** The Python with pyarrow: the virtual environment .ci/run makes, else the one on PATH. */
const PYTHON = process.env.PLATFORMCTL_PYTHON || 'python3';

function pyarrowMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import pyarrow'], { encoding: 'utf8' });
  return r.status === 0
    ? undefined
    : `pyarrow is not installed for ${PYTHON} (.ci/run installs it from PyPI into ~/.cache/platformctl-python)`;
}

describe('the analytics data lake', () => {
  let lake: LakeWorkspace;
  const rows = history();
  const lakeDir = () => join(lake.dir, '.platform', 'data', 'lake');
  const query = (args: string[], env: Record<string, string> = {}) =>
    runCli(['analytics', 'query', ...args], { cwd: lake.dir, env, timeoutMs: 60_000 });

  beforeAll(async () => {
    lake = await lakeWorkspace(async (log) => {
      await log.runMany(
        'INSERT INTO ingest_log (received_at, events) VALUES (?, ?)',
        rows.map((r) => [r.receivedAt, encodeEvents([r.event])] as const),
      );
    });
  });
  afterAll(() => lake?.dispose());

  it('exports Parquet per day; pyarrow reads exactly the ingest log, typed by the schema file', async () => {
    const empty = await query(['--saved', 'daily-active-users']);
    expect(empty.exitCode).toBe(1);
    expect(empty.stderr).toMatch(/has no events partitions\n.*analytics export/);

    for (const day of DAYS) {
      const r = await runCli(['analytics', 'export', '--date', day, '--json'], { cwd: lake.dir });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        date: day,
        format: 'parquet',
        events: rows.filter((x) => x.day === day).length,
        parts: [`events/dt=${day}/part-00000.parquet`],
      });
    }
    const missing = pyarrowMissing();
    // In CI an independent reader that is missing is a broken set-up, not a reason to skip.
    if (missing && process.env.CI) throw new Error(missing);
    if (missing) {
      console.warn(`skipping the pyarrow check: ${missing}`);
      return;
    }
    // pyarrow: per-partition row counts, ids, and the Arrow schema of the files.
    const script = `
import json, sys, pyarrow.dataset as ds
d = ds.dataset(sys.argv[1], format="parquet", partitioning="hive")
t = d.to_table()
print(json.dumps({
  "schema": {f.name: str(f.type) for f in d.schema},
  "ids": sorted(t.column("id").to_pylist()),
  "perDay": {str(k): v for k, v in __import__("collections").Counter(str(x) for x in t.column("dt").to_pylist()).items()},
  "countries": sorted(set(x for x in t.column("country").to_pylist() if x)),
}))`;
    const out = JSON.parse(
      execFileSync(PYTHON, ['-c', script, join(lakeDir(), 'events')], { encoding: 'utf8' }),
    ) as {
      schema: Record<string, string>;
      ids: string[];
      perDay: Record<string, number>;
      countries: string[];
    };
    expect(out.ids).toEqual(rows.map((r) => r.event[0]).sort());
    expect(out.perDay).toEqual(
      Object.fromEntries(DAYS.map((d) => [d, rows.filter((r) => r.day === d).length])),
    );
    expect(out.countries).toEqual(['DE', 'FR', 'US']);
    const schema = JSON.parse(
      readFileSync(join(REPO_ROOT, 'runtime', 'analytics', 'lake', 'events.schema.json'), 'utf8'),
    ) as { columns: { name: string; type: string }[] };
    const arrow = { string: 'string', timestamp: 'timestamp[us]' } as Record<string, string>;
    for (const c of schema.columns) expect(out.schema[c.name], c.name).toBe(arrow[c.type]);
  });

  it('answers the saved BI questions with the figures the history implies', async () => {
    const dau = await query(['--saved', 'daily-active-users', '--json']);
    expect(dau.exitCode, dau.stderr).toBe(0);
    const expected = DAYS.map((day) => ({
      day,
      active_users: new Set(rows.filter((r) => r.day === day && r.event[3]).map((r) => r.event[3])).size,
      events: rows.filter((r) => r.day === day && r.event[3]).length,
    }));
    expect(JSON.parse(dau.stdout).rows).toEqual(expected);

    const top = JSON.parse((await query(['--saved', 'top-content-by-country', '--json'])).stdout).rows as {
      country: string;
      content_id: string;
      views: number;
    }[];
    const de = top.filter((r) => r.country === 'DE');
    const deViews = (c: string) =>
      rows.filter((r) => r.event[5] === 'DE' && r.event[1] === 'view' && r.event[2] === c).length;
    expect(de[0]).toMatchObject({ content_id: 'c-alpha', views: deViews('c-alpha') });
    expect(top.find((r) => r.country === 'unknown')).toMatchObject({ content_id: 'c-gamma', views: 2 });

    const retention = JSON.parse((await query(['--saved', 'retention-cohorts', '--json'])).stdout).rows as {
      cohort_week: string;
      weeks_later: number;
      users: number;
    }[];
    // Week of 2026-03-02: u1..u4 start, u1 returns a week later; week of 2026-03-09: u5 starts.
    expect(retention.map((r) => [r.cohort_week, r.weeks_later, r.users])).toEqual([
      ['2026-03-02', 0, 4],
      ['2026-03-02', 1, 1],
      ['2026-03-09', 0, 1],
    ]);
  });

  it('ad-hoc SQL as a table, CSV and JSON; bad SQL and writes are refused', async () => {
    const sql = 'SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY type';
    const csv = await query([sql, '--csv']);
    expect(csv.exitCode, csv.stderr).toBe(0);
    const types = [...new Set(rows.map((r) => r.event[1]))].sort();
    expect(csv.stdout).toBe(
      `type,n\r\n${types.map((t) => `${t},${rows.filter((r) => r.event[1] === t).length}`).join('\r\n')}\r\n`,
    );
    const table = await query([sql]);
    expect(table.stdout).toMatch(/type\s+n\n/);
    const bad = await query(['SELECT nope FROM events']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/the query failed: .*nope.*\n.*columns id, type, content_id/);
    const target = join(lake.dir, 'stolen.csv');
    const write = await query([`COPY (SELECT * FROM events) TO '${target}'`]);
    expect(write.exitCode).toBe(2);
    expect(existsSync(target)).toBe(false);
    const unknown = await query(['--saved', 'nope']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/daily-active-users/);
  });

  it('exports to and queries from an S3-compatible lake', async () => {
    const env = { ...lake.s3.env, ANALYTICS_EXPORT_URL: lake.s3.url('lake') } as Record<string, string>;
    for (const day of DAYS) {
      const r = await runCli(['analytics', 'export', '--date', day], { cwd: lake.dir, env });
      expect(r.exitCode, r.stderr).toBe(0);
    }
    const r = await query(['SELECT count(*) AS n, count(DISTINCT dt) AS days FROM events', '--json'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).rows).toEqual([{ n: rows.length, days: DAYS.length }]);
  });
});
