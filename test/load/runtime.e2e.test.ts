/**
 * The sample scenarios against the real runtime (gateway, auth, content, analytics) started by
 * `platformctl up --detach` on free ports: they must match the platform's HTTP and gRPC APIs
 * (every check passes, no failed request), and `load run` must find the gateway from
 * .platform/state.json. grpcurl lists the services through the gateway's reflection.
 * (Their latency thresholds are not judged here: that would make this a timing test.)
 */
import { appendFileSync, cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';
import { grpcurl, grpcurlSkipReason } from '../helpers/grpcurl.ts';
import { freePorts, runtimePlatformYaml } from '../helpers/runtime-platform.ts';

const SERVICES = ['gateway', 'auth', 'content', 'analytics'];
const SCENARIOS = ['browse-content', 'upload-content', 'ingest-events', 'grpc-analytics'];
const present = SERVICES.every((s) => existsSync(join(REPO_ROOT, 'runtime', s, 'src', 'main.ts')));

describe.skipIf(!present)('sample scenarios against the local platform', () => {
  let ws: ReturnType<typeof workspace>;

  beforeAll(async () => {
    ws = workspace({ 'platform.yaml': runtimePlatformYaml('load-e2e', await freePorts(SERVICES.length)) });
    cpSync(join(REPO_ROOT, 'scenarios'), join(ws.dir, 'scenarios'), { recursive: true });
    // grpc-analytics.yaml encodes its calls with the proto from the repository (../runtime/...).
    cpSync(join(REPO_ROOT, 'runtime', 'analytics', 'proto'), join(ws.dir, 'runtime', 'analytics', 'proto'), {
      recursive: true,
    });
    // These runs check the scenarios against the API, not the generator's schedule: on a busy CI
    // machine the default validity limits would make them exit 7.
    for (const name of SCENARIOS) {
      appendFileSync(
        join(ws.dir, 'scenarios', `${name}.yaml`),
        '\nvalidity: { maxAvgScheduleLag: 5s, maxDroppedRatio: 0.5 }\n',
      );
    }
    const up = await runCli(['up', '--detach'], { cwd: ws.dir, timeoutMs: 120_000 });
    expect(up.exitCode, up.stderr).toBe(0);
  }, 150_000);

  afterAll(async () => {
    if (!ws) return;
    await runCli(['down'], { cwd: ws.dir, timeoutMs: 60_000 });
    ws.dispose();
  });

  for (const name of SCENARIOS) {
    // Thresholds are latency budgets; on a shared CI machine they would make this a timing test.
    it(`${name}.yaml passes its checks`, async () => {
      const r = await runCli(
        [
          '--json',
          'load',
          'run',
          `scenarios/${name}.yaml`,
          '--rate',
          '10',
          '--duration',
          '2s',
          '--no-thresholds',
        ],
        { cwd: ws.dir, timeoutMs: 60_000 },
      );
      const summary = JSON.parse(r.stdout);
      expect(summary.target).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(summary.metrics.http_reqs.values.count).toBeGreaterThanOrEqual(15);
      expect(summary.metrics.http_req_failed.values.rate, JSON.stringify(summary.statuses)).toBe(0);
      expect(summary.root_group.checks.filter((c: { fails: number }) => c.fails > 0)).toEqual([]);
      expect(r.exitCode, r.stderr).toBe(0);
    });
  }

  const noGrpcurl = grpcurlSkipReason();
  it.skipIf(noGrpcurl !== undefined)('grpcurl lists the platform services through the gateway', async () => {
    const state = JSON.parse(readFileSync(join(ws.dir, '.platform', 'state.json'), 'utf8')) as {
      gatewayUrl: string;
    };
    const list = await grpcurl(['-plaintext', new URL(state.gatewayUrl).host, 'list']);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.stdout.split('\n')).toContain('platform.analytics.v1.Analytics');
  });
});
