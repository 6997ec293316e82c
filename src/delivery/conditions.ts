/**
 * The analysis condition language: `error_rate < 1%`, `p99 < 300ms`, `p95 <= 0.25s`,
 * `canary.p99 < 1.5 * stable.p99 + 50ms`, `requests >= 100`, `my_custom_metric > 0.9`.
 *
 * A small hand-written tokenizer and recursive-descent parser rather than `eval` or a generic
 * expression library: we want dimension checks (a latency is never compared with a percentage),
 * precise error positions for platform.yaml, and an evaluator with three outcomes — pass, fail and
 * inconclusive — where missing data or too few requests can never produce a pass.
 *
 * Grammar:
 *   condition := expr cmp expr
 *   cmp       := '<' | '<=' | '>' | '>=' | '==' | '!='
 *   expr      := term (('+' | '-') term)*
 *   term      := unary (('*' | '/') unary)*
 *   unary     := '-' unary | primary
 *   primary   := NUMBER UNIT? | metric | '(' expr ')'
 *   metric    := ('canary' | 'stable') '.' NAME | NAME          (unscoped means canary)
 *   UNIT      := '%' | 'ms' | 's' | 'm'
 */
import { closest } from '../core/closest.ts';
import { type Comparator, compare } from '../core/compare.ts';
import { PlatformError } from '../core/errors.ts';
import type { MetricPair, VersionMetrics } from './metrics.ts';

/** ratio: a fraction (error rate); duration: milliseconds; count: requests; scalar: a plain number. */
export type Dimension = 'ratio' | 'duration' | 'count' | 'scalar';
export type Scope = 'canary' | 'stable';
export type { Comparator };

export type Expr =
  | { kind: 'number'; value: number; dim: Dimension; text: string }
  | { kind: 'metric'; scope: Scope; name: string; dim: Dimension; text: string }
  | { kind: 'binary'; op: '+' | '-' | '*' | '/'; left: Expr; right: Expr; dim: Dimension }
  | { kind: 'negate'; expr: Expr; dim: Dimension };

export interface Condition {
  source: string;
  left: Expr;
  op: Comparator;
  right: Expr;
  /** Every metric the condition reads, e.g. `canary.p99`, `stable.p99`. */
  metrics: { scope: Scope; name: string }[];
}

/** Built-in metrics, their dimension, and how to read them from a measurement. */
const BUILTIN: Record<string, { dim: Dimension; read: (m: VersionMetrics) => number | undefined }> = {
  error_rate: { dim: 'ratio', read: (m) => m.errorRate },
  success_rate: { dim: 'ratio', read: (m) => (m.errorRate === undefined ? undefined : 1 - m.errorRate) },
  p50: { dim: 'duration', read: (m) => m.p50 },
  p95: { dim: 'duration', read: (m) => m.p95 },
  p99: { dim: 'duration', read: (m) => m.p99 },
  requests: { dim: 'count', read: (m) => m.requests },
  errors: { dim: 'count', read: (m) => m.errors },
};
const ALIASES: Record<string, string> = {
  errorRate: 'error_rate',
  error_ratio: 'error_rate',
  successRate: 'success_rate',
  latency_p50: 'p50',
  latency_p95: 'p95',
  latency_p99: 'p99',
};
export const BUILTIN_METRICS = Object.keys(BUILTIN);

/** A condition that does not parse: says where and why. */
export class ConditionSyntaxError extends PlatformError {
  readonly column: number;
  readonly condition: string;
  readonly reason: string;

  constructor(condition: string, column: number, reason: string, hint?: string) {
    super('CONDITION_INVALID', `invalid condition "${condition}": ${reason} (column ${column})`, {
      hint:
        hint ?? 'conditions look like `error_rate < 1%`, `p99 < 300ms` or `canary.p99 < 1.2 * stable.p99`',
      details: { condition, column, pointer: `${condition}\n${' '.repeat(Math.max(0, column - 1))}^` },
    });
    this.name = 'ConditionSyntaxError';
    this.column = column;
    this.condition = condition;
    this.reason = reason;
  }
}

