/**
 * analytics over gRPC, against the real service started the way `platformctl up` starts it (the
 * local provider builds a release bundle and supervises it), called with @grpc/grpc-js as client:
 * the same ingest, idempotency, identity, validation and limits as its REST API, on the same port.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../../src/core/config/load.ts';
import { LocalProvider } from '../../../src/providers/local/local-provider.ts';
import { workspace } from '../../../test/helpers/cli.ts';
import {
  callClientStream,
  callUnary,
  grpcClient,
  reflectionFieldNames,
  reflectionServices,
} from '../../../test/helpers/grpc.ts';
import { freePorts } from '../../../test/helpers/runtime-platform.ts';
import { loadProtos } from '../../lib/grpc-server.ts';
import { GrpcCode } from '../../lib/grpc-status.ts';
import type {
  EventMessage,
  GetContentStatsRequest,
  GetRecommendationsRequest,
  GetRecommendationsResponse,
  GetTrendingRequest,
  GetTrendingResponse,
  IngestRequest,
} from '../src/grpc-api.ts';
import type { IngestResult } from '../src/ingest.ts';
import type { ContentStats, Recommendation, TrendingItem } from '../src/queries.ts';
import { PRODUCER } from './helpers.ts';

const PROTO = join(import.meta.dirname, '..', 'proto', 'analytics.proto');
const SERVICE = 'platform.analytics.v1.Analytics';

type Client = ReturnType<typeof grpcClient>;

/** One analytics instance under the local provider, in a throw-away project. */
async function upAnalytics(env: Record<string, string>) {
  const [port] = await freePorts(1);
  const envYaml = Object.entries(env)
    .map(([k, v]) => `${k}: "${v}"`)
    .join(', ');
  const ws = workspace({
    'platform.yaml': `apiVersion: platformctl/v1
name: grpc-analytics
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  analytics: { path: "builtin:analytics", port: ${port}, routes: [/analytics], env: { ${envYaml} } }
`,
  });
  const provider = new LocalProvider(loadPlatform(ws.dir));
  await provider.up();
  return {
    address: `127.0.0.1:${port}`,
    base: `http://127.0.0.1:${port}`,
    async stop() {
      await provider.down();
      ws.dispose();
    },
  };
}

function view(id: string, contentId: string, userId: string): EventMessage {
  return { id, type: 'view', contentId, userId, ts: Date.now() };
}

