/**
 * Progressive delivery end to end on the local platform: the real gateway (builtin:gateway) in
 * front of a test service whose releases are built from different sources (good, failing 20%,
 * +400 ms), driven by `bin/platformctl` as a user or CI job would, under steady traffic.
 */
import type { ChildProcess } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../src/core/sleep.ts';
import { obtainToken } from '../../src/load/setup.ts';
import { runCli, startCli, workspace } from '../helpers/cli.ts';
import { waitFor } from '../helpers/poll.ts';
import { freePorts } from '../helpers/runtime-platform.ts';
import { steadyTraffic } from '../helpers/traffic.ts';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'web');

/** The signed-in user the traffic below comes from (see beforeAll). */
let bearer: Record<string, string> = {};

/**
 * Steady open-model traffic through the gateway until stopped; every response is recorded. It is
 * a signed-in user's: `up` limits anonymous clients to 50 requests/s per address, and up to 120
 * requests/s come from this one.
 */
const traffic = (url: string, rps: number, headers: Record<string, string> = {}) =>
  steadyTraffic(url, rps, { headers: { ...bearer, ...headers }, maxSeconds: 120 });

/** Background CLI processes still running; killed after the suite so a failure leaves none behind. */
const children = new Set<ChildProcess>();

/** Runs the CLI in the background (the "first terminal"), resolving with its exit and output. */
function background(
  args: string[],
  cwd: string,
): { child: ChildProcess; done: Promise<{ code: number; out: string }> } {
  const cli = startCli(args, { cwd, env: { CI: 'true' } });
  children.add(cli.child);
  cli.child.on('close', () => children.delete(cli.child));
  const done = cli.exited.then((code) => ({ code, out: `${cli.stdout()}${cli.stderr()}` }));
  return { child: cli.child, done };
}

const until = <T>(what: string, fn: () => T | undefined): Promise<T> => waitFor(what, fn, 300);

