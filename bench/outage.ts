/**
 * bench:outage — what clients see while a backend is down. Content and analytics run as real
 * processes on a private PostgreSQL + RabbitMQ, behind the real gateway; a routing loop does what
 * the local supervisor does (routes only instances whose /readyz answers 200, polled every second).
 * Steady load through the gateway: event ingest (POST /analytics/events, one new event id each)
 * and reads (GET /content/:id/raw, each a view). Then RabbitMQ is stopped for OUTAGE_S seconds
 * (default 10), and later PostgreSQL. Reported per phase and route: seconds with at least one
 * client-visible error, errors, 503s without Retry-After, and at the end the events acknowledged
 * (202 ingests + 200 reads) against the events analytics counted.
 *
 *   npm run bench:outage
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { type ServiceProcess, startService } from '../runtime/auth/test/helpers/service-process.ts';
import { createDatabase, startPostgres } from '../test/helpers/postgres.ts';
import { startRabbit } from '../test/helpers/rabbitmq.ts';
import { benchSigner, serveJwks } from './bench-token.ts';
import { printTable, writeResult } from './harness.ts';

const OUTAGE_MS = Number(process.env.OUTAGE_S ?? 10) * 1000;
const STEADY_MS = 10_000;
const RATE_PER_ROUTE = 50;
const ADMIN = 'bench-admin-token';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const load = () => loadavg()[0]!.toFixed(2);

type Route = 'ingest' | 'read';
interface Sample {
  at: number;
  route: Route;
  status: number;
  retryAfter: boolean;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-outage-'));
const [pg, rabbit] = await Promise.all([startPostgres(), startRabbit()]);
const procs: ServiceProcess[] = [];
try {
  const common = { BUS_URL: `${rabbit.url}?exchange=platform`, LOG_LEVEL: 'info' };
  const content = await startService('content', {
    ...common,
    DATA_DIR: join(dir, 'content'),
    DATABASE_URL: createDatabase(pg, 'content'),
  });
  procs.push(content);
  const analytics = await startService('analytics', {
    ...common,
    DATA_DIR: join(dir, 'analytics'),
    DATABASE_URL: createDatabase(pg, 'analytics'),
    ANALYTICS_PROJECT_DELAY_MS: '50',
  });
  procs.push(analytics);
  const instances = { content: content.url, analytics: analytics.url };
  const config = join(dir, 'gateway.json');
  writeFileSync(
    config,
    JSON.stringify({
      routes: [
        { prefix: '/content', service: 'content', auth: 'none' },
        { prefix: '/analytics', service: 'analytics', auth: 'required' },
      ],
      services: { content: { instances: [] }, analytics: { instances: [] } },
    }),
  );
  // Posting events needs an identity, which the gateway sets from a verified token: a signing key
  // served as JWKS from this process, and one token for the load.
  const signer = await benchSigner('bench');
  const token = await signer.token('bench-user', { role: 'editor' });
  const jwksServer = await serveJwks(signer.jwks);
  const gateway = await startService('gateway', {
    AUTH_JWKS_URL: jwksServer.url,
    GATEWAY_CONFIG: config,
    ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: 'info',
  });
  procs.push(gateway);

  // The supervisor's job: route an instance while its /readyz says 200.
  let routing = true;
  const routed: Record<string, boolean> = {};
  const router = (async () => {
    while (routing) {
      for (const [service, url] of Object.entries(instances)) {
        const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })
          .then((r) => r.ok)
          .catch(() => false);
        if (routed[service] === ready) continue;
        routed[service] = ready;
        await fetch(`${gateway.url}/admin/services/${service}/instances`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ instances: ready ? [{ id: `${service}-1`, url }] : [] }),
        }).catch(() => {});
      }
      await sleep(1000);
    }
  })();
  while (!routed.content || !routed.analytics) await sleep(100);

  const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#3a7' } })
    .png()
    .toBuffer();
  const up = await fetch(`${content.url}/content`, {
    method: 'POST',
    headers: { 'x-user-id': 'bench', 'x-user-role': 'editor' },
    body: image,
  });
  const contentId = ((await up.json()) as { id: string }).id;

  const samples: Sample[] = [];
  let acknowledgedIngest = 0;
  let acknowledgedViews = 0;
  let running = true;
  const firstError: Partial<Record<Route, string>> = {};
  const loop = async (route: Route) => {
    const interval = 1000 / RATE_PER_ROUTE;
    for (let next = performance.now(); running; next += interval) {
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      const res =
        route === 'ingest'
          ? await fetch(`${gateway.url}/analytics/events`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
              body: JSON.stringify({
                id: randomUUID(),
                type: 'view',
                contentId: 'bench-ingest',
                ts: Date.now(),
              }),
              signal: AbortSignal.timeout(5000),
            }).catch(() => undefined)
          : await fetch(`${gateway.url}/content/${contentId}/raw`, {
              signal: AbortSignal.timeout(5000),
            }).catch(() => undefined);
      const text = await res?.text().catch(() => '');
      if (res && res.status >= 400 && !firstError[route])
        firstError[route] = `${res.status} ${text?.slice(0, 300)}`;
      const status = res?.status ?? 0;
      if (route === 'ingest' && status === 202) acknowledgedIngest++;
      if (route === 'read' && status === 200) acknowledgedViews++;
      samples.push({ at: Date.now(), route, status, retryAfter: res?.headers.has('retry-after') ?? false });
    }
  };
  const loops = [loop('ingest'), loop('read')];

  const phases: { name: string; from: number; to: number; load: string }[] = [];
  const phase = async (name: string, run: () => Promise<void>) => {
    const from = Date.now();
    await run();
    phases.push({ name, from, to: Date.now(), load: load() });
  };
  await phase('steady', () => sleep(STEADY_MS));
  await phase(`broker stop ${OUTAGE_MS / 1000}s (+ recovery 10s)`, async () => {
    await rabbit.outage(OUTAGE_MS);
    await sleep(STEADY_MS);
  });
  await phase(`database stop ${OUTAGE_MS / 1000}s (+ recovery 10s)`, async () => {
    await pg.restart(OUTAGE_MS);
    await sleep(STEADY_MS);
  });
  running = false;
  await Promise.all(loops);
  routing = false;
  await router;
  jwksServer.close();

  // Every acknowledged event must be counted: ingests directly, reads as content.viewed events.
  const counted = async () => {
    const ingest = (await (await fetch(`${analytics.url}/analytics/content/bench-ingest/stats`)).json()) as {
      views: number;
    };
    const views = (await (await fetch(`${analytics.url}/analytics/content/${contentId}/stats`)).json()) as {
      views: number;
    };
    return { ingest: ingest.views, views: views.views };
  };
  let final = await counted();
  for (let i = 0; i < 120 && (final.ingest < acknowledgedIngest || final.views < acknowledgedViews); i++) {
    await sleep(500);
    final = await counted();
  }

  const rows = phases.flatMap((p) =>
    (['ingest', 'read'] as const).map((route) => {
      const mine = samples.filter((s) => s.route === route && s.at >= p.from && s.at < p.to);
      const bad = mine.filter((s) => s.status !== (route === 'ingest' ? 202 : 200));
      const seconds = new Set(bad.map((s) => Math.floor(s.at / 1000))).size;
      return {
        phase: p.name,
        route: route === 'ingest' ? 'POST /analytics/events' : 'GET /content/:id/raw',
        requests: mine.length,
        errors: bad.length,
        errorSeconds: seconds,
        '503 without Retry-After': bad.filter((s) => s.status === 503 && !s.retryAfter).length,
        statuses: [...new Set(bad.map((s) => s.status))].join(' ') || '-',
        load1: p.load,
      };
    }),
  );
  console.log('client-visible errors per phase and route');
  const columns = [
    'phase',
    'route',
    'requests',
    'errors',
    'statuses',
    'errorSeconds',
    '503 without Retry-After',
    'load1',
  ] as const;
  printTable(
    [...columns],
    rows.map((r) => columns.map((c) => r[c])),
  );
  const totals = {
    ingestAcknowledged: acknowledgedIngest,
    ingestCounted: final.ingest,
    readsAcknowledged: acknowledgedViews,
    viewsCounted: final.views,
  };
  console.log(totals);
  if (Object.keys(firstError).length > 0) console.log('first error per route:', firstError);
  writeResult('outage', { outageMs: OUTAGE_MS, ratePerRoute: RATE_PER_ROUTE, rows, totals });
} finally {
  await Promise.all(procs.map((p) => p.stop()));
  rabbit.stop();
  pg.stop();
  rmSync(dir, { recursive: true, force: true });
}
