/**
 * `{{...}}` values in paths, headers and bodies, compiled once into small functions so the hot
 * path only concatenates strings. Templates that contain no tag compile to a constant.
 *
 * Tags: {{uuid}}, {{randomInt 1 100}}, {{randomString 8}}, {{vu}}, {{iter}}, {{pick list}}
 * (random item of a data list), {{seq list}} (round robin by iteration), {{env NAME}}, {{now}}
 * (epoch ms), {{isoTime}}.
 */
import { randomUUID } from 'node:crypto';

export interface TemplateContext {
  vu: number;
  iter: number;
  data: Record<string, readonly (string | number | boolean)[]>;
  env: Record<string, string | undefined>;
}

type Part = (ctx: TemplateContext) => string | number | boolean;

const TAG = /\{\{\s*([^}]*?)\s*\}\}/g;
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

export class TemplateError extends Error {}

function compileTag(expr: string): Part {
  const [fn, ...args] = expr.split(/\s+/);
  switch (fn) {
    case 'uuid':
      return () => randomUUID();
    case 'randomInt': {
      const min = Number(args[0] ?? 0);
      const max = Number(args[1] ?? 1_000_000);
      if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) {
        throw new TemplateError(`{{randomInt ${args.join(' ')}}} needs two integers, min <= max`);
      }
      return () => min + Math.floor(Math.random() * (max - min + 1));
    }
    case 'randomString': {
      const n = Number(args[0] ?? 8);
      return () => {
        let s = '';
        for (let i = 0; i < n; i++) s += ALNUM[Math.floor(Math.random() * ALNUM.length)];
        return s;
      };
    }
    case 'vu':
      return (c) => c.vu;
    case 'iter':
      return (c) => c.iter;
    case 'pick': {
      const list = args[0] ?? '';
      return (c) => {
        const items = c.data[list];
        if (!items?.length) throw new TemplateError(`data list "${list}" is empty`);
        return items[Math.floor(Math.random() * items.length)] as string | number | boolean;
      };
    }
    case 'seq': {
      const list = args[0] ?? '';
      return (c) => {
        const items = c.data[list];
        if (!items?.length) throw new TemplateError(`data list "${list}" is empty`);
        return items[c.iter % items.length] as string | number | boolean;
      };
    }
    case 'env': {
      const name = args[0] ?? '';
      return (c) => c.env[name] ?? '';
    }
    case 'now':
      return () => Date.now();
    case 'isoTime':
      return () => new Date().toISOString();
    default:
      throw new TemplateError(
        `unknown template {{${expr}}}; use uuid, randomInt, randomString, vu, iter, pick, seq, env, now or isoTime`,
      );
  }
}

/** Compiles a string template. */
export function compileString(text: string): (ctx: TemplateContext) => string {
  const parts: Part[] = [];
  let last = 0;
  for (const m of text.matchAll(TAG)) {
    if (m.index > last) {
      const lit = text.slice(last, m.index);
      parts.push(() => lit);
    }
    parts.push(compileTag(m[1] as string));
    last = m.index + m[0].length;
  }
  if (parts.length === 0) return () => text;
  if (last < text.length) {
    const lit = text.slice(last);
    parts.push(() => lit);
  }
  if (parts.length === 1) {
    const only = parts[0] as Part;
    return (c) => String(only(c));
  }
  return (c) => {
    let s = '';
    for (const p of parts) s += p(c);
    return s;
  };
}

/** True when the string contains at least one `{{tag}}`. */
export function hasTemplate(text: string): boolean {
  return /\{\{[^}]*\}\}/.test(text);
}

/**
 * Compiles a JSON value: strings are templates; a string that is exactly one tag keeps the tag's
 * type (so `"{{randomInt 1 5}}"` becomes a number in the body).
 */
export function compileValue(value: unknown): (ctx: TemplateContext) => unknown {
  if (typeof value === 'string') {
    if (!hasTemplate(value)) return () => value;
    const whole = /^\{\{\s*([^}]*?)\s*\}\}$/.exec(value);
    if (whole) return compileTag(whole[1] as string);
    return compileString(value);
  }
  if (Array.isArray(value)) {
    const items = value.map(compileValue);
    return (c) => items.map((f) => f(c));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, compileValue(v)] as const);
    return (c) => {
      const out: Record<string, unknown> = {};
      for (const [k, f] of entries) out[k] = f(c);
      return out;
    };
  }
  return () => value;
}

/** Reads a dotted JSON path (`items.0.id`) from a parsed value. */
export function jsonPathGet(value: unknown, path: string): unknown {
  let cur: unknown = value;
  for (const seg of path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}
