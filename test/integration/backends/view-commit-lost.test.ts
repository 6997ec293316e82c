/**
 * A view batch whose COMMIT went through but whose answer was lost, end to end: content on a real
 * PostgreSQL reached through a proxy that swallows the answer of the COMMIT of the next view
 * batch, analytics consuming the same (embedded) bus as real processes. The content service
 * retries the batch; analytics must still count every view once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startService } from '../../../runtime/auth/test/helpers/service-process.ts';
import { type Db, openDb } from '../../../runtime/lib/storage/db.ts';
import { type PgCuttingProxy, startPgCuttingProxy } from '../../helpers/pg-cutting-proxy.ts';
import { valueUntil } from '../../helpers/poll.ts';
import {
  createDatabase,
  type PostgresServer,
  postgresSkipReason,
  startPostgres,
} from '../../helpers/postgres.ts';

const skip = postgresSkipReason();
if (skip) console.warn(skip);

describe.skipIf(skip)('a view batch whose COMMIT answer was lost', () => {
  let pgServer: PostgresServer;
  let proxy: PgCuttingProxy;
  let dir: string;
  let direct: Db;
  let content: ServiceProcess | undefined;
  let analytics: ServiceProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'view-commit-lost-'));
    pgServer = await startPostgres();
    proxy = await startPgCuttingProxy(pgServer.port);
    const url = createDatabase(pgServer, 'content');
    direct = await openDb(url);
    const bus = { BUS_URL: `embedded://${join(dir, 'bus')}`, LOG_LEVEL: 'info' };
    [content, analytics] = await Promise.all([
      startService('content', {
        ...bus,
        DATA_DIR: join(dir, 'content'),
        DATABASE_URL: url.replace(`:${pgServer.port}/`, `:${proxy.port}/`),
      }),
      startService('analytics', {
        ...bus,
        DATA_DIR: join(dir, 'analytics'),
        ANALYTICS_PROJECT_DELAY_MS: '20',
      }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([content?.stop(), analytics?.stop()]);
    await direct?.close();
    await proxy?.close();
    pgServer?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('is stored once and analytics counts each view once', async ({ onTestFailed }) => {
    onTestFailed(() => console.error([content, analytics].map((s) => s?.tail(40)).join('\n')));
    if (!content || !analytics) throw new Error('services did not start');
    const headers = { 'x-user-id': 'u1', 'x-user-role': 'editor' };
    const image = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#369' } })
      .png()
      .toBuffer();
    const up = await fetch(`${content.url}/content`, { method: 'POST', headers, body: image });
    expect(up.status).toBe(201);
    const id = ((await up.json()) as { id: string }).id;

    proxy.loseNextCommitAnswer(/INSERT INTO outbox/);
    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${content.url}/content/${id}/raw`, { headers });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
    const viewRows = () =>
      direct.query<{ id: string; sent: number }>(
        "SELECT id, CASE WHEN sent_at IS NULL THEN 0 ELSE 1 END AS sent FROM outbox WHERE topic = 'content.viewed'",
      );
    // Everything the content service wrote is relayed: no batch is left to retry.
    await valueUntil(viewRows, (r) => r.length >= 5 && r.every((x) => x.sent === 1), 'views relayed');
    expect(proxy.lostCommits).toBe(1);
    // The content service saw the lost answer as a failed write and wrote the batch again.
    expect(content.stdout()).toContain('"msg":"buffered views stored"');
    const stats = async () =>
      (await (await fetch(`${analytics?.url}/analytics/content/${id}/stats`)).json()) as { views: number };
    // One more view after the batch was retried: analytics consumes the bus in order, so once it
    // counts this one it has seen every event relayed before it (a duplicate would be counted).
    const last = await fetch(`${content.url}/content/${id}/raw`, { headers });
    expect(last.status).toBe(200);
    await last.arrayBuffer();
    await valueUntil(viewRows, (r) => r.length >= 6 && r.every((x) => x.sent === 1), 'the last view relayed');
    await valueUntil(stats, (s) => s.views >= 6, 'views in analytics');
    expect((await stats()).views).toBe(6);
    // One outbox row per view: the retry's rows had the same ids and were skipped.
    expect(await viewRows()).toHaveLength(6);
  }, 90_000);
});
