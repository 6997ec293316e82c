/**
 * The runtime services on the "outgrown one machine" backends: auth, content and analytics as real
 * processes on PostgreSQL + RabbitMQ + an S3-compatible store (s3rver).
 * User flow: signup → login → upload → variant → views → stats. Faults: a RabbitMQ restart while
 * views flow (every view counted exactly once), and the content database's connections killed
 * mid-upload (a clear 503, no orphan blob, and recovery once the database is back).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ServiceProcess, startService } from '../../../runtime/auth/test/helpers/service-process.ts';
import { openBlobs } from '../../../runtime/lib/storage/blobs.ts';
import { sleep } from '../../../src/core/sleep.ts';
import { valueUntil } from '../../helpers/poll.ts';
import {
  createDatabase,
  type PostgresServer,
  postgresSkipReason,
  startPostgres,
} from '../../helpers/postgres.ts';
import { type RabbitServer, rabbitSkipReason, startRabbit } from '../../helpers/rabbitmq.ts';
import { type S3Server, startS3 } from '../../helpers/s3.ts';

const skip = postgresSkipReason() ?? rabbitSkipReason();
if (skip) console.warn(skip);

describe.skipIf(skip)('services on PostgreSQL + RabbitMQ + S3', () => {
  let pgServer: PostgresServer;
  let rabbit: RabbitServer;
  let s3: S3Server;
  let dir: string;
  let auth: ServiceProcess;
  let content: ServiceProcess;
  let analytics: ServiceProcess;
  let image: Buffer;
  let contentId: string;
  let userId: string;
  let blobsUrl: string;

  const as = () => ({ 'x-user-id': userId, 'x-user-role': 'editor' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'backends-flow-'));
    [pgServer, s3] = await Promise.all([startPostgres(), startS3()]);
    rabbit = await startRabbit();
    const db = (name: string) => createDatabase(pgServer, name);
    blobsUrl = s3.url('media');
    const common = { ...s3.env, BUS_URL: `${rabbit.url}?exchange=platform`, LOG_LEVEL: 'info' };
    const started = await Promise.allSettled([
      startService('auth', { ...common, DATA_DIR: join(dir, 'auth'), DATABASE_URL: db('auth') }),
      startService('content', {
        ...common,
        DATA_DIR: join(dir, 'content'),
        DATABASE_URL: db('content'),
        BLOBS_URL: blobsUrl,
      }),
      startService('analytics', {
        ...common,
        DATA_DIR: join(dir, 'analytics'),
        DATABASE_URL: db('analytics'),
        ANALYTICS_PROJECT_DELAY_MS: '20',
      }),
    ]);
    // Keep whatever started so afterAll stops it even when another one failed.
    const [a, c, n] = started.map((r) => (r.status === 'fulfilled' ? r.value : undefined));
    auth = a as ServiceProcess;
    content = c as ServiceProcess;
    analytics = n as ServiceProcess;
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    // Consumers report ready once their queues are bound (earlier events would reach no queue).
    await valueUntil(
      async () => (await fetch(`${analytics.url}/readyz`)).status,
      (s) => s === 200,
      'analytics ready',
    );
    const noise = Buffer.alloc(320 * 240 * 3);
    for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
    image = await sharp(noise, { raw: { width: 320, height: 240, channels: 3 } })
      .png()
      .toBuffer();
  }, 240_000);

  // A fault test that fails says what the services and the database logged: a crash or a wedge
  // under a restart is otherwise invisible in CI, where the run cannot be repeated by hand.
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      const tails = [auth, content, analytics].filter(Boolean).map((s) => s.tail(60));
      console.error(
        [...tails, `--- postgres server log (last 30 lines)\n${pgServer?.logTail(30)}`].join('\n'),
      );
    });
  });

  afterAll(async () => {
    await Promise.all([auth?.stop(), content?.stop(), analytics?.stop()]);
    rabbit?.stop();
    pgServer?.stop();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('signup → login → upload → variant → views → stats', async () => {
    const creds = { email: 'ada@example.com', password: 'correct horse battery staple' };
    const signup = await fetch(`${auth.url}/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(creds),
    });
    expect(signup.status).toBe(201);
    const again = await fetch(`${auth.url}/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(creds),
    });
    expect(again.status).toBe(409);
    const login = await fetch(`${auth.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(creds),
    });
    expect(login.status).toBe(200);
    const tokens = (await login.json()) as { accessToken: string };
    userId = JSON.parse(Buffer.from(tokens.accessToken.split('.')[1] as string, 'base64url').toString()).sub;

    const up = await fetch(`${content.url}/content`, { method: 'POST', headers: as(), body: image });
    expect(up.status).toBe(201);
    contentId = ((await up.json()) as { id: string }).id;
    const variant = await fetch(`${content.url}/content/${contentId}/variant?preset=thumb&format=webp`, {
      headers: as(),
    });
    expect(variant.status).toBe(200);
    expect((await sharp(Buffer.from(await variant.arrayBuffer())).metadata()).width).toBe(200);
    const range = await fetch(`${content.url}/content/${contentId}/raw`, {
      headers: { ...as(), range: 'bytes=0-7' },
    });
    expect(range.status).toBe(206);
    expect(Buffer.from(await range.arrayBuffer()).equals(image.subarray(0, 8))).toBe(true);

    for (let i = 0; i < 5; i++) {
      const r = await fetch(`${content.url}/content/${contentId}/raw`, { headers: as() });
      expect(r.status).toBe(200);
      await r.arrayBuffer();
    }
    // The variant and the range from byte 0 counted as views too: 2 + 5.
    const stats = await valueUntil(
      async () =>
        (await (await fetch(`${analytics.url}/analytics/content/${contentId}/stats`)).json()) as {
          views: number;
          uploads: number;
        },
      (s) => s.views >= 7 && s.uploads === 1,
      'views and the upload in analytics',
    );
    expect(stats).toMatchObject({ views: 7, uploads: 1 });
  }, 60_000);

  it('counts every view exactly once across a RabbitMQ restart', async () => {
    const before = (
      (await (await fetch(`${analytics.url}/analytics/content/${contentId}/stats`)).json()) as {
        views: number;
      }
    ).views;
    let served = 0;
    let viewing = true;
    const viewer = (async () => {
      for (let i = 0; viewing && i < 100_000; i++) {
        const r = await fetch(`${content.url}/content/${contentId}/raw`, { headers: as() }).catch(
          () => undefined,
        );
        if (r?.status === 200) served++;
        await r?.arrayBuffer();
        await sleep(5);
      }
    })();
    await valueUntil(
      async () => served,
      (n) => n > 30,
      'views before the restart',
    );
    await rabbit.restart();
    const mark = served;
    await valueUntil(
      async () => served,
      (n) => n > mark + 30,
      'views after the restart',
    );
    viewing = false;
    await viewer;
    const stats = await valueUntil(
      async () =>
        (await (await fetch(`${analytics.url}/analytics/content/${contentId}/stats`)).json()) as {
          views: number;
        },
      (s) => s.views >= before + served,
      'all views counted',
      3000,
    );
    // Give straggling redeliveries a moment: a duplicate would push the count past the served views.
    await sleep(1500);
    const settled = (await (await fetch(`${analytics.url}/analytics/content/${contentId}/stats`)).json()) as {
      views: number;
    };
    expect(stats.views).toBe(before + served);
    expect(settled.views).toBe(before + served);
  }, 180_000);

  it('serves reads and counts every view across a PostgreSQL restart', async () => {
    const stats = async () =>
      (
        (await (await fetch(`${analytics.url}/analytics/content/${contentId}/stats`)).json()) as {
          views: number;
        }
      ).views;
    const before = await stats();
    let served = 0;
    const failed: number[] = [];
    let viewing = true;
    const viewer = (async () => {
      for (let i = 0; viewing && i < 100_000; i++) {
        // A preset: arbitrary unsigned variant parameters are refused since variants are on a budget.
        const path = i % 2 ? 'raw' : 'variant?preset=thumb&format=webp';
        const r = await fetch(`${content.url}/content/${contentId}/${path}`, { headers: as() }).catch(
          () => undefined,
        );
        if (r?.status === 200) served++;
        else failed.push(r?.status ?? 0);
        await r?.arrayBuffer();
        await sleep(5);
      }
    })();
    await valueUntil(
      async () => served,
      (n) => n > 30,
      'views before the restart',
    );
    await pgServer.restart(2000);
    const mark = served;
    await valueUntil(
      async () => served,
      (n) => n > mark + 30,
      'views after the restart',
    );
    viewing = false;
    await viewer;
    // Reads of a known item never needed the database, and no view of an answered read is lost.
    expect(failed).toEqual([]);
    const counted = await valueUntil(stats, (v) => v >= before + served, 'all views counted', 3000);
    await sleep(1500);
    expect(counted).toBe(before + served);
    expect(await stats()).toBe(before + served);
  }, 180_000);

  it('answers 503 and leaves no orphan blob when the database connection dies mid-upload', async () => {
    const unique = await sharp({
      create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 10, b: 99 } },
    })
      .png()
      .toBuffer();
    // Stream the body slowly; while it is in flight the database refuses new connections and
    // every existing connection to it is terminated.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const body = Readable.from(
      (async function* () {
        yield unique.subarray(0, 32);
        await gate;
        yield unique.subarray(32);
      })(),
    );
    const pending = fetch(`${content.url}/content`, {
      method: 'POST',
      headers: as(),
      body: Readable.toWeb(body) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    await sleep(200);
    pgServer.psql('ALTER DATABASE content ALLOW_CONNECTIONS false');
    pgServer.psql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'content' AND pid <> pg_backend_pid()",
    );
    release();
    const res = await pending;
    const errorBody = (await res.json()) as { code: string; dependency: string };
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(errorBody).toMatchObject({ code: 'DATABASE_UNAVAILABLE', dependency: 'database' });
    // Still routable: raw files and cached variants do not need the database.
    const ready = await fetch(`${content.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', degraded: ['database'] });

    // No blob is left without a row: the store holds exactly the originals of committed items.
    const saved = { ...process.env };
    Object.assign(process.env, s3.env);
    const blobs = await openBlobs(blobsUrl);
    process.env = saved;
    const originals = await blobs.list('originals/');
    pgServer.psql('ALTER DATABASE content ALLOW_CONNECTIONS true');
    const items = pgServer.psql('SELECT count(DISTINCT sha256) FROM content_items', 'content').trim();
    expect(String(originals.length)).toBe(items);

    // The database is back: the same upload now succeeds without restarting the service.
    const retry = await valueUntil(
      async () =>
        (await fetch(`${content.url}/content`, { method: 'POST', headers: as(), body: unique })).status,
      (s) => s === 201,
      'upload after recovery',
    );
    expect(retry).toBe(201);
  }, 60_000);
});
