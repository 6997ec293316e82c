import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, PlatformError } from '../../src/core/errors.ts';
import { type RolloutOptions, startRollout } from '../../src/delivery/rollout.ts';
import { type RolloutEvent, readState, runnerAlive, sendCommand } from '../../src/delivery/store.ts';
import { compileConditions, resolveStrategy } from '../../src/delivery/strategy.ts';
import { Notifier } from '../../src/notify/webhooks.ts';
import { until } from '../helpers/poll.ts';
import { parseConfigText } from './config.ts';
import { FakePlatform } from './fakes.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'rollout-test-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function options(
  platform: FakePlatform,
  delivery: string,
  extra: Partial<RolloutOptions> = {},
): RolloutOptions & { events: RolloutEvent[] } {
  const config = parseConfigText(delivery);
  const { strategy, origins } = resolveStrategy(config, 'api');
  const events: RolloutEvent[] = [];
  return {
    root,
    service: 'api',
    release: 'v2',
    strategy,
    conditions: compileConditions(undefined, origins),
    provider: platform.provider(),
    source: platform.source(),
    replicas: 1,
    tickMs: 5,
    onEvent: (e) => events.push(e),
    events,
    ...extra,
  };
}

const FAST = `
  analysis:
    interval: 40ms
    count: 2
    minSampleSize: 20
    inconclusiveLimit: 1
`;

