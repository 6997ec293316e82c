/**
 * Chaos experiments end to end on the real runtime: each sample experiment passes on a healthy
 * platform; with a bug planted in analytics (acknowledging events before committing them) the
 * kill experiment's verdict turns to "deviated" with the lost events counted; Ctrl-C in the middle
 * rolls every fault back.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../src/core/sleep.ts';
import { REPO_ROOT, runCli, startCli } from '../helpers/cli.ts';
import { type RuntimePlatform, startRuntimePlatform } from '../helpers/runtime-platform.ts';

const EXPERIMENTS = join(REPO_ROOT, 'experiments');

async function adminFaults(p: RuntimePlatform): Promise<unknown[]> {
  const token = readFileSync(join(p.dir, '.platform', 'admin-token'), 'utf8').trim();
  const r = await fetch(`${p.gatewayAdminUrl}/admin/faults`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return ((await r.json()) as { faults: unknown[] }).faults;
}

describe('chaos experiments on a healthy platform', () => {
  let platform: RuntimePlatform;
  beforeAll(async () => {
    platform = await startRuntimePlatform();
  }, 240_000);
  afterAll(async () => platform?.stop());

  for (const file of ['kill-analytics-under-ingest.yaml', 'content-latency.yaml', 'bus-outage.yaml']) {
    it(`${file} passes and writes a journal`, async () => {
      const r = await runCli(['--json', 'chaos', 'run', join(EXPERIMENTS, file)], {
        cwd: platform.dir,
        timeoutMs: 180_000,
      });
      const journal = JSON.parse(r.stdout);
      expect(journal.verdict, `${journal.reason}\n${r.stderr}`).toBe('passed');
      expect(r.exitCode).toBe(0);
      expect(journal.before.every((p: { ok: boolean }) => p.ok)).toBe(true);
      expect(journal.data.lost).toBe(0);
      expect(journal.data.ledger.events.acked + journal.data.ledger.uploads.acked).toBeGreaterThan(0);
      expect(readFileSync(journal.files.markdown, 'utf8')).toMatch(/Verdict: \*\*passed\*\*/);
      expect(await adminFaults(platform)).toEqual([]);
      if (file === 'content-latency.yaml') {
        // Passing "during" probes are evidence too, and are journaled.
        const during = journal.entries.filter((e: { type: string; ok?: boolean }) => e.type === 'probe');
        expect(during.length).toBeGreaterThan(0);
        expect(during.every((e: { ok: boolean }) => e.ok)).toBe(true);
      }
    }, 200_000);
  }

  /** content-latency with the fault held for a minute and a short lease. */
  function longLatency(name: string, lease = '2s'): string {
    const file = join(platform.dir, name);
    writeFileSync(
      file,
      readFileSync(join(EXPERIMENTS, 'content-latency.yaml'), 'utf8')
        .replace('duration: 8s', 'duration: 60s')
        .replace('limits:\n', `limits:\n  faultLease: ${lease}\n`),
    );
    return file;
  }

  async function untilInjected(run: ReturnType<typeof startCli>): Promise<void> {
    for (let i = 0; i < 300 && !/inject\s+\+500ms on content/.test(run.stderr()); i++) await sleep(100);
    expect(run.stderr()).toMatch(/inject\s+\+500ms on content/);
  }

  it('kill -9 of a chaos run cannot orphan its fault: status shows it with its expiry, then the lease lapses', async () => {
    const run = startCli(['chaos', 'run', longLatency('killed.yaml', '8s')], { cwd: platform.dir });
    await untilInjected(run);
    run.child.kill('SIGKILL');
    await run.exited;
    const status = await runCli(['status', '--json'], { cwd: platform.dir });
    const faults = JSON.parse(status.stdout).activeFaults as {
      description: string;
      expiresAt?: string;
      owner?: { alive: boolean };
    }[];
    expect(faults).toEqual([
      expect.objectContaining({
        source: 'gateway',
        description: '+500ms on content',
        expiresAt: expect.any(String),
        owner: expect.objectContaining({ alive: false }),
      }),
    ]);
    // The next run refuses to measure its steady state on top of the dead run's fault.
    const next = await runCli(['chaos', 'run', join(EXPERIMENTS, 'content-latency.yaml')], {
      cwd: platform.dir,
    });
    expect(next.exitCode).toBe(1);
    expect(next.stderr).toMatch(/left 1 fault\(s\) in force: \+500ms on content/);
    expect(next.stderr).toContain('chaos stop');
    let left = await adminFaults(platform);
    for (let i = 0; i < 150 && left.length > 0; i++) {
      await sleep(100);
      left = await adminFaults(platform);
    }
    expect(left).toEqual([]);
    await runCli(['chaos', 'stop'], { cwd: platform.dir });
  }, 120_000);

  it('chaos stop interrupts a running experiment, which reverts its fault and stops its load', async () => {
    const run = startCli(['chaos', 'run', longLatency('stopped.yaml')], { cwd: platform.dir });
    await untilInjected(run);
    const second = await runCli(['chaos', 'run', join(EXPERIMENTS, 'content-latency.yaml')], {
      cwd: platform.dir,
    });
    expect(second.exitCode).toBe(1);
    expect(second.stderr).toContain(`an experiment is already running (pid ${run.child.pid}`);
    const dry = await runCli(['chaos', 'stop', '--dry-run'], { cwd: platform.dir });
    expect(dry.stdout).toContain(`would interrupt the experiment running as pid ${run.child.pid}`);
    expect(await adminFaults(platform)).toHaveLength(1);
    const human = await runCli(['status'], { cwd: platform.dir });
    expect(human.stdout).toMatch(/1 active fault\(s\).*chaos stop/);
    expect(human.stdout).toMatch(/\+500ms on content\s+in \d+s/);
    const stop = await runCli(['--json', 'chaos', 'stop'], { cwd: platform.dir, timeoutMs: 60_000 });
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(JSON.parse(stop.stdout)).toMatchObject({ runner: run.child.pid, runnerStopped: true });
    expect(await run.exited).toBe(130);
    expect(run.stderr()).toMatch(/revert\s+\+500ms on content/);
    expect(await adminFaults(platform)).toEqual([]);
    const status = await runCli(['status', '--json'], { cwd: platform.dir });
    expect(JSON.parse(status.stdout).activeFaults).toEqual([]);
  }, 120_000);

  it('status shows a SIGSTOPped instance as paused, not as merely unhealthy', async () => {
    const before = JSON.parse((await runCli(['status', '--json'], { cwd: platform.dir })).stdout) as {
      services: { name: string; instances: { id: string; pid: number; state: string }[] }[];
    };
    const victim = before.services.find((x) => x.name === 'analytics')?.instances[0];
    expect(victim?.pid).toBeGreaterThan(0);
    process.kill(victim?.pid as number, 'SIGSTOP');
    try {
      const json = JSON.parse(
        (await runCli(['status', '--json'], { cwd: platform.dir })).stdout,
      ) as typeof before;
      const inst = json.services.flatMap((x) => x.instances).find((i) => i.id === victim?.id);
      expect(inst?.state).toBe('paused');
      const human = await runCli(['status'], { cwd: platform.dir });
      expect(human.stdout).toContain('paused (SIGSTOP)');
    } finally {
      process.kill(victim?.pid as number, 'SIGCONT');
    }
  }, 60_000);

  it('steady-state probes go past the JWT check: a fault left on content fails the next run before it starts', async () => {
    const token = readFileSync(join(platform.dir, '.platform', 'admin-token'), 'utf8').trim();
    const put = await fetch(`${platform.gatewayAdminUrl}/admin/faults`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ service: 'content', delayMs: 1500 }),
    });
    expect(put.status).toBe(201);
    try {
      const r = await runCli(['--json', 'chaos', 'run', join(EXPERIMENTS, 'content-latency.yaml')], {
        cwd: platform.dir,
        timeoutMs: 60_000,
      });
      const journal = JSON.parse(r.stdout);
      expect(journal.verdict).toBe('not-steady');
      expect(r.exitCode).toBe(1);
      expect(JSON.stringify(journal.before)).toContain('content lists through the gateway quickly');
    } finally {
      await runCli(['chaos', 'stop'], { cwd: platform.dir });
    }
    expect(await adminFaults(platform)).toEqual([]);
  }, 120_000);

  it('Ctrl-C mid-experiment rolls the fault back and exits 130', async () => {
    const file = join(platform.dir, 'long-latency.yaml');
    writeFileSync(
      file,
      readFileSync(join(EXPERIMENTS, 'content-latency.yaml'), 'utf8').replace(
        'duration: 8s',
        'duration: 60s',
      ),
    );
    const run = startCli(['chaos', 'run', file], { cwd: platform.dir });
    for (let i = 0; i < 300 && !/inject\s+\+500ms on content/.test(run.stderr()); i++) await sleep(100);
    expect(await adminFaults(platform)).toHaveLength(1);
    run.child.kill('SIGINT');
    const code = await run.exited;
    expect(code, run.stderr()).toBe(130);
    expect(run.stderr()).toMatch(/revert\s+\+500ms on content/);
    expect(await adminFaults(platform)).toEqual([]);
  }, 120_000);
});

