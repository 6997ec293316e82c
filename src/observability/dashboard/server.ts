/**
 * `platformctl dashboard`: a read-only web page over the local platform, served by node:http on
 * 127.0.0.1. One self-contained page (page.ts: inline CSS, vanilla JS and SVG, no CDN) polls
 * `/api/snapshot` every 2 s; the snapshot is assembled here from the provider's status, the
 * gateway's per-version stats, the rollout state files, the chaos/drill reports and analytics.
 *
 * Access needs the admin token (`.platform/admin-token`): `?token=` once (answered with an HttpOnly,
 * SameSite=Strict session cookie and a redirect that drops the token from the address bar) or
 * `Authorization: Bearer <token>`. The cookie holds an HMAC of the token, not the token itself.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import type { Fault } from '../../../runtime/contract/gateway-admin.ts';
import { activeFaults } from '../../chaos/fault-view.ts';
import type { LoadedPlatform } from '../../core/config/load.ts';
import { statePaths } from '../../core/state-dir.ts';
import type { RolloutState } from '../../delivery/store.ts';
import { adminToken } from '../../providers/local/admin-token.ts';
import { sampleFiles } from '../../providers/local/demo.ts';
import { runningDemoTraffic } from '../../providers/local/demo-traffic.ts';
import { GatewayAdmin } from '../../providers/local/gateway-client.ts';
import { STATS_WINDOW_MS } from '../../providers/local/local-status.ts';
import type { Provider } from '../../providers/provider.ts';
import { PAGE } from './page.ts';

const COOKIE = 'platformctl_dashboard';

export interface DashboardOptions {
  platform: LoadedPlatform;
  /** The environment's provider (from openProvider). */
  provider: Provider;
  /** 0 = any free port. */
  port?: number;
  host?: string;
}

export interface Dashboard {
  url: string;
  /** The URL to open once: carries the token, which the server swaps for a cookie. */
  loginUrl: string;
  server: Server;
  close(): Promise<void>;
}

function sessionValue(token: string): string {
  return createHmac('sha256', token).update('platformctl-dashboard-session').digest('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function authorized(req: IncomingMessage, token: string): boolean {
  const auth = req.headers.authorization;
  if (auth?.toLowerCase().startsWith('bearer ') && safeEqual(auth.slice(7).trim(), token)) return true;
  const c = cookieOf(req, COOKIE);
  return c !== undefined && safeEqual(c, sessionValue(token));
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    // Everything is inline and same-origin; nothing may load from elsewhere.
    'content-security-policy':
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
  });
  res.end(body);
}

/** The newest `n` JSON reports of a directory, parsed, newest first. */
function recentReports(dir: string, n: number): Record<string, unknown>[] {
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ f, m: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.m - a.m)
    .slice(0, n);
  const out: Record<string, unknown>[] = [];
  for (const { f } of files) {
    try {
      out.push({ file: f, ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Record<string, unknown>) });
    } catch {
      // being written: skip this round
    }
  }
  return out;
}

function rollouts(root: string): Partial<RolloutState>[] {
  const dir = join(statePaths(root).dir, 'rollouts');
  if (!existsSync(dir)) return [];
  const out: Partial<RolloutState>[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      const s = JSON.parse(readFileSync(join(dir, f), 'utf8')) as RolloutState;
      out.push({
        service: s.service,
        release: s.release,
        stable: s.stable,
        strategy: s.strategy,
        phase: s.phase,
        steps: s.steps,
        stepIndex: s.stepIndex,
        weight: s.weight,
        startedAt: s.startedAt,
        updatedAt: s.updatedAt,
        ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
        message: s.message,
        ...(s.outcome ? { outcome: s.outcome } : {}),
        analyses: s.analyses.map((a) => ({
          step: a.step,
          startedAt: a.startedAt,
          weight: a.weight,
          measurements: [],
          ...(a.outcome ? { outcome: a.outcome } : {}),
        })),
        events: s.events.slice(-8),
      });
    } catch {
      // a half-written or foreign file: skip
    }
  }
  // Rollouts in progress first (the "current canary"), then the most recently finished.
  const done = (r: Partial<RolloutState>) => (r.phase === 'Promoted' || r.phase === 'RolledBack' ? 1 : 0);
  return out.sort((a, b) => done(a) - done(b) || String(b.updatedAt).localeCompare(String(a.updatedAt)));
}

/** The drill running now (`.platform/drills/active.json`), if any. */
function activeDrill(root: string): Record<string, unknown>[] {
  const file = join(statePaths(root).dir, 'drills', 'active.json');
  try {
    return [{ file: 'active.json', ...(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) }];
  } catch {
    return [];
  }
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(1500) });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.json();
}

/**
 * Analytics straight from a ready analytics instance: the gateway would want a user's JWT, and the
 * dashboard is an operator's view on the same host, already behind the admin token.
 */
