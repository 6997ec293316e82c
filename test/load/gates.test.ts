/**
 * Load gates fail closed (issue 19): a threshold that can match nothing is a mistake in the file,
 * a threshold without samples fails as "no data", a run the generator could not apply is invalid,
 * the generator's own errors are not the server's, and no percentile exceeds the max.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { evaluateThresholds } from '../../src/load/evaluate.ts';
import {
  Aggregate,
  type IntervalDelta,
  IntervalRecorder,
  newHistogram,
  trendOf,
} from '../../src/load/metrics.ts';
import { judgeValidity, nonDefaultLimits, VALIDITY_LIMITS } from '../../src/load/validity.ts';
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

const requests = `requests:
  - { name: get, method: GET, path: /a, tags: { kind: read } }
  - { name: put, method: PUT, path: /b }
`;

describe('threshold tag filters are checked before the run', () => {
  it('rejects a tag key no request sets, at its line, with "did you mean"', () => {
    const problems = problemsOf(`${requests}thresholds:
  http_req_duration{nmae:get}: ['p(95)<100']
`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({
      path: 'thresholds.http_req_duration{nmae:get}',
      line: 5,
      column: 32,
      message: expect.stringContaining('no request sets the tag "nmae"'),
      fix: expect.stringContaining('did you mean "name"?'),
    });
  });

  it('rejects a tag value no request has, and a combination no request carries', () => {
    const [value] = problemsOf(`${requests}thresholds:\n  http_req_duration{name:gte}: ['p(95)<100']\n`);
    expect(value?.message).toContain('no request has name:gte');
    expect(value?.fix).toContain('did you mean "name:get"?');
    const [nosuch] = problemsOf(`${requests}thresholds:\n  http_req_failed{name:nosuch}: ['rate<0.01']\n`);
    expect(nosuch?.fix).toContain('values of name: get, put');
    const [combo] = problemsOf(`${requests}thresholds:\n  http_reqs{name:put,kind:read}: ['count>1']\n`);
    expect(combo?.message).toContain('no request has all of name:put, kind:read');
  });

  it('accepts filters that match: name, method and declared tags', () => {
    const s = scenarioFrom(`${requests}thresholds:
  http_req_duration{kind:read}: ['p(95)<100']
  http_req_failed{method:PUT}: ['rate<0.01']
`);
    expect(s.thresholds).toHaveLength(2);
  });
});

describe('a threshold without samples fails as "no data"', () => {
  it('fails latency, rate and checks thresholds that got nothing; counters are 0', () => {
    const s = scenarioFrom(`${requests}thresholds:
  http_req_duration{name:get}: ['p(95)<100']
  http_req_failed: ['rate<0.01']
  checks: ['rate>0.9']
  http_reqs: ['count<5']
`);
    const results = evaluateThresholds(s.thresholds, new Aggregate(['get', 'put'], true, 1), s, 1000);
    expect(results.slice(0, 3).map((r) => [r.ok, r.noData, r.actual])).toEqual([
      [false, true, null],
      [false, true, null],
      [false, true, null],
    ]);
    expect(results[3]).toMatchObject({ ok: true, actual: 0 });
    expect(results[3]?.noData).toBeUndefined();
  });
});

function delta(patch: Partial<IntervalDelta>): IntervalDelta {
  const rec = new IntervalRecorder(['a'], true);
  return { ...rec.flush((h) => h, 0, 0), ...patch };
}

describe('run validity', () => {
  it('is valid when the generator kept its schedule', () => {
    const agg = new Aggregate(['a'], true, 1);
    agg.add(delta({ iterations: 100, lagSum: 100, lagCount: 100, lagMax: 3 }));
    expect(judgeValidity(agg, true)).toMatchObject({ valid: true, reasons: [] });
  });

  it('is invalid past each documented limit, with one reason per limit', () => {
    const agg = new Aggregate(['a'], true, 1);
    agg.add(
      delta({
        iterations: 1000,
        dropped: 948,
        lagSum: 1012 * 52,
        lagCount: 52,
        lagMax: 2000,
        generatorErrors: { EMFILE: 40 },
      }),
    );
    const v = judgeValidity(agg, true);
    expect(v.valid).toBe(false);
    expect(v.reasons).toHaveLength(3);
    expect(v.reasons[0]).toContain('1012.0 ms late on average');
    expect(v.reasons[1]).toContain('948 of 1000 iterations were dropped');
    expect(v.reasons[2]).toContain('EMFILE 40');
    expect(v.limits).toBe(VALIDITY_LIMITS);
  });

  it("judges against the scenario's own limits when it sets them", () => {
    const agg = new Aggregate(['a'], true, 1);
    agg.add(delta({ iterations: 100, dropped: 3, lagSum: 100 * 300, lagCount: 100, lagMax: 900 }));
    expect(judgeValidity(agg, true).valid).toBe(false);
    const limits = { ...VALIDITY_LIMITS, maxAvgScheduleLagMs: 2000, maxDroppedRatio: 0.05 };
    expect(judgeValidity(agg, true, limits)).toEqual({ valid: true, reasons: [], limits });
    expect(nonDefaultLimits(limits)).toEqual([
      'schedule lag 2000 ms (default 25 ms)',
      'dropped 5% (default 1%)',
    ]);
    expect(nonDefaultLimits(VALIDITY_LIMITS)).toEqual([]);
  });

  it("counts the generator's own errors apart from failed requests", () => {
    const rec = new IntervalRecorder(['a'], true);
    rec.recordError(0, 'EMFILE');
    rec.recordError(0, 'EADDRNOTAVAIL');
    rec.recordError(0, 'ECONNREFUSED');
    const d = rec.flush((h) => h, 0, 0);
    expect(d.names.a).toMatchObject({ count: 1, failed: 1 });
    expect(d.statuses).toEqual({ ECONNREFUSED: 1 });
    expect(d.generatorErrors).toEqual({ EMFILE: 1, EADDRNOTAVAIL: 1 });
  });
});

describe('percentiles', () => {
  it('never exceed the largest value recorded', () => {
    const h = newHistogram();
    // 31.07 ms falls in a bucket whose upper end is 31.071 ms.
    for (const us of [1000, 2000, 31_070]) h.recordValue(us);
    const t = trendOf(h);
    expect(t.max).toBe(31.07);
    for (const p of ['med', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)'] as const) {
      expect(t[p]).toBeLessThanOrEqual(t.max);
    }
    expect(t['p(99)']).toBe(31.07);
  });
});
