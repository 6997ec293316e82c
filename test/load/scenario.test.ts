import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, UsageError } from '../../src/core/errors.ts';
import { loadScenario } from '../../src/load/scenario.ts';
import { arrivalSchedule } from '../../src/load/schedule.ts';
import { compileValue } from '../../src/load/template.ts';
import { parseThresholdExpression, parseThresholdKey } from '../../src/load/thresholds.ts';
import { VALIDITY_LIMITS } from '../../src/load/validity.ts';
import { scenarioFrom } from './scenario-file.ts';

function problemsOf(yaml: string) {
  try {
    scenarioFrom(yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected the scenario to be rejected');
}

describe('scenario validation', () => {
  it('reports every problem at file:line:column with a fix', () => {
    const problems = problemsOf(`name: bad
executor:
  type: constant-arrival-rate
  rate: -5
  duration: 10 seconds
requests:
  - name: a
    method: GET
    path: no-slash
    bodey: {}
thresholds:
  http_req_duration: ['p95 < 200']
  http_req_failed: ['avg<1']
  latency: ['p(95)<1']
`);
    const at = (path: string) => problems.find((p) => p.path === path);
    expect(at('executor.rate')).toMatchObject({ line: 4 });
    expect(at('executor.duration')).toMatchObject({ line: 5, fix: expect.stringContaining('30s') });
    expect(at('requests.0.path')).toMatchObject({ line: 9 });
    expect(at('requests.0.bodey')).toMatchObject({ line: 10, fix: expect.stringContaining('body') });
    expect(at('thresholds.http_req_duration.0')).toMatchObject({ line: 12 });
    expect(at('thresholds.http_req_failed.0')?.message).toContain('rate');
    expect(at('thresholds.latency')?.message).toContain('unknown metric');
    for (const p of problems) expect(p.file).toMatch(/scenario\.yaml$/);
  });

  it('rejects unknown executors, duplicate names and unknown data lists', () => {
    const problems = problemsOf(`executor: { type: shared-iterations, vus: 1 }
requests:
  - { name: a, method: GET, path: '/x/{{pick ids}}' }
  - { name: a, method: GET, path: /y }
`);
    expect(problems.map((p) => p.message).join('\n')).toMatch(/executor/);
    const dup = problemsOf(`requests:
  - { name: a, method: GET, path: '/x/{{pick ids}}' }
  - { name: a, method: GET, path: /y }
`);
    expect(dup.find((p) => p.path === 'requests.1.name')).toMatchObject({ line: 3 });
    expect(dup.some((p) => p.message.includes('"ids"'))).toBe(true);
  });

  it('applies flag overrides before validation', () => {
    const s = scenarioFrom(
      `requests: [{ name: a, method: get, path: / }]
executor: { type: ramping-arrival-rate, stages: [{ duration: 5s, target: 10 }] }
thresholds: { http_reqs: ['count>1'] }
`,
      { rate: 50, duration: '2s', noThresholds: true },
    );
    expect(s.executor).toMatchObject({ type: 'constant-arrival-rate', rate: 50, duration: 2000 });
    expect(s.requests[0]?.method).toBe('GET');
    expect(s.thresholds).toEqual([]);
    expect(() => scenarioFrom('requests: [{ name: a, method: GET, path: / }]', { rate: 1, vus: 1 })).toThrow(
      UsageError,
    );
  });

  it('takes run-validity limits from a validity block, the documented defaults otherwise', () => {
    const own = scenarioFrom(`requests: [{ name: a, method: GET, path: / }]
validity: { maxAvgScheduleLag: 2s, maxDroppedRatio: 0.05 }
`);
    expect(own.validity).toEqual({
      maxAvgScheduleLagMs: 2000,
      maxDroppedRatio: 0.05,
      maxGeneratorErrorRatio: 0.01,
    });
    expect(scenarioFrom('requests: [{ name: a, method: GET, path: / }]').validity).toEqual(VALIDITY_LIMITS);
    const problems = problemsOf(`requests: [{ name: a, method: GET, path: / }]
validity:
  maxScheduleLag: 2s
  maxDroppedRatio: 5
`);
    expect(problems.find((p) => p.path === 'validity.maxScheduleLag')).toMatchObject({
      line: 3,
      fix: expect.stringContaining('maxAvgScheduleLag'),
    });
    expect(problems.find((p) => p.path === 'validity.maxDroppedRatio')).toMatchObject({ line: 4 });
  });

  it('ships valid sample scenarios', () => {
    const dir = join(import.meta.dirname, '..', '..', 'scenarios');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.sort()).toEqual([
      'browse-content.yaml',
      'grpc-analytics.yaml',
      'ingest-events.yaml',
      'upload-content.yaml',
    ]);
    for (const f of files) expect(loadScenario(join(dir, f)).requests.length).toBeGreaterThan(0);
  });
});

describe('thresholds and templates', () => {
  it('parses k6 threshold syntax', () => {
    expect(parseThresholdKey('http_req_duration{name:upload,kind:image}')).toEqual({
      metric: 'http_req_duration',
      tags: { name: 'upload', kind: 'image' },
    });
    expect(parseThresholdExpression('p(99.9) <= 500', 'http_req_duration')).toEqual({
      stat: 'p(99.9)',
      percentile: 99.9,
      op: '<=',
      value: 500,
    });
    expect(parseThresholdExpression('rate<0.01', 'http_req_failed')).toMatchObject({ stat: 'rate' });
    expect(typeof parseThresholdExpression('count>1', 'http_req_duration')).toBe('string');
  });

  it('keeps the type of whole-tag template values in JSON bodies', () => {
    const f = compileValue({ n: '{{randomInt 3 3}}', s: 'u-{{vu}}-{{iter}}', list: ['{{pick xs}}'] });
    expect(f({ vu: 2, iter: 7, data: { xs: ['only'] }, env: {} })).toEqual({
      n: 3,
      s: 'u-2-7',
      list: ['only'],
    });
  });

  it('schedules ramping arrivals by the integral of the rate', () => {
    const s = arrivalSchedule({
      type: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: 1000,
      stages: [
        { duration: 10_000, target: 100 },
        { duration: 10_000, target: 100 },
      ],
      pipelining: 1,
      client: 'auto',
    });
    // 0→100/s over 10 s is 500 arrivals, then 1000 more.
    expect(s.total).toBe(1500);
    expect(s.dueBy(10_000)).toBe(501);
    expect(s.timeOf(500)).toBeCloseTo(10_000, 0);
    expect(s.timeOf(1000)).toBeCloseTo(15_000, 0);
    for (let i = 1; i < s.total; i++) expect(s.timeOf(i)).toBeGreaterThanOrEqual(s.timeOf(i - 1));
  });
});