async function analytics(baseUrl: string | undefined, contentUrl: string | undefined): Promise<unknown> {
  if (!baseUrl) return { available: false };
  try {
    // More than shown: events for content that does not exist (chaos and load tests post
    // synthetic ids) are set apart, and the lists should still have five real items.
    const [trending, top] = (await Promise.all([
      getJson(`${baseUrl}/analytics/trending?window=1h&k=20`),
      getJson(`${baseUrl}/analytics/trending?window=24h&k=20`),
    ])) as ItemList[];
    const titles = await contentTitles(contentUrl, [...(trending?.items ?? []), ...(top?.items ?? [])]);
    const first = top?.items?.find((i) => titles.get(i.contentId))?.contentId;
    const recommendations = first
      ? ((await getJson(
          `${baseUrl}/analytics/content/${encodeURIComponent(first)}/recommendations?k=10`,
        )) as ItemList)
      : undefined;
    for (const i of recommendations?.items ?? [])
      if (!titles.has(i.contentId)) titles.set(i.contentId, undefined);
    await fillTitles(contentUrl, titles);
    return {
      available: true,
      trending: labelled(trending, titles),
      top: labelled(top, titles),
      topItem: first ? titles.get(first)?.title : undefined,
      recommendations: labelled(recommendations, titles),
    };
  } catch (err) {
    return { available: false, error: err instanceof Error ? err.message : String(err) };
  }
}

interface ItemList {
  items: { contentId: string; [k: string]: unknown }[];
}

interface Title {
  title: string;
  /** Uploaded by `platformctl demo` or the demo traffic, not by a user. */
  demo: boolean;
}

/** Demo content: the bundled samples `platformctl demo` uploads, the seeds of the browse scenario. */
const DEMO_FILES = /^(seed-\d+\.\w+|sample[\w-]*\.\w+|[\w-]+-sample\.\w+)$/;

/** Titles of content items (their file names), from a ready content instance; absent = no such item. */
async function contentTitles(contentUrl: string | undefined, items: { contentId: string }[]) {
  const titles = new Map<string, Title | undefined>(items.map((i) => [i.contentId, undefined]));
  await fillTitles(contentUrl, titles);
  return titles;
}

async function fillTitles(
  contentUrl: string | undefined,
  titles: Map<string, Title | undefined>,
): Promise<void> {
  if (!contentUrl) return;
  const missing = [...titles.entries()].filter(([, t]) => t === undefined).map(([id]) => id);
  await Promise.all(
    missing.slice(0, 60).map(async (id) => {
      try {
        const item = (await getJson(`${contentUrl}/content/${encodeURIComponent(id)}`)) as {
          filename?: string | null;
          kind?: string;
        };
        const title = item.filename ?? `${item.kind ?? 'item'} ${id.slice(0, 8)}`;
        titles.set(id, { title, demo: DEMO_FILES.test(title) || sampleNames().has(title) });
      } catch {
        titles.delete(id);
      }
    }),
  );
}

let samples: Set<string> | undefined;
function sampleNames(): Set<string> {
  samples ??= new Set(sampleFiles().map((f) => basename(f)));
  return samples;
}

/** The five first items that exist, with their titles; how many others were synthetic. */
function labelled(list: ItemList | undefined, titles: Map<string, Title | undefined>) {
  const items = list?.items ?? [];
  const real = items.filter((i) => titles.get(i.contentId));
  return {
    items: real.slice(0, 5).map((i) => ({ ...i, ...(titles.get(i.contentId) as Title) })),
    synthetic: items.length - real.length,
  };
}

interface RouteTotals {
  requests: number;
  errors: number;
  errorRate: number;
  rps: number;
  p95: number;
}

/**
 * The gateway's own traffic: the sum over every routed service and version. Percentiles cannot be
 * added, so its p95 is the worst route's (an upper bound, labelled as such on the page).
 */
function gatewayTotals(perVersion: Record<string, Record<string, unknown>>): RouteTotals | undefined {
  const all = Object.values(perVersion).flatMap((versions) => Object.values(versions)) as RouteTotals[];
  if (all.length === 0) return undefined;
  const requests = all.reduce((n, v) => n + v.requests, 0);
  const errors = all.reduce((n, v) => n + v.errors, 0);
  return {
    requests,
    errors,
    errorRate: requests ? errors / requests : 0,
    rps: all.reduce((n, v) => n + v.rps, 0),
    p95: Math.max(...all.map((v) => v.p95)),
  };
}

