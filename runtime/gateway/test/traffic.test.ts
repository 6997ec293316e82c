import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseVersion, trafficPolicy } from '../src/traffic.ts';
import {
  ADMIN_TOKEN,
  admin,
  echoUpstream,
  startGateway,
  type TestGateway,
  type TestServer,
} from './helpers.ts';

async function whoAnswers(
  gw: TestGateway,
  headers: Record<string, string> = {},
): Promise<[string, Response]> {
  const r = await fetch(`${gw.url}/api/x`, { headers });
  const { name } = (await r.json()) as { name: string };
  return [name, r];
}

describe('weighted versions and pinning', () => {
  let stable1: TestServer;
  let stable2: TestServer;
  let canary: TestServer;
  let gw: TestGateway;

  beforeAll(async () => {
    [stable1, stable2, canary] = await Promise.all([
      echoUpstream('s1'),
      echoUpstream('s2'),
      echoUpstream('c1'),
    ]);
    gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: {
          api: {
            instances: [
              { id: 's1', url: stable1.url, version: '1.0.0' },
              { id: 's2', url: stable2.url, version: '1.0.0' },
              { id: 'c1', url: canary.url, version: '1.1.0' },
            ],
            weights: { '1.0.0': 90, '1.1.0': 10 },
          },
        },
      },
      { ADMIN_TOKEN },
    );
  });

  afterAll(async () => {
    await gw.close();
    await Promise.all([stable1.close(), stable2.close(), canary.close()]);
  });

  it('sends about 10% of 1000 requests to the canary and balances the stable instances', async () => {
    const counts: Record<string, number> = { s1: 0, s2: 0, c1: 0 };
    for (let batch = 0; batch < 20; batch++) {
      const names = await Promise.all(Array.from({ length: 50 }, () => whoAnswers(gw).then(([n]) => n)));
      for (const n of names) counts[n] = (counts[n] ?? 0) + 1;
    }
    // Binomial(1000, 0.1): mean 100, sd 9.5; ±5 sd keeps this from ever flaking.
    expect(counts.c1).toBeGreaterThan(52);
    expect(counts.c1).toBeLessThan(148);
    expect(Math.abs((counts.s1 ?? 0) - (counts.s2 ?? 0))).toBeLessThan(200);
  });

  it('pins with x-canary: always|never and with an exact version', async () => {
    for (let i = 0; i < 20; i++) {
      expect((await whoAnswers(gw, { 'x-canary': 'always' }))[0]).toBe('c1');
      expect((await whoAnswers(gw, { 'x-canary': 'never' }))[0]).not.toBe('c1');
      expect((await whoAnswers(gw, { 'x-canary': '1.1.0' }))[0]).toBe('c1');
    }
  });

  it('keeps a client on its version with a sticky cookie', async () => {
    const r = await admin(gw, 'PUT', '/admin/services/api/traffic', {
      weights: { '1.0.0': 50, '1.1.0': 50 },
      cookie: 'api_version',
    });
    expect(r.status).toBe(200);
    const [first, res] = await whoAnswers(gw);
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^api_version=1\.[01]\.0; Path=\/;/);
    const cookie = setCookie.split(';')[0] as string;
    const firstVersion = first === 'c1' ? 'c' : 's';
    for (let i = 0; i < 30; i++) {
      const [name, again] = await whoAnswers(gw, { cookie: `other=1; ${cookie}` });
      expect(name === 'c1' ? 'c' : 's').toBe(firstVersion);
      expect(again.headers.get('set-cookie')).toBeNull();
    }
    // A rollback (weight 0) overrides the cookie.
    await admin(gw, 'PUT', '/admin/services/api/traffic', {
      weights: { '1.0.0': 100, '1.1.0': 0 },
      cookie: 'api_version',
    });
    for (let i = 0; i < 10; i++) {
      expect((await whoAnswers(gw, { cookie: 'api_version=1.1.0' }))[0]).not.toBe('c1');
    }
  });

  it('sends everything to the remaining version when one has no live instance', async () => {
    await admin(gw, 'PUT', '/admin/services/api/traffic', { weights: { '1.0.0': 0, '1.1.0': 100 } });
    await admin(gw, 'PUT', '/admin/services/api/instances', {
      instances: [{ id: 's1', url: stable1.url, version: '1.0.0' }],
    });
    for (let i = 0; i < 10; i++) expect((await whoAnswers(gw))[0]).toBe('s1');
  });
});

describe('chooseVersion', () => {
  const policy = trafficPolicy({ weights: { a: 70, b: 30 }, header: 'x-beta: yes' }, 'x-canary');
  const all = () => true;

  it('uses the configured header name and value', () => {
    expect(chooseVersion(policy, 'yes', undefined, all, () => 0).version).toBe('b');
    expect(chooseVersion(policy, 'no', undefined, all, () => 0).version).toBe('a');
    expect(chooseVersion(policy, 'never', undefined, all, () => 0.99).version).toBe('a');
  });

  it('draws by weight', () => {
    expect(chooseVersion(policy, undefined, undefined, all, () => 0.69).version).toBe('a');
    expect(chooseVersion(policy, undefined, undefined, all, () => 0.71).version).toBe('b');
  });

  it('ignores a pin to a version without instances', () => {
    expect(
      chooseVersion(
        policy,
        'yes',
        undefined,
        (v) => v === 'a',
        () => 0.99,
      ).version,
    ).toBe('a');
  });
});