describe('analytics gRPC API (dev: reflection on)', () => {
  let up: Awaited<ReturnType<typeof upAnalytics>>;
  let client: Client;

  beforeAll(async () => {
    // A small per-user budget (the burst is at least one full batch) so a test can spend it.
    up = await upAnalytics({
      NODE_ENV: 'development',
      ANALYTICS_USER_EVENTS_PER_S: '1',
      ANALYTICS_USER_EVENTS_BURST: '1000',
    });
    client = grpcClient(up.address, PROTO, SERVICE);
  });
  afterAll(async () => {
    client?.close();
    await up?.stop();
  });

  it('serves REST and gRPC on the one port the provider gave it', async () => {
    const health = await fetch(`${up.base}/healthz`);
    expect(await health.json()).toMatchObject({ status: 'ok', service: 'analytics' });
    const { response, error } = await callUnary<GetTrendingResponse>(client, 'GetTrending', {});
    expect(error).toBeUndefined();
    expect(response).toMatchObject({ window: '1h', k: 10 });
  });

  it('ingests over gRPC and answers the queries from what it ingested, like REST does', async () => {
    const events = [
      view('g-rt-1', 'g-item-a', 'g-user-1'),
      view('g-rt-2', 'g-item-b', 'g-user-1'),
      view('g-rt-3', 'g-item-a', 'g-user-2'),
      view('g-rt-4', 'g-item-b', 'g-user-2'),
      view('g-rt-5', 'g-item-a', 'g-user-3'),
    ];
    const ingested = await callUnary<IngestResult>(
      client,
      'Ingest',
      { events } satisfies IngestRequest,
      PRODUCER,
    );
    expect(ingested.error).toBeUndefined();
    expect(ingested.response).toEqual({ accepted: 5, duplicates: 0 });

    const stats = await callUnary<ContentStats>(client, 'GetContentStats', {
      contentId: 'g-item-a',
    } satisfies GetContentStatsRequest);
    expect(stats.response).toMatchObject({ contentId: 'g-item-a', views: 3, uniqueViewers: 3 });
    expect(stats.response?.perMinute?.reduce((n, m) => n + Number(m.views), 0)).toBe(3);

    const trending = await callUnary<GetTrendingResponse>(client, 'GetTrending', {
      window: '15m',
      k: 2,
    } satisfies GetTrendingRequest);
    expect(trending.response?.items?.slice(0, 2)).toEqual([
      { contentId: 'g-item-a', viewers: 3, views: 3 },
      { contentId: 'g-item-b', viewers: 2, views: 2 },
    ]);

    const recs = await callUnary<GetRecommendationsResponse>(client, 'GetRecommendations', {
      contentId: 'g-item-a',
    } satisfies GetRecommendationsRequest);
    expect(recs.response).toEqual({ contentId: 'g-item-a', items: [{ contentId: 'g-item-b', coViews: 2 }] });

    // The REST API reads the same store: one service, two protocols.
    const rest = (await (await fetch(`${up.base}/analytics/content/g-item-a/stats`)).json()) as ContentStats;
    expect(rest.views).toBe(3);
  });

  it('does not count a re-sent batch twice, whichever protocol re-sends it', async () => {
    const events = [view('g-dup-1', 'g-item-dup', 'g-user-1'), view('g-dup-2', 'g-item-dup', 'g-user-2')];
    expect((await callUnary(client, 'Ingest', { events }, PRODUCER)).response).toEqual({
      accepted: 2,
      duplicates: 0,
    });
    expect((await callUnary(client, 'Ingest', { events }, PRODUCER)).response).toEqual({
      accepted: 0,
      duplicates: 2,
    });
    const rest = await fetch(`${up.base}/analytics/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...PRODUCER },
      body: JSON.stringify({ events }),
    });
    expect(await rest.json()).toEqual({ accepted: 0, duplicates: 2 });
    const streamed = await callClientStream(client, 'IngestStream', events, PRODUCER);
    expect(streamed.response).toEqual({ accepted: 0, duplicates: 2 });
    const stats = await callUnary<ContentStats>(client, 'GetContentStats', { contentId: 'g-item-dup' });
    expect(stats.response?.views).toBe(2);
  });

  it('ingests a client stream in batches of up to 1000, idempotently on re-send', async () => {
    const events = Array.from({ length: 2500 }, (_, i) =>
      view(`g-stream-${i}`, `g-stream-item-${i % 7}`, `u${i % 50}`),
    );
    const first = await callClientStream(client, 'IngestStream', events, PRODUCER);
    expect(first.error).toBeUndefined();
    expect(first.response).toEqual({ accepted: 2500, duplicates: 0 });
    const again = await callClientStream(client, 'IngestStream', events, PRODUCER);
    expect(again.response).toEqual({ accepted: 0, duplicates: 2500 });
  });

  it('reads proto3 zero values as unset fields, as REST reads absent keys', async () => {
    const zeros = { id: 'g-zero-1', type: 'view', contentId: 'g-item-zero', userId: '', ts: 0, country: '' };
    const { response, error } = await callUnary(client, 'Ingest', { events: [zeros] }, PRODUCER);
    expect(error).toBeUndefined();
    expect(response).toEqual({ accepted: 1, duplicates: 0 });
    const stats = await callUnary<ContentStats>(client, 'GetContentStats', {
      contentId: 'g-item-zero',
      minutes: 0,
    });
    // ts 0 is "now" (not 1970, which would be refused), and minutes 0 the default hour.
    expect(stats.response?.perMinute).toHaveLength(1);
  });

  it('answers bad input with INVALID_ARGUMENT and the same problems REST lists', async () => {
    const bad = await callUnary(
      client,
      'Ingest',
      { events: [{ id: 'g-bad-1', type: 'View!', contentId: '' }] },
      PRODUCER,
    );
    expect(bad.error?.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(bad.error?.metadata.get('x-error-code')).toEqual(['INVALID_EVENTS']);
    const details = JSON.parse(String(bad.error?.metadata.get('x-error-details')[0])) as {
      problems: { index: number; field: string }[];
    };
    expect(details.problems.map((p) => p.field).sort()).toEqual(['contentId', 'type']);

    const empty = await callUnary(client, 'Ingest', {}, PRODUCER);
    expect(empty.error?.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(empty.error?.details).toBe('"events" must not be empty');

    const tooMany = Array.from({ length: 1001 }, (_, i) => view(`g-many-${i}`, 'g-item-many', 'u1'));
    const batch = await callUnary(client, 'Ingest', { events: tooMany }, PRODUCER);
    expect(batch.error?.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(batch.error?.details).toBe('at most 1000 events per batch');

    const k = await callUnary(client, 'GetTrending', { k: 101 });
    expect(k.error?.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(k.error?.details).toBe('k must be an integer from 1 to 100');
    const window = await callUnary(client, 'GetTrending', { window: '9y' });
    expect(window.error?.code).toBe(GrpcCode.INVALID_ARGUMENT);
    const id = await callUnary(client, 'GetRecommendations', {});
    expect(id.error?.code).toBe(GrpcCode.INVALID_ARGUMENT);
    // Nothing of the refused batches was recorded.
    const stats = await callUnary<ContentStats>(client, 'GetContentStats', { contentId: 'g-item-many' });
    expect(stats.response?.views ?? 0).toBe(0);
  });

  it('applies the caller rules of REST: identity from the gateway, user rights, the ingest budget', async () => {
    const anonymous = await callUnary(client, 'Ingest', { events: [view('g-anon', 'x', 'u')] });
    expect(anonymous.error?.code).toBe(GrpcCode.UNAUTHENTICATED);
    const anonymousStream = await callClientStream(client, 'IngestStream', [view('g-anon-s', 'x', 'u')]);
    expect(anonymousStream.error?.code).toBe(GrpcCode.UNAUTHENTICATED);

    const user = { 'x-user-id': 'g-budget-user', 'x-user-scope': 'openid' };
    const upload = await callUnary(
      client,
      'Ingest',
      { events: [{ id: 'g-up', type: 'upload', contentId: 'x' }] },
      user,
    );
    expect(upload.error?.code).toBe(GrpcCode.PERMISSION_DENIED);

    // A user's events are theirs whatever the message says, and their budget (burst 1000, 1/s) runs
    // out: a second full batch would need 1000 s of refill.
    const batch = (from: number) =>
      Array.from({ length: 1000 }, (_, i) => view(`g-budget-${from + i}`, 'g-budget-item', 'someone-else'));
    expect((await callUnary(client, 'Ingest', { events: batch(0) }, user)).response).toEqual({
      accepted: 1000,
      duplicates: 0,
    });
    const over = await callUnary(client, 'Ingest', { events: batch(1000) }, user);
    expect(over.error?.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(Number(over.error?.metadata.get('retry-after')[0])).toBeGreaterThanOrEqual(1);
    const stats = await callUnary<ContentStats>(client, 'GetContentStats', { contentId: 'g-budget-item' });
    expect(stats.response).toMatchObject({ views: 1000, uniqueViewers: 1 });
  });

  it('refuses a message over the REST body limit (2 MiB) with RESOURCE_EXHAUSTED', async () => {
    const padded = Array.from({ length: 1000 }, (_, i) => ({
      ...view(`g-big-${i}`, 'c'.repeat(128), 'u'.repeat(128)),
      id: `${'i'.repeat(120)}${String(i).padStart(8, '0')}`,
      type: 't'.repeat(32),
    }));
    // ~1000 x 430 bytes: well under the limit, so the limit is what refuses five of them below.
    expect((await callUnary(client, 'Ingest', { events: padded }, PRODUCER)).error).toBeUndefined();
    const big = await callUnary(
      client,
      'Ingest',
      { events: [...padded, ...padded, ...padded, ...padded, ...padded] },
      PRODUCER,
    );
    expect(big.error?.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
  });

  it('counts gRPC calls in the RED metrics beside the REST routes', async () => {
    const metrics = await (await fetch(`${up.base}/metrics`)).text();
    const ingest = 'route="/platform.analytics.v1.Analytics/Ingest"';
    expect(metrics).toMatch(
      new RegExp(`http_requests_total\\{[^}]*method="POST"[^}]*${ingest}[^}]*code="200"`),
    );
    expect(metrics).toMatch(new RegExp(`http_requests_total\\{[^}]*${ingest}[^}]*code="400"`));
    expect(metrics).toMatch(new RegExp(`http_requests_total\\{[^}]*${ingest}[^}]*code="401"`));
    expect(metrics).toMatch(new RegExp(`http_requests_total\\{[^}]*${ingest}[^}]*code="429"`));
    expect(metrics).toMatch(/http_requests_total\{[^}]*route="\/analytics\/events"[^}]*code="202"/);
  });

  it('lists its service over reflection v1 and v1alpha', async () => {
    for (const version of ['v1', 'v1alpha'] as const) {
      const { services, error } = await reflectionServices(up.address, version);
      expect(error).toBeUndefined();
      expect(services).toContain(SERVICE);
    }
  });

  it('describes analytics.proto over reflection as written (snake_case fields)', async () => {
    const messages = await reflectionFieldNames(up.address, 'v1', SERVICE);
    expect(messages.Event).toEqual([
      'id/id',
      'type/type',
      'content_id/contentId',
      'user_id/userId',
      'ts/ts',
      'country/country',
    ]);
  });
});

describe('analytics gRPC API (production: reflection off)', () => {
  it('serves the API but no reflection with NODE_ENV=production', async () => {
    // NODE_ENV is what production images set; GRPC_REFLECTION empty counts as unset, so a local
    // default for it (the provider's instance env) cannot mask the NODE_ENV rule under test.
    const up = await upAnalytics({ NODE_ENV: 'production', GRPC_REFLECTION: '', LOG_LEVEL: 'warn' });
    const client = grpcClient(up.address, PROTO, SERVICE);
    try {
      expect((await callUnary(client, 'GetTrending', {})).error).toBeUndefined();
      for (const version of ['v1', 'v1alpha'] as const) {
        const { services, error } = await reflectionServices(up.address, version);
        expect(services).toBeUndefined();
        expect(error?.code).toBe(GrpcCode.UNIMPLEMENTED);
      }
    } finally {
      client.close();
      await up.stop();
    }
  });
});

describe('grpc-api.ts message types', () => {
  const definition = loadProtos([PROTO]);
  /** The fields of a proto message as the service kit's loader names them (camelCase). */
  const fields = (message: string) =>
    (
      definition[`platform.analytics.v1.${message}`] as unknown as { type: { field: { name: string }[] } }
    ).type.field
      .map((f) => f.name)
      .sort();
  // Record<keyof T, true> must name every key of T and nothing else, or the type check fails.
  const keys = (record: Record<string, true>) => Object.keys(record).sort();

  it('match the proto, field for field', () => {
    const event: Record<keyof EventMessage, true> = {
      id: true,
      type: true,
      contentId: true,
      userId: true,
      ts: true,
      country: true,
    };
    expect(keys(event)).toEqual(fields('Event'));
    expect(keys({ events: true } satisfies Record<keyof IngestRequest, true>)).toEqual(
      fields('IngestRequest'),
    );
    expect(keys({ accepted: true, duplicates: true } satisfies Record<keyof IngestResult, true>)).toEqual(
      fields('IngestResponse'),
    );
    expect(
      keys({ contentId: true, minutes: true } satisfies Record<keyof GetContentStatsRequest, true>),
    ).toEqual(fields('GetContentStatsRequest'));
    const stats: Record<keyof ContentStats, true> = {
      contentId: true,
      views: true,
      uploads: true,
      uniqueViewers: true,
      uniqueViewersToday: true,
      perMinute: true,
    };
    expect(keys(stats)).toEqual(fields('ContentStats'));
    expect(keys({ window: true, k: true } satisfies Record<keyof GetTrendingRequest, true>)).toEqual(
      fields('GetTrendingRequest'),
    );
    expect(
      keys({ window: true, k: true, items: true } satisfies Record<keyof GetTrendingResponse, true>),
    ).toEqual(fields('GetTrendingResponse'));
    expect(
      keys({ contentId: true, viewers: true, views: true } satisfies Record<keyof TrendingItem, true>),
    ).toEqual(fields('TrendingItem'));
    expect(
      keys({ contentId: true, k: true } satisfies Record<keyof GetRecommendationsRequest, true>),
    ).toEqual(fields('GetRecommendationsRequest'));
    expect(
      keys({ contentId: true, items: true } satisfies Record<keyof GetRecommendationsResponse, true>),
    ).toEqual(fields('GetRecommendationsResponse'));
    expect(keys({ contentId: true, coViews: true } satisfies Record<keyof Recommendation, true>)).toEqual(
      fields('Recommendation'),
    );
  });
});