export async function snapshot(platform: LoadedPlatform, provider: Provider): Promise<unknown> {
  const status = await provider.status();
  let perVersion: Record<string, Record<string, unknown>> = {};
  // Per-version RED figures come from the local gateway's admin API; elsewhere the status has
  // what the provider measures.
  if (provider.name === 'local' && status.running && status.gatewayUrl) {
    try {
      const token = adminToken(statePaths(platform.root).dir);
      const stats = await new GatewayAdmin(status.gatewayAdminUrl ?? status.gatewayUrl, token, 1500).stats(
        STATS_WINDOW_MS,
      );
      perVersion = Object.fromEntries(Object.entries(stats.services).map(([svc, s]) => [svc, s.versions]));
    } catch {
      perVersion = {};
    }
  }
  const readyUrl = (name: string) =>
    status.services.find((s) => s.name === name)?.instances.find((i) => i.state === 'ready')?.url;
  const configured = new Set(Object.keys(platform.config.services));
  const gateway = gatewayTotals(perVersion);
  const reports = statePaths(platform.root).reports;
  let gatewayFaults: Fault[] = [];
  if (provider.name === 'local' && status.running && status.gatewayUrl) {
    try {
      const token = adminToken(statePaths(platform.root).dir);
      gatewayFaults = await new GatewayAdmin(
        status.gatewayAdminUrl ?? status.gatewayUrl,
        token,
        1500,
      ).faults();
    } catch {
      gatewayFaults = [];
    }
  }
  return {
    at: new Date().toISOString(),
    name: platform.config.name,
    running: status.running,
    gatewayUrl: status.gatewayUrl,
    metricsAvailable: status.metricsAvailable,
    windowMs: STATS_WINDOW_MS,
    // The gateway's own row and chart: every request it answered, over all routes.
    services: status.services
      .filter((s) => configured.has(s.name))
      .map((s) => ({
        name: s.name,
        kind: s.kind,
        healthy: s.healthy,
        versions: s.kind === 'gateway' ? ['all routes'] : s.versions,
        traffic: s.traffic,
        instances: s.instances.map((i) => ({
          id: i.id,
          version: i.version,
          state: i.state,
          restarts: i.restarts,
          port: i.port,
        })),
        metrics: s.kind === 'gateway' ? gateway : s.metrics,
        dependenciesDown: s.dependenciesDown ?? [],
        byVersion:
          s.kind === 'gateway' ? (gateway ? { 'all routes': gateway } : {}) : (perVersion[s.name] ?? {}),
      })),
    // What the platform runs that is not one of its services (Prometheus from `up --with`).
    infrastructure: status.services
      .filter((s) => !configured.has(s.name))
      .map((s) => ({
        name: s.name,
        healthy: s.healthy,
        instances: s.instances.map((i) => ({ id: i.id, state: i.state, url: i.url, version: i.version })),
      })),
    // Synthetic traffic is named, so nobody reads it as users: what runs, at what rate, to where.
    demoTraffic: runningDemoTraffic(platform.root),
    rollouts: rollouts(platform.root),
    activeFaults: activeFaults(platform.root, gatewayFaults),
    chaos: recentReports(join(reports, 'chaos'), 5).map((j) => ({
      file: j.file,
      title: j.title,
      verdict: j.verdict,
      reason: j.reason,
      startedAt: j.startedAt,
      durationMs: j.durationMs,
    })),
    drills: [...activeDrill(platform.root), ...recentReports(join(reports, 'drills'), 5)].map((d) => {
      const score = d.score as { total?: number; grade?: string } | undefined;
      return {
        file: d.file,
        title: d.scenario ?? d.title,
        verdict: d.outcome ?? 'in progress',
        ...(score?.total !== undefined
          ? { score: `${score.total}${score.grade ? ` (${score.grade})` : ''}` }
          : {}),
        startedAt: d.startedAt,
      };
    }),
    analytics: await analytics(readyUrl('analytics'), readyUrl('content')),
  };
}

export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  // The dashboard is served here, so the local admin token guards it whatever the environment.
  const token = adminToken(statePaths(opts.platform.root).dir);
  const host = opts.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ error: String(err) }));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, 'application/json', JSON.stringify({ error: 'the dashboard is read-only' }));
      return;
    }
    const given = url.searchParams.get('token');
    if (given !== null) {
      if (!safeEqual(given, token)) {
        send(res, 401, 'text/plain; charset=utf-8', 'wrong token: use the one in .platform/admin-token\n');
        return;
      }
      url.searchParams.delete('token');
      res.writeHead(303, {
        location: `${url.pathname}${url.search}`,
        'set-cookie': `${COOKIE}=${sessionValue(token)}; HttpOnly; SameSite=Strict; Path=/`,
        'cache-control': 'no-store',
      });
      res.end();
      return;
    }
    if (url.pathname === '/healthz') {
      send(res, 200, 'application/json', '{"status":"ok"}');
      return;
    }
    if (!authorized(req, token)) {
      res.setHeader('www-authenticate', 'Bearer realm="platformctl-dashboard"');
      send(
        res,
        401,
        'text/plain; charset=utf-8',
        'the dashboard needs the admin token: open the URL printed by `platformctl dashboard` (…?token=…) or send Authorization: Bearer <.platform/admin-token>\n',
      );
      return;
    }
    if (url.pathname === '/' || url.pathname === '/index.html') {
      send(res, 200, 'text/html; charset=utf-8', PAGE);
      return;
    }
    if (url.pathname === '/api/snapshot') {
      send(res, 200, 'application/json', JSON.stringify(await snapshot(opts.platform, opts.provider)));
      return;
    }
    send(res, 404, 'application/json', JSON.stringify({ error: 'not found' }));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}/`;
  return {
    url,
    loginUrl: `${url}?token=${encodeURIComponent(token)}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