type TokenKind = 'number' | 'ident' | 'op' | 'cmp' | 'lparen' | 'rparen' | 'dot' | 'end';
interface Token {
  kind: TokenKind;
  text: string;
  /** 1-based column. */
  col: number;
  value?: number;
  unit?: string;
}

const UNITS: Record<string, { dim: Dimension; factor: number }> = {
  '%': { dim: 'ratio', factor: 0.01 },
  ms: { dim: 'duration', factor: 1 },
  s: { dim: 'duration', factor: 1000 },
  m: { dim: 'duration', factor: 60_000 },
};

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    const col = i + 1;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^(\d*\.?\d+(?:[eE][+-]?\d+)?)([A-Za-z%]*)/.exec(src.slice(i)) as RegExpExecArray;
      const [whole, num, unit] = m as unknown as [string, string, string];
      if (unit && !(unit in UNITS)) {
        throw new ConditionSyntaxError(
          src,
          col + num.length,
          `unknown unit "${unit}"`,
          'units are % (ratios), ms, s or m (latencies); write plain numbers without a unit',
        );
      }
      tokens.push({ kind: 'number', text: whole, col, value: Number(num), ...(unit ? { unit } : {}) });
      i += whole.length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'ident', text: m[0], col });
      i += m[0].length;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '<=' || two === '>=' || two === '==' || two === '!=') {
      tokens.push({ kind: 'cmp', text: two, col });
      i += 2;
      continue;
    }
    if (c === '<' || c === '>') tokens.push({ kind: 'cmp', text: c, col });
    else if (c === '=')
      throw new ConditionSyntaxError(src, col, 'single "=" is not a comparison', 'use "==" or "<="');
    else if ('+-*/'.includes(c)) tokens.push({ kind: 'op', text: c, col });
    else if (c === '(') tokens.push({ kind: 'lparen', text: c, col });
    else if (c === ')') tokens.push({ kind: 'rparen', text: c, col });
    else if (c === '.') tokens.push({ kind: 'dot', text: c, col });
    else throw new ConditionSyntaxError(src, col, `unexpected character "${c}"`);
    i++;
  }
  tokens.push({ kind: 'end', text: '', col: src.length + 1 });
  return tokens;
}

export interface ParseOptions {
  /**
   * Custom metric names the metric source answers. When given, any other name is an error (with a
   * suggestion), so typos are caught before a rollout starts; when omitted, unknown names are
   * accepted as custom metrics and evaluate as missing (inconclusive) if the source lacks them.
   */
  customMetrics?: readonly string[];
}

