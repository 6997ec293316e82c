/** SIGTERM right after views: the buffered view events are flushed into the outbox, exit code 0. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, expect, it } from 'vitest';
import { startService } from '../../auth/test/helpers/service-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'content-stop-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('flushes buffered views on SIGTERM and exits 0', async () => {
  const svc = await startService('content', { DATA_DIR: join(dir, 'content') });
  const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: '#abc' } })
    .png()
    .toBuffer();
  const up = await fetch(`${svc.url}/content`, {
    method: 'POST',
    headers: { 'x-user-id': 'stopper', 'x-user-role': 'viewer' },
    body: png,
  });
  const { id } = (await up.json()) as { id: string };
  for (let i = 0; i < 3; i++) await (await fetch(`${svc.url}/content/${id}/raw`)).arrayBuffer();
  expect(await svc.stop()).toBe(0);
  const db = new Database(join(dir, 'content', 'content.db'), { readonly: true });
  try {
    const rows = db.prepare(`SELECT payload FROM outbox WHERE topic = 'content.viewed'`).all() as {
      payload: string;
    }[];
    expect(rows.map((r) => JSON.parse(r.payload).contentId)).toEqual([id, id, id]);
  } finally {
    db.close();
  }
});
