/** The deploy/canary CLI without a running platform: plans, config errors, state left by a dead runner. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, workspace } from '../helpers/cli.ts';

const YAML = (conditions: string) => `name: cli-e2e
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
  prod: { cloud: aws, region: eu-west-1, provider: local, protected: true }
services:
  web: { path: ./web, port: 18999, routes: [/web] }
delivery:
  analysis:
    conditions: [${conditions}]
`;

describe('deploy and canary without a running platform', () => {
  let ws: ReturnType<typeof workspace>;
  beforeAll(() => {
    ws = workspace({ 'platform.yaml': YAML("'error_rate < 1%'") });
  });
  afterAll(() => ws.dispose());

  it('canary status with no rollouts', async () => {
    const r = await runCli(['canary', 'status'], { cwd: ws.dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('no rollouts yet');
  });

  it('deploy --dry-run prints the plan and changes nothing', async () => {
    const r = await runCli(['deploy', 'web', '--release', 'v2', '--dry-run', '--json'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      dryRun: true,
      plan: { strategy: 'canary', timeToFullPromotionMs: 12_000 },
    });
  });

  it('a protected environment needs --allow-prod', async () => {
    const r = await runCli(['deploy', 'web', '--release', 'v2', '--env', 'prod', '--wait'], { cwd: ws.dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('environment "prod" is protected');
  });

  it('a bad condition is reported at its platform.yaml line before anything happens', async () => {
    const bad = workspace({ 'platform.yaml': YAML("'error_rate < 1%', 'p99 < 300 ms'") });
    try {
      const r = await runCli(['canary', 'plan', 'web'], { cwd: bad.dir });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(
        /platform\.yaml:9:\d+: unexpected "ms" after the condition \(condition "p99 < 300 ms"\)/,
      );
    } finally {
      bad.dispose();
    }
  });

  it('a rollout whose runner is gone: status says so, deploy and pause refuse with what to do', async () => {
    mkdirSync(join(ws.dir, '.platform', 'rollouts'), { recursive: true });
    const now = new Date().toISOString();
    writeFileSync(
      join(ws.dir, '.platform', 'rollouts', 'web.json'),
      JSON.stringify({
        schema: 1,
        id: 'web-x',
        service: 'web',
        release: 'v2',
        stable: 'v1',
        strategy: 'canary',
        phase: 'Paused',
        steps: [{ kind: 'setWeight', weight: 10 }],
        stepIndex: 0,
        weight: 10,
        startedAt: now,
        updatedAt: now,
        pid: 2 ** 22 + 7,
        message: 'paused',
        analyses: [],
        events: [],
      }),
    );
    const status = await runCli(['canary', 'status', 'web'], { cwd: ws.dir });
    expect(status.stdout).toContain('runner not alive');
    const deploy = await runCli(['deploy', 'web', '--release', 'v3', '--wait'], { cwd: ws.dir });
    expect(deploy.exitCode).toBe(2);
    expect(deploy.stderr).toContain('left unfinished');
    expect(deploy.stderr).toContain('canary abort web');
    const pause = await runCli(['canary', 'pause', 'web'], { cwd: ws.dir });
    expect(pause.exitCode).toBe(1);
    expect(pause.stderr).toContain('is gone');
    const dry = await runCli(['canary', 'abort', 'web', '--dry-run'], { cwd: ws.dir });
    expect(dry.stdout).toContain('abort directly through the provider');
  });
});
