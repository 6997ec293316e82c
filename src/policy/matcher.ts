/** Evaluates declarative conditions against one synthesized resource. */
import type { Assertion, Condition } from './rule-schema.ts';

/** Values at a dotted path; lists on the way are searched item by item unless indexed with `[n]`. */
export function valuesAt(root: unknown, path: string): unknown[] {
  const segments = path.split('.').flatMap((part) => {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) return [part];
    const indexes = [...(m[2] ?? '').matchAll(/\[(\d+)\]/g)].map((i) => Number(i[1]));
    return [...(m[1] ? [m[1]] : []), ...indexes];
  });
  let current: unknown[] = [root];
  for (const seg of segments) {
    const next: unknown[] = [];
    for (const value of current) {
      if (typeof seg === 'number') {
        if (Array.isArray(value) && seg < value.length) next.push(value[seg]);
        else if (!Array.isArray(value) && seg === 0 && value !== undefined) next.push(value);
      } else if (Array.isArray(value)) {
        for (const item of value) {
          if (item && typeof item === 'object' && seg in item)
            next.push((item as Record<string, unknown>)[seg]);
        }
      } else if (value && typeof value === 'object' && seg in value) {
        next.push((value as Record<string, unknown>)[seg]);
      }
    }
    current = next;
  }
  return current.filter((v) => v !== undefined && v !== null);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function holds(op: Condition['op'], actual: unknown, expected: unknown): boolean {
  switch (op) {
    case 'equals':
      return same(actual, expected);
    case 'notEquals':
      return !same(actual, expected);
    case 'in':
      return Array.isArray(expected) && expected.some((e) => same(e, actual));
    case 'notIn':
      return !(Array.isArray(expected) && expected.some((e) => same(e, actual)));
    case 'truthy':
      return Boolean(actual);
    case 'falsy':
      return !actual;
    case 'gte':
      return typeof actual === 'number' && actual >= Number(expected);
    case 'lte':
      return typeof actual === 'number' && actual <= Number(expected);
    case 'hasKeys':
      return (
        typeof actual === 'object' &&
        actual !== null &&
        (expected as string[]).every((k) => Object.hasOwn(actual as object, k))
      );
    case 'contains':
      return Array.isArray(actual)
        ? actual.some((a) => same(a, expected))
        : String(actual).includes(String(expected));
    case 'notContains':
      return Array.isArray(actual)
        ? !actual.some((a) => same(a, expected))
        : !String(actual).includes(String(expected));
    case 'matches':
      return new RegExp(String(expected)).test(String(actual));
    default:
      return false;
  }
}

const NEGATIVE = new Set<Condition['op']>(['notEquals', 'notIn', 'notContains', 'absent', 'falsy']);

/**
 * True when the condition holds. Every value found at the path must satisfy it; a missing path
 * fails positive operators (the setting is not there) and passes negative ones.
 */
export function check(resource: unknown, condition: Condition): boolean {
  const values = valuesAt(resource, condition.path);
  if (condition.op === 'exists') return values.length > 0;
  if (condition.op === 'absent') return values.length === 0;
  if (values.length === 0) return NEGATIVE.has(condition.op);
  return values.every((v) => holds(condition.op, v, condition.value));
}

export function checkAssertion(resource: unknown, assertion: Assertion): boolean {
  if ('all' in assertion) return assertion.all.every((c) => check(resource, c));
  if ('any' in assertion) return assertion.any.some((c) => check(resource, c));
  return check(resource, assertion);
}

/** Shell-style glob for resource types: `*` matches any run of characters. */
export function globMatch(glob: string, type: string): boolean {
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(type);
}
