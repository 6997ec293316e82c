import { afterAll, describe, expect, it } from 'vitest';
import { ANALYTICS_NODE_OPTIONS } from '../../../runtime/analytics/src/node-options.ts';
import { workspace } from '../../../test/helpers/cli.ts';
import { loadPlatform } from '../../core/config/load.ts';
import { renderPlatformYaml } from '../../core/config/template.ts';
import { makePlan } from './plan.ts';

const yaml = renderPlatformYaml({ name: 'acme', owner: 'ops', cloud: 'aws', region: 'eu-west-1' });
const own = yaml.replace(
  '    routes: [/analytics]\n',
  "    routes: [/analytics]\n    env: { NODE_OPTIONS: '--max-old-space-size=300' }\n",
);
const dirs = [workspace({ 'platform.yaml': yaml }), workspace({ 'platform.yaml': own })];
afterAll(() => {
  for (const d of dirs) d.dispose();
});

// Releases are not built: every service is "already running" in these plans.
const running = Object.fromEntries(
  ['gateway', 'auth', 'content', 'analytics'].map((s) => [s, { version: 'v1', entry: '/dev/null' }]),
);

async function envOf(dir: string): Promise<Record<string, Record<string, string>>> {
  const plan = await makePlan(loadPlatform(dir, undefined, {}), { running });
  return Object.fromEntries(plan.services.map((s) => [s.name, s.env]));
}

describe('plan: V8 options of built-in services', () => {
  it('starts built-in analytics with its heap sizing, and no other service with it', async () => {
    const env = await envOf(dirs[0]!.dir);
    expect(env.analytics!.NODE_OPTIONS).toBe(ANALYTICS_NODE_OPTIONS);
    expect(ANALYTICS_NODE_OPTIONS).toMatch(/--max-semi-space-size=\d+/);
    expect(env.content).not.toHaveProperty('NODE_OPTIONS');
    expect(env.gateway).not.toHaveProperty('NODE_OPTIONS');
  });

  it("lets the service's own env in platform.yaml win", async () => {
    expect((await envOf(dirs[1]!.dir)).analytics!.NODE_OPTIONS).toBe('--max-old-space-size=300');
  });
});
