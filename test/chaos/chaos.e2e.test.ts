/**
 * Chaos experiments end to end on the real runtime: each sample experiment passes on a healthy
 * platform; with a bug planted in analytics (acknowledging events before committing them) the
 * kill experiment's verdict turns to "deviated" with the lost events counted; Ctrl-C in the middle
 * rolls every fault back.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, startCli } from '../helpers/cli.ts';
import { type RuntimePlatform, startRuntimePlatform } from '../helpers/runtime-platform.ts';

const EXPERIMENTS = join(REPO_ROOT, 'experiments');

async function adminFaults(p: RuntimePlatform): Promise<unknown[]> {
  const token = readFileSync(join(p.dir, '.platform', 'admin-token'), 'utf8').trim();
  const r = await fetch(`${p.gatewayUrl}/admin/faults`, { headers: { authorization: `Bearer ${token}` } });
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
    }, 200_000);
  }

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
    for (let i = 0; i < 300 && !/inject\s+\+500ms on content/.test(run.stderr()); i++)
      await new Promise((r) => setTimeout(r, 100));
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
