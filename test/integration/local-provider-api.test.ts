/**
 * The Provider interface of the local provider, used programmatically the way the delivery and
 * chaos engines use it: a second version deployed dark beside the first, traffic weights and
 * faults pushed to the real runtime gateway, metrics read back, the old version retired, an
 * instance killed and recovered. Upstreams are the fixture service (no JWT needed: the test only
 * reads the gateway's admin API, never routes user traffic).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { freePort } from '../../src/core/ports.ts';
import { sleep } from '../../src/core/sleep.ts';
import { LocalProvider } from '../../src/providers/local/local-provider.ts';
import { buildRelease } from '../../src/providers/local/releases.ts';
import { REPO_ROOT, workspace } from '../helpers/cli.ts';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'local', 'fixture-service');
const hasGateway = existsSync(join(REPO_ROOT, 'runtime', 'gateway', 'src', 'main.ts'));

interface GatewayState {
  services: Record<
    string,
    { traffic?: { weights: Record<string, number> }; instances: { id: string; version: string }[] }
  >;
  faults: { id: string }[];
}

describe.skipIf(!hasGateway)('LocalProvider API against the runtime gateway', () => {
  let ws: ReturnType<typeof workspace>;
  let provider: LocalProvider;
  let v1: string;

  const gatewayState = async (): Promise<GatewayState> => {
    const st = await provider.status();
    const res = await fetch(`${st.gatewayAdminUrl}/admin/state`, {
      headers: { authorization: `Bearer ${provider.token()}` },
    });
    return (await res.json()) as GatewayState;
  };

  beforeAll(async () => {
    const [g, a] = [await freePort(), await freePort()];
    ws = workspace({
      'platform.yaml': `apiVersion: platformctl/v1
name: api
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway: { path: "builtin:gateway", port: ${g}, kind: gateway, dependsOn: [api] }
  api: { path: "${FIXTURE}", port: ${a}, routes: [/api] }
`,
    });
    provider = new LocalProvider(loadPlatform(ws.dir));
    const st = await provider.up();
    v1 = st.services.find((s) => s.name === 'api')?.versions[0] as string;
  });

  afterAll(async () => {
    await provider?.down();
    ws.dispose();
  });

  it('deploys a second version dark, beside the first', async () => {
    await buildRelease(provider.platform, 'api', { version: 'v2' });
    const api = await provider.deploy(
      'api',
      { service: 'api', version: 'v2' },
      { replicas: 1, initialWeight: 0 },
    );
    expect(api.versions).toEqual([v1, 'v2']);
    expect(api.instances.map((i) => [i.version, i.state])).toEqual([
      [v1, 'ready'],
      ['v2', 'ready'],
    ]);
    expect(api.traffic?.weights).toEqual({ [v1]: 100, v2: 0 });
    const gw = await gatewayState();
    expect(gw.services.api?.instances.map((i) => i.version).sort()).toEqual([v1, 'v2'].sort());
    expect(gw.services.api?.traffic?.weights).toEqual({ [v1]: 100, v2: 0 });
  });

  it('shifts traffic and reads metrics per version', async () => {
    await provider.setTraffic('api', { weights: { [v1]: 50, v2: 50 } });
    expect((await gatewayState()).services.api?.traffic?.weights).toEqual({ [v1]: 50, v2: 50 });
    await expect(provider.setTraffic('api', { weights: { [v1]: 50 } })).rejects.toThrow(/sum to 100/);
    const m = await provider.metrics('api', 'v2', 10_000);
    expect(m.requests).toBeGreaterThanOrEqual(0);
    // No requests: no rate and no latency (unknown, not a perfect 0 ms).
    if (m.requests === 0) expect(m).toEqual({ requests: 0, errors: 0 });
  });

  it('injects and clears gateway faults', async () => {
    const id = await provider.injectFault({ service: 'api', version: 'v2', abortPct: 100, abortStatus: 503 });
    expect(id).not.toBe('');
    expect((await gatewayState()).faults.map((f) => f.id)).toContain(id);
    await provider.clearFaults();
    expect((await gatewayState()).faults).toEqual([]);
    await expect(provider.partition('bus')).rejects.toMatchObject({ code: 'NOT_SUPPORTED' });
  });

  it('retires the old version: its instances stop and leave the gateway', async () => {
    const api = await provider.retire('api', v1);
    expect(api.versions).toEqual(['v2']);
    expect(api.instances.map((i) => i.version)).toEqual(['v2']);
    const gw = await gatewayState();
    expect(gw.services.api?.instances.map((i) => i.version)).toEqual(['v2']);
    expect(gw.services.api?.traffic?.weights).toEqual({ v2: 100 });
  });

  it('kill() is repaired by the supervisor', async () => {
    const before = (await provider.status()).services.find((s) => s.name === 'api')?.instances[0];
    await provider.kill(before?.id as string);
    let after = before;
    for (let i = 0; i < 100; i++) {
      after = (await provider.status()).services.find((s) => s.name === 'api')?.instances[0];
      if (after?.state === 'ready' && after.pid !== before?.pid) break;
      await sleep(100);
    }
    expect(after?.pid).not.toBe(before?.pid);
    expect(after?.restarts).toBe(1);
    expect((await gatewayState()).services.api?.instances).toHaveLength(1);
  });

  it('down + up starts the release the rollout left running, and says so; --from-source builds the sources', async () => {
    await provider.down();
    const events: string[] = [];
    const st = await provider.up({ onEvent: (e) => e.type === 'info' && events.push(e.message) });
    expect(st.services.find((s) => s.name === 'api')?.versions).toEqual(['v2']);
    expect(events.join('\n')).toMatch(/api: starting v2, the release its last rollout left running/);
    await provider.down();
    const plan = await provider.plan({ fromSource: true });
    expect(plan.services.find((s) => s.name === 'api')?.version).toBe(v1);
  });
});