describe('chaos catches a planted bug', () => {
  let platform: RuntimePlatform;
  beforeAll(async () => {
    platform = await startRuntimePlatform({
      // The bug: answer 202 at once and commit a second later — an acknowledged event now dies
      // with the process.
      patch: (runtime) => {
        const file = join(runtime, 'analytics', 'src', 'ingest.ts');
        const source = readFileSync(file, 'utf8');
        const planted = source.replace(
          'if (this.pending.length === 1) setImmediate(() => void this.flush());',
          'resolve({ accepted: fresh.length, duplicates });\n      if (this.pending.length === 1) setTimeout(() => void this.flush(), 1500);',
        );
        expect(planted).not.toBe(source);
        writeFileSync(file, planted);
      },
    });
  }, 240_000);
  afterAll(async () => platform?.stop());

  it('kill-analytics-under-ingest deviates: acknowledged events were lost', async () => {
    const r = await runCli(
      ['--json', 'chaos', 'run', join(EXPERIMENTS, 'kill-analytics-under-ingest.yaml')],
      { cwd: platform.dir, timeoutMs: 180_000 },
    );
    const journal = JSON.parse(r.stdout);
    expect(journal.verdict, journal.reason).toBe('deviated');
    expect(r.exitCode).toBe(6);
    expect(journal.data.lost).toBeGreaterThan(0);
    expect(journal.reason).toMatch(/acknowledged writes lost/);
  }, 200_000);
});