describe('rollout engine', () => {
  it('rolls back (exit 4, not an error) a release the provider says never became ready', async () => {
    const p = new FakePlatform('v1');
    const provider = p.provider();
    provider.deploy = async () => {
      throw new PlatformError(
        'ROLLOUT_TIMEOUT',
        'api-v2 was not ready within 4s: pod api-v2-x is Running but not Ready',
      );
    };
    const result = await startRollout(options(p, FAST, { provider }));
    expect(result.exitCode).toBe(ExitCode.rolledBack);
    expect(result.state.outcome).toMatchObject({
      result: 'rolledBack',
      reason: 'v2 never became ready: api-v2 was not ready within 4s: pod api-v2-x is Running but not Ready',
    });
    expect(p.weights).toEqual({ v1: 100 });
  });

  it('promotes a good release through every step', async () => {
    const p = new FakePlatform('v1');
    const opts = options(p, FAST);
    const result = await startRollout(opts);
    expect(result.exitCode).toBe(ExitCode.ok);
    expect(result.state.phase).toBe('Promoted');
    expect(p.weightHistory()).toEqual([{ v1: 90, v2: 10 }, { v1: 50, v2: 50 }, { v2: 100 }]);
    expect(p.calls.at(-1)).toEqual({ op: 'retire', args: ['api', 'v1'] });
    expect(p.versions).toEqual(['v2']);
    expect(opts.events.filter((e) => e.type === 'analysis.pass')).toHaveLength(2);
    const state = readState(root, 'api');
    expect(state?.phase).toBe('Promoted');
    expect(existsSync(state?.report?.json ?? '')).toBe(true);
    expect(readFileSync(state?.report?.markdown ?? '', 'utf8')).toContain('promoted');
  });

  it('rolls a release failing 20% of requests back, with evidence', async () => {
    const p = new FakePlatform('v1');
    p.behaviour.v2 = { errorRate: 0.2, p99: 100 };
    const result = await startRollout(options(p, FAST));
    expect(result.exitCode).toBe(ExitCode.rolledBack);
    expect(result.state.phase).toBe('RolledBack');
    expect(p.weightHistory().at(-1)).toEqual({ v1: 100, v2: 0 });
    expect(p.weights).toEqual({ v1: 100 });
    expect(p.versions).toEqual(['v1']);
    expect(Math.max(...p.weightHistory().map((w) => w.v2 ?? 0))).toBe(10);
    const report = JSON.parse(readFileSync(result.state.report?.json ?? '', 'utf8'));
    expect(report.outcome.result).toBe('rolledBack');
    expect(report.outcome.reason).toMatch(/significantly worse|error_rate/);
  });

  it('detects a latency regression (+400 ms) by the relative condition', async () => {
    const p = new FakePlatform('v1');
    p.behaviour.v2 = { errorRate: 0, p99: 500 };
    const result = await startRollout(options(p, FAST));
    expect(result.exitCode).toBe(ExitCode.rolledBack);
    expect(result.state.outcome?.reason).toContain('canary.p99 < 1.5 * stable.p99 + 50ms');
    const failed = result.state.analyses[0]?.measurements[0];
    expect(failed?.canary.p99).toBe(500);
    expect(failed?.verdict).toBe('fail');
  });

  it('early abort fires on a statistically worse error ratio before the first measurement', async () => {
    const p = new FakePlatform('v1');
    p.behaviour.v2 = { errorRate: 0.2, p99: 100 };
    const opts = options(
      p,
      `
  analysis:
    interval: 5s
    count: 2
`,
    );
    const result = await startRollout(opts);
    expect(result.exitCode).toBe(ExitCode.rolledBack);
    expect(result.state.analyses[0]?.measurements).toHaveLength(0);
    expect(result.state.outcome?.reason).toMatch(/significantly worse/);
  });

  it('low traffic is inconclusive: past inconclusiveLimit it rolls back and ends with exit 8', async () => {
    const p = new FakePlatform('v1', 100);
    const opts = options(p, FAST);
    const result = await startRollout(opts);
    expect(result.exitCode).toBe(ExitCode.deadlineExceeded);
    expect(result.state.phase).toBe('RolledBack');
    expect(result.state.outcome).toMatchObject({ result: 'rolledBack', deadlineExceeded: true });
    expect(result.state.outcome?.reason).toMatch(
      /2 inconclusive measurements \(limit 1\).*onDeadline: abort/,
    );
    expect(Math.max(...p.weightHistory().map((w) => w.v2 ?? 0))).toBe(10);
    expect(p.weights).toEqual({ v1: 100 });
  });

  it('onDeadline: pause holds the traffic, ends the runner with exit 8 and leaves the rollout to a human', async () => {
    const p = new FakePlatform('v1', 100);
    const opts = options(p, `${FAST}    onDeadline: pause\n`);
    const result = await startRollout(opts);
    expect(result.exitCode).toBe(ExitCode.deadlineExceeded);
    const state = readState(root, 'api');
    expect(state).toMatchObject({ phase: 'Inconclusive', weight: 10 });
    expect(state?.held?.reason).toContain('inconclusive measurements');
    expect(state && runnerAlive(state)).toBe(false);
    expect(p.weights).toEqual({ v1: 90, v2: 10 });
    expect(p.versions).toEqual(['v1', 'v2']);
    expect(opts.events.at(-1)?.message).toContain('canary promote|abort api');
  });

  it('progressDeadline ends an analysis that has no verdict in time, however many inconclusives are allowed', async () => {
    const p = new FakePlatform('v1', 100);
    const opts = options(
      p,
      `
  analysis:
    interval: 40ms
    count: 2
    minSampleSize: 20
    inconclusiveLimit: 1000
    progressDeadline: 300ms
`,
    );
    const result = await startRollout(opts);
    expect(result.exitCode).toBe(ExitCode.deadlineExceeded);
    expect(result.state.outcome?.reason).toContain('progress deadline of 0.3s passed without a verdict');
    expect(p.weights).toEqual({ v1: 100 });
  });

  it('pause, resume and promote through the control channel', async () => {
    const p = new FakePlatform('v1');
    const opts = options(
      p,
      `
  steps:
    - setWeight: 20
    - pause: { untilPromoted: true }
    - setWeight: 40
    - pause: 10s
    - setWeight: 100
`,
    );
    const running = startRollout(opts);
    await until(() => readState(root, 'api')?.phase === 'Paused', 'Paused', 2000, 5);
    sendCommand(root, 'api', 'resume');
    await until(() => readState(root, 'api')?.stepIndex === 3, 'the 10s pause', 2000, 5);
    sendCommand(root, 'api', 'pause');
    await until(() => readState(root, 'api')?.phase === 'Paused', 'Paused again', 2000, 5);
    sendCommand(root, 'api', 'promote', { full: true });
    const result = await running;
    expect(result.state.phase).toBe('Promoted');
    expect(p.weightHistory()).toEqual([{ v1: 80, v2: 20 }, { v1: 60, v2: 40 }, { v2: 100 }]);
    expect(opts.events.map((e) => e.type)).toContain('control.received');
  });

  it('Ctrl-C aborts cleanly back to stable', async () => {
    const p = new FakePlatform('v1');
    const ac = new AbortController();
    const opts = options(
      p,
      `
  steps:
    - setWeight: 30
    - pause: 1m
`,
      { signal: ac.signal },
    );
    const running = startRollout(opts);
    await until(() => p.weights.v2 === 30, 'weight 30', 2000, 5);
    ac.abort();
    const result = await running;
    expect(result.exitCode).toBe(ExitCode.interrupted);
    expect(result.state.outcome).toMatchObject({ result: 'rolledBack', interrupted: true });
    expect(p.weights).toEqual({ v1: 100 });
    expect(p.versions).toEqual(['v1']);
  });

  it('blue/green: preview by header, one atomic switch, blue kept for the delay then retired', async () => {
    const p = new FakePlatform('v1');
    p.previewRps = 20_000;
    const opts = options(
      p,
      `
  strategy: bluegreen
  blueGreen: { scaleDownDelay: 50ms }
${FAST}`,
    );
    const result = await startRollout(opts);
    expect(result.state.phase).toBe('Promoted');
    const traffic = p.calls.filter((c) => c.op === 'setTraffic').map((c) => c.args[1]);
    expect(traffic[0]).toEqual({ weights: { v1: 100, v2: 0 }, header: 'x-canary: always' });
    expect(traffic[1]).toEqual({ weights: { v2: 100, v1: 0 } });
    expect(traffic).toHaveLength(2);
    expect(p.calls.at(-1)).toEqual({ op: 'retire', args: ['api', 'v1'] });
  });

  it('blue/green: pause during the scale-down delay keeps blue until promoted', async () => {
    const p = new FakePlatform('v1');
    p.previewRps = 20_000;
    const opts = options(
      p,
      `
  strategy: bluegreen
  blueGreen: { scaleDownDelay: 1m }
${FAST}`,
    );
    const running = startRollout(opts);
    await until(() => p.weights.v2 === 100, 'the switch', 2000, 5);
    sendCommand(root, 'api', 'pause');
    await until(() => readState(root, 'api')?.phase === 'Paused', 'Paused', 2000, 5);
    expect(p.versions).toEqual(['v1', 'v2']);
    sendCommand(root, 'api', 'promote');
    const result = await running;
    expect(result.state.phase).toBe('Promoted');
    expect(p.versions).toEqual(['v2']);
  });

  it('blue/green: abort during the scale-down delay switches back instantly', async () => {
    const p = new FakePlatform('v1');
    p.previewRps = 20_000;
    const opts = options(
      p,
      `
  strategy: bluegreen
  blueGreen: { scaleDownDelay: 1m }
${FAST}`,
    );
    const running = startRollout(opts);
    await until(() => p.weights.v2 === 100, 'the switch', 2000, 5);
    sendCommand(root, 'api', 'abort');
    const result = await running;
    expect(result.exitCode).toBe(ExitCode.rolledBack);
    expect(p.weights).toEqual({ v1: 100 });
    expect(p.versions).toEqual(['v1']);
  });

  it('rolling: replaces instances one by one', async () => {
    const p = new FakePlatform('v1');
    const opts = options(
      p,
      `
  strategy: rolling
${FAST}`,
      { replicas: 3 },
    );
    const result = await startRollout(opts);
    expect(result.state.phase).toBe('Promoted');
    expect(p.weightHistory()).toEqual([{ v1: 67, v2: 33 }, { v1: 33, v2: 67 }, { v2: 100 }]);
    expect(p.calls.filter((c) => c.op === 'scale').map((c) => c.args.slice(1))).toEqual([
      [2, 'v1'],
      [2, 'v2'],
      [1, 'v1'],
      [3, 'v2'],
    ]);
  });

  it('rolling: a latency regression in the first batch is rolled back by the analysis', async () => {
    const p = new FakePlatform('v1');
    p.behaviour.v2 = { errorRate: 0, p99: 400 };
    const opts = options(p, `\n  strategy: rolling\n${FAST}`, { replicas: 2 });
    const result = await startRollout(opts);
    expect(result.exitCode).toBe(ExitCode.rolledBack);
    expect(result.state.outcome?.reason).toMatch(/^batch 1\/2: .*canary\.p99 < 1\.5 \* stable\.p99 \+ 50ms/);
    expect(p.weightHistory()).toEqual([
      { v1: 50, v2: 50 },
      { v1: 100, v2: 0 },
    ]);
    expect(p.calls.filter((c) => c.op === 'scale').at(-1)?.args).toEqual(['api', 2, 'v1']);
  });

  it('bake: keeps analysing at 100% with stable kept, and rolls back a regression that starts after promotion', async () => {
    const p = new FakePlatform('v1');
    const opts = options(p, `  bake: 10s\n${FAST}`);
    const running = startRollout(opts);
    await until(() => readState(root, 'api')?.phase === 'Baking', 'Baking', 2000, 5);
    expect(p.versions).toEqual(['v1', 'v2']);
    expect(p.weights).toEqual({ v2: 100 });
    p.behaviour.v2 = { errorRate: 0, p99: 500 };
    const result = await running;
    expect(result.exitCode).toBe(ExitCode.rolledBack);
    expect(result.state.outcome?.reason).toMatch(/^bake: .*canary\.p99 < 1\.5 \* stable\.p99 \+ 50ms/);
    expect(p.weights).toEqual({ v1: 100 });
    expect(p.versions).toEqual(['v1']);
    // Compared with stable's figures from before the switch (stable has no traffic at 100%).
    const bake = result.state.analyses.at(-1);
    expect(bake?.measurements.at(-1)?.stable.p99).toBe(100);
  });

  it('bake: a good release is promoted after the bake; without traffic to judge, it is out of time (exit 8)', async () => {
    const p = new FakePlatform('v1');
    const good = await startRollout(options(p, `  bake: 200ms\n${FAST}`));
    expect(good.exitCode).toBe(ExitCode.ok);
    expect(good.events.map((e) => e.type)).toContain('bake.started');
    expect(good.state.analyses.at(-1)?.outcome?.verdict).toBe('pass');
    expect(p.calls.at(-1)).toEqual({ op: 'retire', args: ['api', 'v1'] });

    const quiet = new FakePlatform('v1');
    const opts = options(quiet, `  bake: 200ms\n${FAST}`);
    const running = startRollout(opts);
    await until(() => readState(root, 'api')?.phase === 'Baking', 'Baking', 2000, 5);
    quiet.rps = 0;
    const result = await running;
    expect(result.exitCode).toBe(ExitCode.deadlineExceeded);
    expect(result.state.outcome?.reason).toMatch(/^bake: only 0 of \d+ measurements passed/);
    expect(quiet.weights).toEqual({ v1: 100 });
  });

  it('refuses to roll out the version already running', async () => {
    const p = new FakePlatform('v2');
    await expect(startRollout(options(p, FAST))).rejects.toThrow(/already runs v2/);
  });

  it('notifies webhooks of start and rollback; a refusing gate blocks before anything is deployed', async () => {
    const received: { path: string; body: { event: string; reason?: string; evidence?: unknown[] } }[] = [];
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (d) => {
        text += d;
      });
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: JSON.parse(text) });
        res.writeHead(req.url === '/deny' ? 409 : 204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const p = new FakePlatform('v1');
      p.behaviour.v2 = { errorRate: 0.2, p99: 100 };
      const notifier = new Notifier([{ name: 'ops', url: `${base}/ops`, format: 'generic' }]);
      const result = await startRollout(options(p, FAST, { notifier }));
      await notifier.flush();
      expect(result.exitCode).toBe(ExitCode.rolledBack);
      expect(received.map((r) => r.body.event)).toEqual([
        'rollout.gate',
        'rollout.started',
        'rollout.rolledBack',
      ]);
      expect(received[2]?.body.reason).toMatch(/significantly worse|error_rate/);
      expect(received[2]?.body.evidence).toHaveLength(1);

      const q = new FakePlatform('v1');
      const gate = new Notifier([
        { name: 'freeze', url: `${base}/deny`, format: 'generic', events: ['rollout.gate'] },
      ]);
      await expect(startRollout(options(q, FAST, { notifier: gate }))).rejects.toThrow(
        /gate "freeze" refused/,
      );
      expect(q.calls).toEqual([]);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('says once when the early-abort check cannot read metrics, and when it can again', async () => {
    const p = new FakePlatform('v1');
    const source = p.source();
    let failuresLeft = 4;
    const query = source.query;
    source.query = async (service, version, windowMs) => {
      // Only once the canary has traffic: that is when the early-abort check starts asking.
      if ((p.weights.v2 ?? 0) > 0 && failuresLeft > 0) {
        failuresLeft--;
        throw new Error('gateway does not answer');
      }
      return query(service, version, windowMs);
    };
    const result = await startRollout(options(p, FAST, { source }));
    const said = result.events.filter((e) => e.type.startsWith('early-abort.metrics-'));
    expect(said.map((e) => e.type)).toEqual([
      'early-abort.metrics-unavailable',
      'early-abort.metrics-restored',
    ]);
    expect(said[0]?.message).toBe(
      'early-abort check cannot read metrics from fake: gateway does not answer; only the interval analysis judges v2 until they are back',
    );
  });

  it('a metrics outage is inconclusive, never a rollback or a pass', async () => {
    const p = new FakePlatform('v1');
    const opts = options(p, FAST);
    opts.source = {
      name: 'broken',
      query: async () => {
        throw new Error('gateway does not answer');
      },
    };
    const result = await startRollout(opts);
    expect(result.exitCode).toBe(ExitCode.deadlineExceeded);
    expect(result.state.outcome?.reason).toContain('metrics unavailable: gateway does not answer');
    expect(p.weights).toEqual({ v1: 100 });
    expect(result.events.filter((e) => e.type === 'early-abort.metrics-unavailable')).toHaveLength(1);
  });
});
