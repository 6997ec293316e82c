import { describe, expect, it } from 'vitest';
import { ConditionSyntaxError, evaluateCondition, parseCondition } from '../../src/delivery/conditions.ts';
import type { MetricPair, VersionMetrics } from '../../src/delivery/metrics.ts';

const m = (over: Partial<VersionMetrics> = {}): VersionMetrics => ({
  requests: 500,
  errors: 0,
  errorRate: 0,
  p50: 20,
  p95: 80,
  p99: 120,
  ...over,
});
const pair = (canary: Partial<VersionMetrics>, stable: Partial<VersionMetrics> = {}): MetricPair => ({
  canary: m(canary),
  stable: m(stable),
});
const opts = { minSampleSize: 20 };

describe('condition parser and evaluator', () => {
  it.each([
    ['error_rate < 1%', pair({ errorRate: 0.005 }), 'pass'],
    ['error_rate < 1%', pair({ errorRate: 0.01 }), 'fail'],
    ['error_rate <= 1%', pair({ errorRate: 0.01 }), 'pass'],
    ['p99 < 300ms', pair({ p99: 299 }), 'pass'],
    ['p99 < 300ms', pair({ p99: 301 }), 'fail'],
    ['p95 <= 0.25s', pair({ p95: 250 }), 'pass'],
    ['p95 <= 0.25s', pair({ p95: 251 }), 'fail'],
    ['canary.p99 < 1.2 * stable.p99', pair({ p99: 143 }, { p99: 120 }), 'pass'],
    ['canary.p99 < 1.2 * stable.p99', pair({ p99: 145 }, { p99: 120 }), 'fail'],
    ['canary.p99 < 1.5 * stable.p99 + 50ms', pair({ p99: 229 }, { p99: 120 }), 'pass'],
    ['canary.p99 < 1.5 * stable.p99 + 50ms', pair({ p99: 231 }, { p99: 120 }), 'fail'],
    ['canary.p99 < (stable.p99 + 50ms) * 1.5', pair({ p99: 250 }, { p99: 120 }), 'pass'],
    ['requests >= 100', pair({ requests: 150 }), 'pass'],
    ['requests >= 100', pair({ requests: 50 }), 'inconclusive'],
    ['success_rate > 99%', pair({ errorRate: 0.001 }), 'pass'],
    ['canary.error_rate - stable.error_rate < 0.5%', pair({ errorRate: 0.02 }, { errorRate: 0.01 }), 'fail'],
    ['errorRate < 5%', pair({ errorRate: 0.02 }), 'pass'],
    ['-p99 > -300ms', pair({ p99: 200 }), 'pass'],
    ['p99 / stable.p99 < 2', pair({ p99: 200 }, { p99: 120 }), 'pass'],
    ['p99 != 0', pair({ p99: 12 }), 'pass'],
  ])('%s', (source, data, verdict) => {
    expect(evaluateCondition(parseCondition(source), data, opts).verdict).toBe(verdict);
  });

  it('never passes with too few requests or missing data', () => {
    const c = parseCondition('error_rate < 1%');
    expect(evaluateCondition(c, pair({ requests: 5, errorRate: 0 }), opts).verdict).toBe('inconclusive');
    expect(evaluateCondition(c, pair({ errorRate: undefined }), opts).verdict).toBe('inconclusive');
    const rel = parseCondition('canary.p99 < 1.2 * stable.p99');
    const r = evaluateCondition(rel, pair({}, { requests: 3 }), opts);
    expect(r.verdict).toBe('inconclusive');
    expect(r.reason).toContain('stable has 3 requests');
    expect(evaluateCondition(rel, pair({}, { p99: undefined }), opts).reason).toContain('stable.p99');
  });

  it('reads custom metrics from the source', () => {
    const c = parseCondition('cache_hit_ratio > 0.9', { customMetrics: ['cache_hit_ratio'] });
    expect(evaluateCondition(c, pair({ custom: { cache_hit_ratio: 0.95 } }), opts).verdict).toBe('pass');
    expect(evaluateCondition(c, pair({}), opts).verdict).toBe('inconclusive');
  });

  it.each([
    ['', 1, 'empty condition'],
    ['p99 < 300xs', 10, 'unknown unit "xs"'],
    ['p99 300ms', 5, 'expected a comparison'],
    ['p99 <', 6, 'expected a number or a metric but found end of condition'],
    ['p99 = 300ms', 5, 'single "="'],
    ['p99 < 1%', 5, 'cannot compare a duration with a ratio'],
    ['p99 + error_rate < 1s', 5, 'cannot add a ratio to a duration'],
    ['p99 * p95 < 1s', 5, 'cannot multiply a duration by a duration'],
    ['canary < 1', 1, '"canary" needs a metric'],
    ['prod.p99 < 1s', 5, 'unknown scope "prod"'],
    ['(p99 < 1s', 6, 'expected ")"'],
    ['p99 < 1s 2', 10, 'unexpected "2"'],
    ['1 < 2', 1, 'reads no metric'],
    ['p99 < 1s & 2', 10, 'unexpected character "&"'],
    ['canary. < 1', 9, 'expected a metric name'],
  ])('rejects %j at column %i', (source, column, reason) => {
    const err = (() => {
      try {
        parseCondition(source);
      } catch (e) {
        return e;
      }
      throw new Error('expected a syntax error');
    })() as ConditionSyntaxError;
    expect(err).toBeInstanceOf(ConditionSyntaxError);
    expect(err.message).toContain(reason);
    expect(err.column).toBe(column);
  });

  it('suggests a metric name for typos when the source lists its metrics', () => {
    expect(() => parseCondition('p98 < 300ms', { customMetrics: [] })).toThrow(/unknown metric "p98"/);
    try {
      parseCondition('eror_rate < 1%', { customMetrics: [] });
    } catch (e) {
      expect((e as ConditionSyntaxError).hint).toContain('did you mean "error_rate"');
    }
  });
});
