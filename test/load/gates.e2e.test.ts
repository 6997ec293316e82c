/**
 * `load run` as a CI gate fails closed (issue 19), run as a CI job runs it: a threshold on a tag
 * no request sets stops the run before it starts (exit 2), a threshold that got no sample fails
 * as "no data" (exit 3), and a generator that runs out of file descriptors makes an invalid run
 * (exit 7) whose EMFILE errors are not counted as server failures.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type CliResult, runCli, workspace } from '../helpers/cli.ts';
import { ok, startServer, type TestServer } from './servers.ts';

let fast: TestServer;
let slow: TestServer;
const ws = workspace({
  'typo.yaml': `name: typo
requests: [{ name: get, method: GET, path: /hello }]
executor: { type: constant-arrival-rate, rate: 10, duration: 1s }
thresholds:
  http_req_duration{nmae:get}: ['p(95)<100']
`,
  // About "no data", not the generator's schedule: a busy CI machine must not make it exit 7.
  'nodata.yaml': `name: nodata
requests: [{ name: get, method: GET, path: /hello }]
executor: { type: constant-arrival-rate, rate: 20, duration: 1s }
thresholds:
  http_req_failed: ['rate<0.01']
  checks: ['rate>0.99']
validity: { maxAvgScheduleLag: 5s, maxDroppedRatio: 0.5 }
`,
  'overload.yaml': `name: overload
defaults: { timeout: 2s }
requests: [{ name: get, method: GET, path: /hello }]
executor: { type: constant-arrival-rate, rate: 200000, duration: 1s, maxInFlight: 200 }
thresholds:
  http_req_failed: ['rate<0.01']
`,
  'many.yaml': `name: many
requests: [{ name: get, method: GET, path: /hello }]
executor: { type: constant-arrival-rate, rate: 200, duration: 1s }
thresholds:
  http_req_failed: ['rate<0.5']
`,
});

beforeAll(async () => {
  fast = await startServer((_req, res) => ok(res));
  // Holds each response, so every arrival needs a new connection (and a file descriptor).
  slow = await startServer((_req, res) => setTimeout(() => ok(res), 1500));
});
afterAll(async () => {
  await fast.close();
  await slow.close();
  ws.dispose();
});

/** Runs the CLI with the open-file limit (soft and hard) lowered to `fds`, as `ulimit -n` does. */
function runWithFdLimit(fds: number, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      '/bin/sh',
      ['-c', `ulimit -n ${fds} && exec "$0" "$@"`, process.execPath, BIN, ...args],
      {
        cwd: ws.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, exitCode: code ?? 128 }));
  });
}

describe('load run gates', () => {
  it('rejects a threshold on a tag no request sets before sending anything (exit 2)', async () => {
    const r = await runCli(['load', 'run', 'typo.yaml', '--target', fast.url], { cwd: ws.dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/typo\.yaml:5:\d+/);
    expect(r.stderr).toContain('did you mean "name"?');
    expect(fast.hits()).toBe(0);
  });

  it('fails a threshold whose metric got no sample as "no data" (exit 3)', async () => {
    const human = await runCli(['load', 'run', 'nodata.yaml', '--target', fast.url], { cwd: ws.dir });
    expect(human.exitCode).toBe(3);
    expect(human.stdout).toMatch(/checks\s+rate>0\.99\s+no data\s+FAIL \(no data\)/);
    const json = await runCli(['--json', 'load', 'run', 'nodata.yaml', '--target', fast.url], {
      cwd: ws.dir,
    });
    const summary = JSON.parse(json.stdout);
    expect(summary.thresholds).toEqual([
      expect.objectContaining({ metric: 'http_req_failed', ok: true }),
      expect.objectContaining({ metric: 'checks', ok: false, actual: null, noData: true }),
    ]);
  });

  it('a rate the generator cannot apply (200000/s) with only an http_req_failed threshold is invalid, not a pass (exit 7)', async () => {
    const r = await runCli(['--json', 'load', 'run', 'overload.yaml', '--target', fast.url], {
      cwd: ws.dir,
      timeoutMs: 60_000,
    });
    expect(r.exitCode, r.stderr).toBe(7);
    const summary = JSON.parse(r.stdout);
    expect(summary.valid).toBe(false);
    expect(summary.thresholdsOk).toBe(true);
    expect(summary.validity.reasons.join('\n')).toMatch(/of 200000 iterations were dropped/);
    expect(r.stderr).toContain('invalid run');
  });

  it('marks a run the generator could not apply as invalid (exit 7), EMFILE apart from server failures', async () => {
    const r = await runWithFdLimit(48, [
      '--json',
      'load',
      'run',
      'many.yaml',
      '--target',
      slow.url,
      '--html',
      'out/report.html',
    ]);
    expect(r.exitCode).toBe(7);
    expect(r.stderr).toContain('file descriptors');
    expect(r.stderr).toContain('invalid run');
    const summary = JSON.parse(r.stdout);
    expect(summary.valid).toBe(false);
    expect(summary.validity.reasons.join('\n')).toContain('EMFILE');
    expect(summary.generator.errors.EMFILE).toBeGreaterThan(0);
    expect(summary.generator.fileDescriptorLimit).toEqual({ soft: 48, hard: 48 });
    // The server answered every request that was sent: none of them failed.
    expect(summary.metrics.http_req_failed.values.passes).toBe(0);
    expect(summary.statuses.EMFILE).toBeUndefined();
    expect(readFileSync(join(ws.dir, 'out/report.html'), 'utf8')).toContain('id="invalid-run"');
  });
});

describe('load compare', () => {
  function summary(name: string, target: string, rate: number) {
    const values = { avg: 5, med: 5, max: 9, 'p(90)': 7, 'p(95)': 8, 'p(99)': 9 };
    return JSON.stringify({
      scenario: { name },
      target,
      executor: { type: 'constant-arrival-rate', rate, timeUnit: 1000, duration: 10_000 },
      valid: true,
      metrics: {
        http_req_duration: { values },
        http_req_failed: { values: { rate: 0 } },
        http_reqs: { values: { count: rate * 10, rate } },
      },
    });
  }

  it('warns when the runs differ in scenario, target or rate, and stays quiet when they do not', async () => {
    writeFileSync(join(ws.dir, 'a.json'), summary('browse', 'http://127.0.0.1:8080', 100));
    writeFileSync(join(ws.dir, 'a2.json'), summary('browse', 'http://127.0.0.1:8080', 100));
    writeFileSync(join(ws.dir, 'b.json'), summary('upload', 'http://127.0.0.1:9090', 50));
    const same = await runCli(['load', 'compare', 'a.json', 'a2.json'], { cwd: ws.dir });
    expect(same.stderr).not.toContain('not be comparable');
    const r = await runCli(['--json', 'load', 'compare', 'a.json', 'b.json', '--metric', 'p95'], {
      cwd: ws.dir,
    });
    expect(r.stderr).toContain('different scenarios: "browse" and "upload"');
    expect(r.stderr).toContain('different targets');
    expect(r.stderr).toMatch(/different load: .*"rate":100.*"rate":50/);
    expect(JSON.parse(r.stdout).mismatches).toHaveLength(3);
  });
});
