/**
 * `platformctl up --detach --with prometheus`: Debian's prometheus runs supervised beside the
 * services, with a generated scrape config covering every instance, its TSDB under
 * .platform/data/prometheus, and `down` stops it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/core/ports.ts';
import { sleep } from '../../src/core/sleep.ts';
import { findPrometheusBinary } from '../../src/observability/prometheus-server.ts';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'local', 'fixture-service');
const skip = !findPrometheusBinary() && !process.env.CI;
if (skip) console.warn('prometheus is not installed (apt-get install -y prometheus); skipping outside CI');

describe.skipIf(skip)('up --with prometheus', () => {
  let ws: ReturnType<typeof workspace> | undefined;

  afterAll(async () => {
    if (ws) await runCli(['down'], { cwd: ws.dir });
    ws?.dispose();
  });

  it('runs prometheus supervised, scraping every service, and stops it on down', async () => {
    const [g, a, p] = [await freePort(), await freePort(), await freePort()];
    ws = workspace({
      'platform.yaml': `apiVersion: platformctl/v1
name: promup
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway: { path: ${FIXTURE}, port: ${g}, kind: gateway, dependsOn: [api] }
  api: { path: ${FIXTURE}, port: ${a}, routes: [/api] }
`,
    });
    const env = { PLATFORMCTL_PROMETHEUS_PORT: String(p) };
    const r = await runCli(['up', '--detach', '--with', 'prometheus'], {
      cwd: ws.dir,
      env,
      timeoutMs: 120_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain(`prometheus: http://127.0.0.1:${p}`);
    const url = readFileSync(join(ws.dir, '.platform', 'prometheus-url'), 'utf8').trim();
    expect(url).toBe(`http://127.0.0.1:${p}`);
    expect(existsSync(join(ws.dir, '.platform', 'data', 'prometheus', 'prometheus.yml'))).toBe(true);

    // Both services are scrape targets (bounded wait for the first scrapes).
    let jobs: string[] = [];
    for (let i = 0; i < 150 && jobs.length < 2; i++) {
      const body = (await (await fetch(`${url}/api/v1/targets`)).json()) as {
        data: { activeTargets: { labels: { platform_service: string } }[] };
      };
      jobs = [...new Set(body.data.activeTargets.map((t) => t.labels.platform_service))].sort();
      if (jobs.length < 2) await sleep(200);
    }
    expect(jobs).toEqual(['api', 'gateway']);

    const st = JSON.parse((await runCli(['status', '--json'], { cwd: ws.dir })).stdout) as {
      services: { name: string; healthy: boolean }[];
    };
    expect(st.services.find((s) => s.name === 'prometheus')?.healthy).toBe(true);

    const down = await runCli(['down'], { cwd: ws.dir });
    expect(down.exitCode, down.stderr).toBe(0);
    const gone = await fetch(`${url}/-/ready`).then(
      () => false,
      () => true,
    );
    expect(gone).toBe(true);
  }, 180_000);

  it('refuses an unknown extra', async () => {
    const w = workspace({
      'platform.yaml': `apiVersion: platformctl/v1
name: x
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  api: { path: ${FIXTURE}, port: 18999 }
`,
    });
    try {
      const r = await runCli(['up', '--with', 'grafana', '--dry-run'], { cwd: w.dir });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('--with prometheus');
    } finally {
      w.dispose();
    }
  });
});
