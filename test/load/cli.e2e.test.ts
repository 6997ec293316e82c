/** `platformctl load run` and `load compare` as a CI job runs them: exit codes, stdout, files. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../src/core/sleep.ts';
import { BIN, runCli, workspace } from '../helpers/cli.ts';
import { ok, startServer, type TestServer } from './servers.ts';

let fast: TestServer;
let failing: TestServer;
// These runs are about thresholds and exit codes, not about the generator keeping its schedule:
// on a busy CI machine (2 cores, test files in parallel) iterations start late, and the default
// validity limits would turn them into exit 7. gates.e2e keeps the defaults and tests them.
const GENEROUS = 'validity: { maxAvgScheduleLag: 5s, maxDroppedRatio: 0.5 }\n';
const ws = workspace({
  'pass.yaml': `name: pass
requests:
  - name: hello
    method: GET
    path: /hello
    checks: [{ status: [200] }, { bodyContains: '"ok":true' }]
executor: { type: constant-arrival-rate, rate: 50, duration: 2s }
thresholds:
  http_req_duration: ['p(95)<60000', 'max<60000']
  http_req_failed: ['rate<0.01']
  http_req_duration{name:hello}: ['p(99)<60000']
  checks: ['rate>0.99']
  http_reqs: ['count>50']
${GENEROUS}`,
  'fail.yaml': `name: fail
requests: [{ name: hello, method: GET, path: /hello }]
executor: { type: constant-arrival-rate, rate: 50, duration: 2s }
thresholds:
  http_req_failed: ['rate<0.01']
${GENEROUS}`,
  'abort.yaml': `name: abort
requests: [{ name: hello, method: GET, path: /hello }]
executor: { type: constant-arrival-rate, rate: 50, duration: 30s }
thresholds:
  http_req_failed:
    - threshold: rate<0.01
      abortOnFail: true
      delayAbortEval: 1s
${GENEROUS}`,
  'invalid.yaml': `requests:
  - name: hello
    method: GET
    path: /hello
executor:
  type: constant-arrival-rate
  rate: lots
  duration: 2s
`,
});

beforeAll(async () => {
  fast = await startServer((_req, res) => ok(res));
  failing = await startServer((_req, res) => ok(res, 503));
});
afterAll(async () => {
  await fast.close();
  await failing.close();
  ws.dispose();
});

describe('load run', () => {
  it('exits 0 when thresholds pass, with only the k6-like JSON summary on stdout', async () => {
    const r = await runCli(
      [
        '--json',
        'load',
        'run',
        'pass.yaml',
        '--target',
        fast.url,
        '--summary-export',
        'out/pass.json',
        '--out',
        'out/raw.jsonl',
      ],
      { cwd: ws.dir },
    );
    expect(r.stderr).not.toContain('error');
    expect(r.exitCode).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.metrics.http_req_duration.values['p(95)']).toBeTypeOf('number');
    expect(summary.metrics.http_req_duration.corrected['p(99)']).toBeTypeOf('number');
    expect(summary.metrics.http_reqs.values.count).toBeGreaterThan(80);
    expect(summary.metrics.http_req_failed.values.rate).toBe(0);
    expect(summary.metrics.checks.values.rate).toBe(1);
    expect(summary.root_group.checks).toHaveLength(2);
    expect(summary.thresholds.every((t: { ok: boolean }) => t.ok)).toBe(true);
    expect(summary.metrics.http_req_duration.thresholds['p(95)<60000']).toEqual({ ok: true });
    expect(JSON.parse(readFileSync(join(ws.dir, 'out/pass.json'), 'utf8')).thresholdsOk).toBe(true);
    const lines = readFileSync(join(ws.dir, 'out/raw.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines[0]).toMatchObject({ type: 'interval', t: 1 });
  });

  it('exits 3 when a threshold fails and says which', async () => {
    const r = await runCli(
      ['load', 'run', 'fail.yaml', '--target', failing.url, '--summary-export', 'out/fail.json'],
      {
        cwd: ws.dir,
      },
    );
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toMatch(/http_req_failed\s+rate<0.01\s+1\s+FAIL/);
    expect(r.stderr).toContain('thresholds failed');
  });

  it('--no-thresholds turns the same run into exit 0', async () => {
    const r = await runCli(
      ['load', 'run', 'fail.yaml', '--target', failing.url, '--no-thresholds', '--duration', '1s'],
      {
        cwd: ws.dir,
      },
    );
    expect(r.exitCode).toBe(0);
  });

  it('abortOnFail stops the run early with exit 3', async () => {
    const r = await runCli(['--json', 'load', 'run', 'abort.yaml', '--target', failing.url], { cwd: ws.dir });
    expect(r.exitCode).toBe(3);
    const summary = JSON.parse(r.stdout);
    expect(summary.state.aborted).toBe(true);
    expect(summary.state.abortReason).toContain('http_req_failed');
    // 30 s at 50/s would be 1500 requests; the abort happens within a few seconds.
    expect(summary.metrics.http_reqs.values.count).toBeLessThan(750);
  });

  it('abortOnFail also stops worker threads', async () => {
    const r = await runCli(
      ['--json', 'load', 'run', 'abort.yaml', '--target', failing.url, '--workers', '2'],
      {
        cwd: ws.dir,
      },
    );
    expect(r.exitCode).toBe(3);
    expect(JSON.parse(r.stdout).state.aborted).toBe(true);
  });

  it('Ctrl-C stops the run, prints the summary of what ran and exits 130', async () => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        '--json',
        'load',
        'run',
        'fail.yaml',
        '--target',
        fast.url,
        '--duration',
        '30s',
        '--no-thresholds',
      ],
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
    // The first line on stderr announces the run; interrupt once it has started.
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('open model')) resolve();
      });
    });
    await sleep(1500);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect(code).toBe(130);
    const summary = JSON.parse(stdout);
    expect(summary.state.aborted).toBe(true);
    expect(summary.metrics.http_reqs.values.count).toBeGreaterThan(0);
    expect(summary.metrics.http_reqs.values.count).toBeLessThan(1500);
  });

  it('reports an invalid scenario at file:line with exit 2', async () => {
    const r = await runCli(['load', 'run', 'invalid.yaml'], { cwd: ws.dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('invalid.yaml:7:');
    expect(r.stderr).toContain('executor.rate');
  });

  it('rejects bad flags as usage errors', async () => {
    const r = await runCli(['load', 'run', 'pass.yaml', '--rate', 'fast'], { cwd: ws.dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--rate');
  });
});

describe('load compare', () => {
  function summary(p95: number, p99: number, errorRate: number, rps: number) {
    return JSON.stringify({
      metrics: {
        http_req_duration: {
          values: { avg: p95 / 2, med: p95 / 2, max: p99 * 2, 'p(90)': p95, 'p(95)': p95, 'p(99)': p99 },
        },
        http_req_failed: { values: { rate: errorRate } },
        http_reqs: { values: { count: rps * 10, rate: rps } },
      },
    });
  }

  it('exits 0 within tolerance and 3 on a regression', async () => {
    writeFileSync(join(ws.dir, 'base.json'), summary(100, 200, 0, 500));
    writeFileSync(join(ws.dir, 'same.json'), summary(105, 210, 0.0005, 480));
    writeFileSync(join(ws.dir, 'slow.json'), summary(150, 400, 0.02, 300));
    const within = await runCli(['load', 'compare', 'base.json', 'same.json', '--tolerance', '10%'], {
      cwd: ws.dir,
    });
    expect(within.exitCode).toBe(0);
    expect(within.stdout).toContain('no regression');
    const worse = await runCli(['--json', 'load', 'compare', 'base.json', 'slow.json'], { cwd: ws.dir });
    expect(worse.exitCode).toBe(3);
    const result = JSON.parse(worse.stdout);
    expect(result.rows.map((r: { metric: string; regression: boolean }) => [r.metric, r.regression])).toEqual(
      [
        ['p95', true],
        ['p99', true],
        ['error_rate', true],
        ['rps', true],
      ],
    );
    const onlyRps = await runCli(
      ['load', 'compare', 'base.json', 'slow.json', '--metric', 'rps', '--tolerance', '50%'],
      {
        cwd: ws.dir,
      },
    );
    expect(onlyRps.exitCode).toBe(0);
  });

  it('compares real exported summaries and rejects files that are not summaries', async () => {
    if (!existsSync(join(ws.dir, 'out/pass.json'))) return;
    const same = await runCli(['load', 'compare', 'out/pass.json', 'out/pass.json'], { cwd: ws.dir });
    expect(same.exitCode).toBe(0);
    writeFileSync(join(ws.dir, 'junk.json'), '{"hello":1}');
    const junk = await runCli(['load', 'compare', 'junk.json', 'out/pass.json'], { cwd: ws.dir });
    expect(junk.exitCode).toBe(2);
    expect(junk.stderr).toContain('not a load summary');
  });
});