/** Parses one condition; throws ConditionSyntaxError with the column of the problem. */
export function parseCondition(source: string, options: ParseOptions = {}): Condition {
  const text = source.trim();
  if (!text) throw new ConditionSyntaxError(source, 1, 'empty condition');
  const tokens = tokenize(text);
  let pos = 0;
  const metrics: { scope: Scope; name: string }[] = [];
  const peek = () => tokens[pos] as Token;
  const next = () => tokens[pos++] as Token;
  const fail = (t: Token, reason: string, hint?: string): never => {
    throw new ConditionSyntaxError(text, t.col, reason, hint);
  };
  const describe = (t: Token) => (t.kind === 'end' ? 'end of condition' : `"${t.text}"`);

  const combine = (op: '+' | '-' | '*' | '/', l: Expr, r: Expr, at: Token): Dimension => {
    if (op === '+' || op === '-') {
      if (l.dim === 'scalar') return r.dim;
      if (r.dim === 'scalar' || r.dim === l.dim) return l.dim;
      return fail(
        at,
        `cannot ${op === '+' ? 'add' : 'subtract'} a ${r.dim} ${op === '+' ? 'to' : 'from'} a ${l.dim}`,
      );
    }
    if (op === '*') {
      if (l.dim === 'scalar') return r.dim;
      if (r.dim === 'scalar') return l.dim;
      return fail(
        at,
        `cannot multiply a ${l.dim} by a ${r.dim}`,
        'multiply by a plain factor, e.g. 1.2 * stable.p99',
      );
    }
    if (r.dim === 'scalar') return l.dim;
    if (l.dim === r.dim) return 'scalar';
    return fail(at, `cannot divide a ${l.dim} by a ${r.dim}`);
  };

  const metricRef = (scope: Scope, nameTok: Token): Expr => {
    const raw = nameTok.text;
    const name = ALIASES[raw] ?? raw;
    const builtin = BUILTIN[name];
    if (!builtin && options.customMetrics && !options.customMetrics.includes(name)) {
      const known = [...BUILTIN_METRICS, ...options.customMetrics];
      const guess = closest(name, known);
      fail(
        nameTok,
        `unknown metric "${raw}"`,
        guess
          ? `did you mean "${guess}"? known metrics: ${known.join(', ')}`
          : `known metrics: ${known.join(', ')}`,
      );
    }
    metrics.push({ scope, name });
    return { kind: 'metric', scope, name, dim: builtin?.dim ?? 'scalar', text: `${scope}.${name}` };
  };

  const primary = (): Expr => {
    const t = next();
    if (t.kind === 'number') {
      const unit = t.unit ? UNITS[t.unit] : undefined;
      return {
        kind: 'number',
        value: (t.value as number) * (unit?.factor ?? 1),
        dim: unit?.dim ?? 'scalar',
        text: t.text,
      };
    }
    if (t.kind === 'ident') {
      if ((t.text === 'canary' || t.text === 'stable') && peek().kind === 'dot') {
        next();
        const nameTok = next();
        if (nameTok.kind !== 'ident')
          fail(nameTok, `expected a metric name after "${t.text}."`, 'e.g. stable.p99');
        return metricRef(t.text, nameTok);
      }
      if (t.text === 'canary' || t.text === 'stable') {
        fail(t, `"${t.text}" needs a metric`, `write ${t.text}.p99 or ${t.text}.error_rate`);
      }
      if (peek().kind === 'dot')
        fail(peek(), `unknown scope "${t.text}"`, 'scopes are "canary." and "stable."');
      return metricRef('canary', t);
    }
    if (t.kind === 'lparen') {
      const inner = expr();
      const close = next();
      if (close.kind !== 'rparen') fail(close, `expected ")" but found ${describe(close)}`);
      return inner;
    }
    return fail(t, `expected a number or a metric but found ${describe(t)}`);
  };

  const unary = (): Expr => {
    if (peek().kind === 'op' && peek().text === '-') {
      next();
      const inner = unary();
      return { kind: 'negate', expr: inner, dim: inner.dim };
    }
    return primary();
  };

  const term = (): Expr => {
    let left = unary();
    while (peek().kind === 'op' && (peek().text === '*' || peek().text === '/')) {
      const opTok = next();
      const op = opTok.text as '*' | '/';
      const right = unary();
      left = { kind: 'binary', op, left, right, dim: combine(op, left, right, opTok) };
    }
    return left;
  };

  const expr = (): Expr => {
    let left = term();
    while (peek().kind === 'op' && (peek().text === '+' || peek().text === '-')) {
      const opTok = next();
      const op = opTok.text as '+' | '-';
      const right = term();
      left = { kind: 'binary', op, left, right, dim: combine(op, left, right, opTok) };
    }
    return left;
  };

  const left = expr();
  const cmpTok = next();
  if (cmpTok.kind !== 'cmp') {
    fail(cmpTok, `expected a comparison (<, <=, >, >=, ==, !=) but found ${describe(cmpTok)}`);
  }
  const right = expr();
  const end = next();
  if (end.kind !== 'end') fail(end, `unexpected ${describe(end)} after the condition`);
  if (left.dim !== 'scalar' && right.dim !== 'scalar' && left.dim !== right.dim) {
    fail(cmpTok, `cannot compare a ${left.dim} with a ${right.dim}`, unitHint(left.dim));
  }
  if (metrics.length === 0) fail(tokens[0] as Token, 'the condition reads no metric');
  return { source: text, left, op: cmpTok.text as Comparator, right, metrics };
}