describe('deploy and canary on the local platform', () => {
  let ws: ReturnType<typeof workspace>;
  let url: string;

  const rolloutState = () => {
    try {
      return JSON.parse(readFileSync(join(ws.dir, '.platform', 'rollouts', 'web.json'), 'utf8')) as {
        phase: string;
        weight: number;
      };
    } catch {
      return undefined;
    }
  };

  async function release(behaviour: { errorRate: number; delayMs: number }): Promise<string> {
    writeFileSync(
      join(ws.dir, 'web', 'src', 'behaviour.ts'),
      `export const behaviour = ${JSON.stringify(behaviour)};\n`,
    );
    const r = await runCli(['release', 'build', 'web', '--json'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { version: string }).version;
  }

  async function versions(): Promise<{ versions: string[]; weights: Record<string, number> | undefined }> {
    const r = await runCli(['status', '--json'], { cwd: ws.dir });
    const web = (
      JSON.parse(r.stdout) as {
        services: { name: string; versions: string[]; traffic?: { weights: Record<string, number> } }[];
      }
    ).services.find((s) => s.name === 'web');
    return { versions: web?.versions ?? [], weights: web?.traffic?.weights };
  }

  async function deploy(version: string, extra: string[] = []) {
    return runCli(['deploy', 'web', '--release', version, '--wait', '--json', ...extra], {
      cwd: ws.dir,
      timeoutMs: 90_000,
    });
  }

  beforeAll(async () => {
    const [gw, web, auth] = await freePorts(3);
    ws = workspace({
      'platform.yaml': `name: canary-e2e
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway: { path: builtin:gateway, port: ${gw}, kind: gateway, dependsOn: [web, auth] }
  # the suite can outlive the default 10-minute access token on a busy machine
  auth: { path: builtin:auth, port: ${auth}, routes: [/auth, /.well-known], env: { AUTH_ACCESS_TTL_SECONDS: '3600' } }
  web: { path: ./web, port: ${web}, routes: [/web] }
delivery:
  steps:
    - setWeight: 20
    - analysis: {}
    - setWeight: 100
  analysis:
    interval: 1s
    count: 2
    minSampleSize: 10
    inconclusiveLimit: 2
    conditions: ['error_rate < 1%', 'canary.p99 < 2 * stable.p99 + 200ms', 'canary.p50 < stable.p50 + 150ms']
  blueGreen: { scaleDownDelay: 1s }
`,
    });
    cpSync(FIXTURE, join(ws.dir, 'web'), { recursive: true });
    const up = await runCli(['up', '--detach'], { cwd: ws.dir, timeoutMs: 120_000 });
    expect(up.exitCode, up.stderr).toBe(0);
    const gateway = `http://127.0.0.1:${gw}`;
    bearer = { authorization: `Bearer ${(await obtainToken(gateway, { signup: true })).token}` };
    url = `${gateway}/web/x`;
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await runCli(['down'], { cwd: ws.dir });
    ws.dispose();
  });

  it('canary plan: time to promotion and to detection from the configured steps', async () => {
    const r = await runCli(['canary', 'plan', 'web', '--json'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      strategy: 'canary',
      timeToFullPromotionMs: 2000,
      worstCaseToPromotionMs: 4000,
      detection: { worstCaseMs: 1000, exposedWeight: 20 },
    });
  });

  it('promotes a good release through every step: 100% new, old stopped', async () => {
    const before = (await versions()).versions;
    const good = await release({ errorRate: 0, delayMs: 1 });
    const load = traffic(url, 100);
    const r = await deploy(good);
    const samples = await load.stop();
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(events.filter((e) => e.type === 'traffic.set')).toHaveLength(2);
    expect(events.filter((e) => e.type === 'analysis.pass')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'result', phase: 'Promoted' });
    expect(await versions()).toEqual({ versions: [good], weights: { [good]: 100 } });
    expect(before).not.toContain(good);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    const after = traffic(url, 50);
    await sleep(600);
    expect(new Set((await after.stop()).map((s) => s.version))).toEqual(new Set([good]));
  });

  it('rolls a release failing 20% back under steady traffic; user failures bounded by weight × exposure', async () => {
    const stable = (await versions()).versions[0] as string;
    const bad = await release({ errorRate: 0.2, delayMs: 1 });
    const load = traffic(url, 100);
    const r = await deploy(bad);
    const during = await load.stop();
    expect(r.exitCode, r.stdout + r.stderr).toBe(4);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(result).toMatchObject({ phase: 'RolledBack', exitCode: 4 });
    const failed = during.filter((s) => s.status >= 500).length;
    const canaryShare = during.filter((s) => s.version === bad).length / during.length;
    // At most 20% of traffic went to the canary, and it fails 20% of what it gets.
    expect(canaryShare).toBeLessThanOrEqual(0.2 + 0.05);
    expect(failed / during.length).toBeLessThanOrEqual(0.2 * 0.2 + 0.01);
    expect(during.filter((s) => s.status >= 500).every((s) => s.version === bad)).toBe(true);
    expect(await versions()).toEqual({ versions: [stable], weights: { [stable]: 100 } });
    const after = traffic(url, 100);
    await sleep(1000);
    const tail = await after.stop();
    expect(tail.length).toBeGreaterThan(50);
    expect(tail.every((s) => s.status === 200 && s.version === stable)).toBe(true);
    const report = JSON.parse(readFileSync(result.report.json, 'utf8'));
    expect(report.outcome.result).toBe('rolledBack');
  });

  it('rolls a release adding 400 ms back by the latency condition', async () => {
    const stable = (await versions()).versions[0] as string;
    const slow = await release({ errorRate: 0, delayMs: 400 });
    const load = traffic(url, 100);
    const r = await deploy(slow);
    await load.stop();
    expect(r.exitCode, r.stdout + r.stderr).toBe(4);
    expect(r.stdout).toMatch(/canary\.p(50|99) < .* is false/);
    expect((await versions()).versions).toEqual([stable]);
    const again = traffic(url, 100);
    const retry = await runCli(['canary', 'retry', 'web', '--wait', '--json'], {
      cwd: ws.dir,
      timeoutMs: 40_000,
    });
    await again.stop();
    expect(retry.exitCode, retry.stdout + retry.stderr).toBe(4);
    expect(retry.stdout).toContain(`rolling out web ${slow}`);
  }, 120_000);

  it('low traffic is inconclusive, never promoted: deploy --wait ends (exit 8), with a warning before it starts', async () => {
    const stable = (await versions()).versions[0] as string;
    const quiet = await release({ errorRate: 0, delayMs: 2 });
    const plan = await runCli(['canary', 'plan', 'web', '--json'], { cwd: ws.dir });
    expect(JSON.parse(plan.stdout).traffic.requiredRps).toBe(50);
    expect(plan.stderr).toContain('the analysis needs about 50 req/s overall');
    // No terminal, no traffic: the rollout rolls back once the analysis runs out of time.
    const r = await deploy(quiet);
    expect(r.exitCode, r.stdout + r.stderr).toBe(8);
    expect(r.stderr).toContain('the analysis needs about 50 req/s overall');
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(result).toMatchObject({ phase: 'RolledBack', exitCode: 8, outcome: { deadlineExceeded: true } });
    expect(result.outcome.reason).toMatch(/inconclusive measurements \(limit 2\)/);
    expect((await versions()).versions).toEqual([stable]);
  });

  it('onDeadline: pause holds the canary, ends deploy --wait with exit 8; abort and promote work from another terminal', async () => {
    const stable = (await versions()).versions[0] as string;
    const quiet = await release({ errorRate: 0, delayMs: 2 });
    const config = join(ws.dir, 'platform.yaml');
    const original = readFileSync(config, 'utf8');
    writeFileSync(
      config,
      original.replace('    inconclusiveLimit: 2\n', '    inconclusiveLimit: 2\n    onDeadline: pause\n'),
    );
    try {
      const first = await deploy(quiet);
      expect(first.exitCode, first.stdout + first.stderr).toBe(8);
      expect(rolloutState()).toMatchObject({ phase: 'Inconclusive', weight: 20 });
      const dry = await runCli(['canary', 'abort', 'web', '--dry-run'], { cwd: ws.dir });
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(rolloutState()?.phase).toBe('Inconclusive');
      const abort = await runCli(['canary', 'abort', 'web'], { cwd: ws.dir });
      expect(abort.exitCode, abort.stderr).toBe(0);
      expect((await versions()).versions).toEqual([stable]);

      const second = await deploy(quiet);
      expect(second.exitCode, second.stdout + second.stderr).toBe(8);
      const status = await runCli(['canary', 'status', 'web', '--json'], { cwd: ws.dir });
      expect(JSON.parse(status.stdout)).toMatchObject({ phase: 'Inconclusive', release: quiet });
      const human = await runCli(['canary', 'status', 'web'], { cwd: ws.dir });
      expect(human.stdout).toContain('(onDeadline: pause): canary promote|abort web');
      const again = await runCli(['deploy', 'web', '--release', quiet, '--wait'], { cwd: ws.dir });
      expect(again.exitCode).toBe(2);
      expect(again.stderr).toContain('is held at 20%');
      const promote = await runCli(['canary', 'promote', 'web', '--full'], { cwd: ws.dir });
      expect(promote.exitCode, promote.stderr).toBe(0);
      expect((await versions()).versions).toEqual([quiet]);
    } finally {
      writeFileSync(config, original);
    }
  });

  it('Ctrl-C during a canary aborts cleanly back to stable', async () => {
    const stable = (await versions()).versions[0] as string;
    const next = await release({ errorRate: 0, delayMs: 3 });
    const run = background(['deploy', 'web', '--release', next, '--wait'], ws.dir);
    await until('weight 20', () => (rolloutState()?.weight === 20 ? true : undefined));
    run.child.kill('SIGINT');
    const done = await run.done;
    expect(done.code, done.out).toBe(130);
    expect(await versions()).toEqual({ versions: [stable], weights: { [stable]: 100 } });
  });

  it('blue/green switches atomically: no request sees a 5xx', async () => {
    const green = await release({ errorRate: 0, delayMs: 1 });
    const users = traffic(url, 80);
    const preview = traffic(url, 40, { 'x-canary': 'always' });
    const r = await deploy(green, ['--strategy', 'bluegreen']);
    const [u, p] = [await users.stop(), await preview.stop()];
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect([...u, ...p].filter((s) => s.status !== 200)).toEqual([]);
    expect(u.some((s) => s.version === green)).toBe(true);
    expect(await versions()).toEqual({ versions: [green], weights: { [green]: 100 } });
  });

  it('deploy without --wait runs in the background; canary status --watch follows it to the end', async () => {
    const next = await release({ errorRate: 0, delayMs: 2 });
    const load = traffic(url, 100);
    const r = await runCli(['deploy', 'web', '--release', next, '--json'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ service: 'web', started: true });
    const watch = await runCli(['canary', 'status', 'web', '--watch', '--json'], {
      cwd: ws.dir,
      timeoutMs: 60_000,
    });
    await load.stop();
    expect(watch.exitCode, watch.stderr).toBe(0);
    const lines = watch.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; phase?: string });
    expect(lines.some((l) => l.type === 'analysis.pass')).toBe(true);
    expect(lines.at(-1)).toMatchObject({ type: 'result', phase: 'Promoted' });
    expect((await versions()).versions).toEqual([next]);
  });

  it('rolling replaces instances one at a time without failed requests', async () => {
    const next = await release({ errorRate: 0, delayMs: 1 });
    const load = traffic(url, 60);
    const r = await deploy(next, ['--strategy', 'rolling', '--replicas', '2']);
    const samples = await load.stop();
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const weights = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; data?: { weights?: Record<string, number> } })
      .filter((e) => e.type === 'traffic.set')
      .map((e) => e.data?.weights?.[next]);
    expect(weights).toEqual([50, 100]);
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    expect((await versions()).versions).toEqual([next]);
  });

  it('rolling judges each batch: +400 ms on every request is rolled back after the first batch', async () => {
    const stable = (await versions()).versions[0] as string;
    const slow = await release({ errorRate: 0, delayMs: 400 });
    const load = traffic(url, 60);
    const r = await deploy(slow, ['--strategy', 'rolling', '--replicas', '2']);
    await load.stop();
    expect(r.exitCode, r.stdout + r.stderr).toBe(4);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(result.outcome.reason).toMatch(/^batch 1\/2: .*canary\.(p99|p50)/);
    expect(await versions()).toEqual({ versions: [stable], weights: { [stable]: 100 } });
  });
});
