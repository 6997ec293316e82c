/**
 * bench:analytics-projector — the projector's CPU per applied event, in process, without HTTP or
 * the gateway: what decides whether the read models keep up with ingest. EVENTS (200000) `view`
 * events in batches of 100, drawn as bench:analytics-soak draws them (random UUID ids, 10000
 * items with Zipf-like popularity, 1000000 users, one minute of event times), are appended to a
 * fresh ingest log in SQLite files; then `catchUp` projects them all and the process's CPU time
 * (user + system) is divided by the events applied. ROUNDS (3) rounds.
 *
 * To compare with another version of the projector, point PROJECTOR_ROOT at a checkout of it
 * (e.g. `git archive <commit> runtime | tar -x -C /tmp/old`): its runtime/ is imported instead.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, printTable, writeResult } from './harness.ts';

const EVENTS = Number(process.env.EVENTS ?? 200_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
/** Events per projection slice (the projector's default when unset). */
const SLICE_EVENTS = process.env.SLICE_EVENTS ? Number(process.env.SLICE_EVENTS) : undefined;
const ROOT = process.env.PROJECTOR_ROOT ?? join(import.meta.dirname, '..');

const { openDb } = (await import(
  join(ROOT, 'runtime', 'lib', 'storage', 'db.ts')
)) as typeof import('../runtime/lib/storage/db.ts');
const { Projector } = (await import(
  join(ROOT, 'runtime', 'analytics', 'src', 'projector.ts')
)) as typeof import('../runtime/analytics/src/projector.ts');
const { migrations, logMigrations, READ_MODEL_PAGE_SIZE } = (await import(
  join(ROOT, 'runtime', 'analytics', 'src', 'schema.ts')
)) as typeof import('../runtime/analytics/src/schema.ts');

const pickItem = () => Math.min(9999, Math.floor(10_000 * Math.random() ** 3));

async function round(): Promise<{ cpuUsPerEvent: number; wallS: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-projector-'));
  try {
    // As the service creates it (versions before READ_MODEL_PAGE_SIZE: SQLite's default).
    const db = await openDb(`sqlite://${join(dir, 'read.db')}`, { pageSize: READ_MODEL_PAGE_SIZE });
    const log = await openDb(`sqlite://${join(dir, 'log.db')}`);
    await db.migrate(migrations);
    await log.migrate(logMigrations);
    const start = Date.now();
    const rows: [number, string][] = [];
    for (let b = 0; b < EVENTS / 100; b++) {
      const events = Array.from({ length: 100 }, (_, i) => [
        randomUUID(),
        'view',
        `item-${pickItem()}`,
        `user-${Math.floor(Math.random() * 1_000_000)}`,
        start + Math.floor(((b * 100 + i) / EVENTS) * 60_000),
      ]);
      rows.push([start, JSON.stringify(events)]);
    }
    await log.runMany('INSERT INTO ingest_log (received_at, events) VALUES (?, ?)', rows);
    const projector = new Projector(db, log, SLICE_EVENTS ? { sliceEvents: SLICE_EVENTS } : {});
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    while (!(await projector.catchUp(60_000))) {
      // keep projecting
    }
    const wallS = (performance.now() - t0) / 1000;
    const used = process.cpuUsage(cpu);
    if (projector.stats.applied !== EVENTS)
      throw new Error(`applied ${projector.stats.applied} of ${EVENTS}`);
    await db.close();
    await log.close();
    return { cpuUsPerEvent: (used.user + used.system) / EVENTS, wallS };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const loadBefore = loadavg()[0]!;
const results = [];
for (let i = 0; i < ROUNDS; i++) results.push(await round());
const loadAfter = loadavg()[0]!;
const cpu = median(results.map((r) => r.cpuUsPerEvent));
printTable(
  ['round', 'CPU µs / event', 'wall s'],
  results.map((r, i) => [i + 1, r.cpuUsPerEvent.toFixed(1), r.wallS.toFixed(1)]),
);
const file = writeResult('analytics-projector', {
  root: ROOT,
  events: EVENTS,
  rounds: results,
  medianCpuUsPerEvent: cpu,
  loadAverage: { before: loadBefore, after: loadAfter },
});
console.log(
  `\nmedian ${cpu.toFixed(1)} µs of CPU per event (${Math.round(1e6 / cpu)} events/s per core); load average ${loadBefore.toFixed(1)} -> ${loadAfter.toFixed(1)} — ${file}`,
);