function unitHint(dim: Dimension): string | undefined {
  if (dim === 'ratio') return 'ratios are written as percentages, e.g. 1% or 0.5%';
  if (dim === 'duration') return 'latencies are written with a unit, e.g. 300ms or 0.25s';
  return undefined;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface ConditionResult {
  condition: string;
  verdict: Verdict;
  /** Evaluated sides (ms for latencies, fractions for ratios); undefined when data was missing. */
  left?: number | undefined;
  right?: number | undefined;
  reason: string;
}

export interface EvaluateOptions {
  /** A scope with fewer requests than this is "too little data": such a condition never passes. */
  minSampleSize: number;
}

/** Evaluates a condition against a pair of measurements. */
export function evaluateCondition(
  cond: Condition,
  pair: MetricPair,
  options: EvaluateOptions,
): ConditionResult {
  for (const scope of new Set(cond.metrics.map((m) => m.scope))) {
    const requests = pair[scope].requests;
    if (requests < options.minSampleSize) {
      return {
        condition: cond.source,
        verdict: 'inconclusive',
        reason: `${scope} has ${requests} requests, fewer than the minimum sample of ${options.minSampleSize}`,
      };
    }
  }
  const missing: string[] = [];
  const evalExpr = (e: Expr): number | undefined => {
    switch (e.kind) {
      case 'number':
        return e.value;
      case 'metric': {
        const m = pair[e.scope];
        const v = BUILTIN[e.name] ? BUILTIN[e.name]?.read(m) : m.custom?.[e.name];
        if (v === undefined || Number.isNaN(v)) missing.push(e.text);
        return v === undefined || Number.isNaN(v) ? undefined : v;
      }
      case 'negate': {
        const v = evalExpr(e.expr);
        return v === undefined ? undefined : -v;
      }
      case 'binary': {
        const l = evalExpr(e.left);
        const r = evalExpr(e.right);
        if (l === undefined || r === undefined) return undefined;
        if (e.op === '+') return l + r;
        if (e.op === '-') return l - r;
        if (e.op === '*') return l * r;
        return r === 0 ? undefined : l / r;
      }
    }
  };
  const left = evalExpr(cond.left);
  const right = evalExpr(cond.right);
  if (left === undefined || right === undefined) {
    return {
      condition: cond.source,
      verdict: 'inconclusive',
      left,
      right,
      reason: missing.length ? `no data for ${[...new Set(missing)].join(', ')}` : 'division by zero',
    };
  }
  const ok = compare(left, cond.op, right);
  const shown = `${formatValue(left, cond.left.dim)} ${cond.op} ${formatValue(right, cond.left.dim === 'scalar' ? cond.right.dim : cond.left.dim)}`;
  if (ok) return { condition: cond.source, verdict: 'pass', left, right, reason: shown };
  // Too little traffic is not the release's fault: a failed traffic-volume condition is inconclusive.
  const countOnly = cond.metrics.every((m) => m.name === 'requests');
  return {
    condition: cond.source,
    verdict: countOnly ? 'inconclusive' : 'fail',
    left,
    right,
    reason: `${shown} is false`,
  };
}

/** Renders a value in the unit people wrote it in: 1.2%, 312ms, 140. */
export function formatValue(v: number, dim: Dimension): string {
  if (dim === 'ratio') return `${Number((v * 100).toFixed(3))}%`;
  if (dim === 'duration') return `${Number(v.toFixed(1))}ms`;
  return `${Number(v.toFixed(4))}`;
}
