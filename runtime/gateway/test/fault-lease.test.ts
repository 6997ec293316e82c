/**
 * Fault leases (issue 19): a fault injected with `ttlMs` lapses by itself unless renewed, so a
 * chaos run killed with -9 cannot leave its fault behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { FaultTable } from '../src/faults.ts';
import { ADMIN_TOKEN, admin, echoUpstream, startGateway } from './helpers.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()?.();
});

describe('fault table leases', () => {
  it('drops a fault whose lease lapsed, keeps one renewed or without a lease', () => {
    const table = new FaultTable();
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const leased = table.add({ service: 'api', delayMs: 500, ttlMs: 10_000 }, t0);
    const forever = table.add({ service: 'api', abortPct: 1 }, t0);
    expect(leased.expiresAt).toBe('2026-01-01T00:00:10.000Z');
    expect(forever.expiresAt).toBeUndefined();
    expect(table.list(t0 + 9_999).map((f) => f.id)).toEqual([leased.id, forever.id]);
    table.restore({ ...leased, expiresAt: new Date(t0 + 20_000).toISOString() });
    expect(table.list(t0 + 15_000)).toHaveLength(2);
    expect(table.list(t0 + 20_000).map((f) => f.id)).toEqual([forever.id]);
  });
});

describe('gateway admin API leases', () => {
  it('a fault with ttlMs stops applying at its expiry; renewal extends it; a lapsed one cannot be renewed', async () => {
    const up = await echoUpstream('v1');
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'a', url: up.url, version: 'v1' }], weights: { v1: 100 } } },
      },
      { ADMIN_TOKEN },
    );
    cleanup.push(up.close, gw.close);
    const created = await admin(gw, 'PUT', '/admin/faults', { service: 'api', abortPct: 100, ttlMs: 400 });
    expect(created.status).toBe(201);
    const { id, fault } = (await created.json()) as { id: string; fault: { expiresAt: string } };
    expect(Date.parse(fault.expiresAt)).toBeGreaterThan(Date.now());
    expect((await fetch(`${gw.url}/api/x`)).status).toBe(503);

    const renewed = await admin(gw, 'PUT', `/admin/faults/${id}/lease`, { ttlMs: 60_000 });
    expect(renewed.status).toBe(200);
    const later = ((await renewed.json()) as { fault: { expiresAt: string } }).fault.expiresAt;
    expect(Date.parse(later)).toBeGreaterThan(Date.parse(fault.expiresAt));
    expect((await admin(gw, 'PUT', `/admin/faults/${id}/lease`, { ttlMs: 5 })).status).toBe(400);

    // Shorten it, then nobody renews it: it lapses without a DELETE.
    await admin(gw, 'PUT', `/admin/faults/${id}/lease`, { ttlMs: 200 });
    let status = 503;
    for (let i = 0; i < 100 && status === 503; i++) {
      await new Promise((r) => setTimeout(r, 50));
      status = (await fetch(`${gw.url}/api/x`)).status;
    }
    expect(status).toBe(200);
    const list = (await (await admin(gw, 'GET', '/admin/faults')).json()) as { faults: unknown[] };
    expect(list.faults).toEqual([]);
    expect((await admin(gw, 'PUT', `/admin/faults/${id}/lease`, { ttlMs: 60_000 })).status).toBe(404);
  });
});
