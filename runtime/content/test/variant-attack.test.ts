/**
 * Issue 17's variant attack, replayed small and bounded on 127.0.0.1: parallel loops asking a
 * large image for distinct variants through the real gateway, while a steady reader fetches a
 * cached variant. Content must stay healthy and in the gateway, cached reads must never fail,
 * unsigned variants must cost nothing, and signed ones must be shed (503 + Retry-After), not
 * queued without bound. No timings are asserted; only answers and health.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startService } from '../../auth/test/helpers/service-process.ts';
import { ADMIN_TOKEN, admin, startGateway, type TestGateway } from '../../gateway/test/helpers.ts';
import { signVariant } from '../src/variant-policy.ts';

const KEY = 'variant-attack-test-signing-key-0123456789';
const editor = { 'x-user-id': 'attack-test', 'x-user-role': 'editor' };
let dir: string;
let content: ServiceProcess;
let gw: TestGateway;
let bigId: string;

function variantFiles(): number {
  const root = join(dir, 'content');
  if (!existsSync(root)) return 0;
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter(
    (d) => d.isFile() && d.parentPath.includes('variants'),
  ).length;
}

/** Runs `loops` closed loops of distinct variants until `ms` passed; returns the answers by status. */
async function attack(loops: number, ms: number, signed: boolean): Promise<Map<number, number>> {
  const answers = new Map<number, number>();
  const deadline = Date.now() + ms;
  let width = 300;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (Date.now() < deadline) {
        width = 100 + ((width + 7) % 1000);
        // q is never webp's default (80), so no request matches a preset by chance.
        const query = { w: String(width), q: String(30 + (width % 40)), format: 'webp' };
        const sig = signed ? `&sig=${signVariant(bigId, query, KEY)}` : '';
        const res = await fetch(`${gw.url}/content/${bigId}/variant?${new URLSearchParams(query)}${sig}`);
        await res.arrayBuffer();
        answers.set(res.status, (answers.get(res.status) ?? 0) + 1);
        if (res.status === 503) expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    }),
  );
  return answers;
}

/** Reads the cached variant in a loop while `during` runs; returns every status it got. */
async function steadyReads<T>(during: Promise<T>): Promise<{ statuses: number[]; result: T }> {
  const statuses: number[] = [];
  let done = false;
  const reader = (async () => {
    while (!done) {
      const res = await fetch(`${gw.url}/content/${bigId}/variant?preset=thumb&format=webp`);
      await res.arrayBuffer();
      statuses.push(res.status);
    }
  })();
  const result = await during;
  done = true;
  await reader;
  return { statuses, result };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'variant-attack-'));
  content = await startService('content', {
    DATA_DIR: join(dir, 'content'),
    CONTENT_VARIANT_KEYS: KEY,
    CONTENT_TRANSFORM_CONCURRENCY: '1',
    CONTENT_TRANSFORM_QUEUE: '2',
  });
  gw = await startGateway(
    {
      routes: [{ prefix: '/content', service: 'content', auth: 'none' }],
      services: { content: { instances: [{ id: 'content-1', url: content.url }] } },
    },
    { ADMIN_TOKEN, BREAKER_FAILURES: '3' },
  );
  const big = await sharp({
    create: {
      width: 2500,
      height: 2500,
      channels: 3,
      background: '#345',
      noise: { type: 'gaussian', mean: 128, sigma: 40 },
    },
  })
    .jpeg({ quality: 80 })
    .toBuffer();
  const up = await fetch(`${content.url}/content`, { method: 'POST', headers: editor, body: big });
  expect(up.status).toBe(201);
  bigId = ((await up.json()) as { id: string }).id;
  const warm = await fetch(`${gw.url}/content/${bigId}/variant?preset=thumb&format=webp`);
  expect(warm.status).toBe(200);
  await warm.arrayBuffer();
}, 60_000);

afterAll(async () => {
  await gw?.close();
  expect(await content?.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

async function contentHealthyInGateway(): Promise<void> {
  expect((await fetch(`${content.url}/healthz`)).status).toBe(200);
  const state = (await (await admin(gw, 'GET', '/admin/state')).json()) as {
    services: { content: { instances: { state: string; ejections: number }[] } };
  };
  expect(state.services.content.instances[0]).toMatchObject({ state: 'closed', ejections: 0 });
}

describe('the variant attack, replayed', () => {
  it('unsigned distinct variants are refused without rendering or storing anything', async () => {
    const before = variantFiles();
    const { statuses, result } = await steadyReads(attack(8, 2000, false));
    expect([...result.keys()]).toEqual([403]);
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(variantFiles()).toBe(before);
    await contentHealthyInGateway();
  });

  it('signed distinct variants are shed when the queue is full; cached reads never fail', async () => {
    const { statuses, result } = await steadyReads(attack(8, 4000, true));
    expect([...result.keys()].filter((s) => s !== 200 && s !== 503)).toEqual([]);
    expect(result.get(503) ?? 0).toBeGreaterThan(0);
    expect(new Set(statuses)).toEqual(new Set([200]));
    await contentHealthyInGateway();
    // Right after the attack a new variant is rendered (the queue did not keep a backlog).
    const query = { w: '123', format: 'webp' };
    let status = 0;
    for (let i = 0; i < 20 && status !== 200; i++) {
      const res = await fetch(
        `${gw.url}/content/${bigId}/variant?w=123&format=webp&sig=${signVariant(bigId, query, KEY)}`,
      );
      await res.arrayBuffer();
      status = res.status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe(200);
  });

  it('a waiting render dropped with a client that left answers its other requesters 503, not 500', async () => {
    const signed = (query: Record<string, string>) =>
      `${content.url}/content/${bigId}/variant?${new URLSearchParams(query)}&sig=${signVariant(bigId, query, KEY)}`;
    // A slow render holds the only slot...
    const slow = fetch(signed({ w: '2400', format: 'png' })).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });
    await new Promise((r) => setTimeout(r, 150));
    // ...so this one waits in the queue, and a second client asks for the same variant (joining it).
    const waiting = { w: '1001', format: 'webp' };
    const gone = new AbortController();
    const first = fetch(signed(waiting), { signal: gone.signal }).catch(() => 'aborted');
    await new Promise((r) => setTimeout(r, 50));
    const second = fetch(signed(waiting)).then(async (r) => {
      await r.arrayBuffer();
      return r.status;
    });
    await new Promise((r) => setTimeout(r, 50));
    gone.abort();
    await first;
    expect([200, 503]).toContain(await second);
    expect([200, 503]).toContain(await slow);
  });
});
