/**
 * YAML files validated by a zod schema, with every problem reported at `file:line:column` and a fix.
 * Shared by platform.yaml, load scenarios, chaos experiments and drill scenarios.
 */

import { readFileSync } from 'node:fs';
import { type Document, isMap, isPair, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { closest } from '../closest.ts';
import { ConfigError, type ConfigProblem } from '../errors.ts';

/** A parsed YAML document that can locate any dotted path inside it. */
export interface YamlSource {
  file: string;
  /** Plain JS value of the document. */
  value: unknown;
  /** 1-based line and column of the node at `path` (or its nearest existing ancestor). */
  locate(path: readonly PropertyKey[], preferKey?: boolean): { line: number; column: number };
}

/** Parses YAML text; syntax errors become a ConfigError with positions. */
export function parseYaml(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return {
          file,
          line: pos.line,
          column: pos.col,
          path: '',
          message: `invalid YAML: ${firstLine(e.message)}`,
          fix:
            e.code === 'DUPLICATE_KEY'
              ? 'remove or rename the repeated key'
              : 'check indentation (spaces, not tabs) and quoting on this line',
        };
      }),
    );
  }
  return {
    file,
    value: doc.toJS(),
    locate(path, preferKey = false) {
      const offset = offsetOf(doc, path, preferKey);
      const pos = lineCounter.linePos(offset);
      return { line: pos.line, column: pos.col };
    },
  };
}

/** Reads and parses a YAML file; a missing file is a usage error naming it. */
export function readYamlFile(file: string, displayName = file): YamlSource {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      [
        {
          file: displayName,
          line: 1,
          column: 1,
          path: '',
          message: `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
          fix: 'check the path, or pass the right file',
        },
      ],
      `cannot read ${displayName}`,
    );
  }
  return parseYaml(text, displayName);
}

/**
 * Validates `value` (usually `source.value`, possibly with overrides applied) against `schema`.
 * Every issue is reported at once, located in the YAML source.
 */
export function validateWith<S extends z.ZodType>(
  schema: S,
  source: YamlSource,
  value: unknown = source.value,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.flatMap((issue) => problemsFromIssue(issue, source, schema, value)),
  );
}

function problemsFromIssue(
  issue: z.core.$ZodIssue,
  source: YamlSource,
  schema: z.ZodType,
  value: unknown,
): ConfigProblem[] {
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(schema, path);
    return issue.keys.map((key) => {
      const keyPath = [...path, key];
      const guess = closest(key, known, 2);
      return {
        file: source.file,
        ...source.locate(keyPath, true),
        path: dotted(keyPath),
        message: `unknown key "${key}"${path.length ? ` in ${dotted(path)}` : ''}`,
        fix: guess
          ? `did you mean "${guess}"?`
          : known.length
            ? `remove "${key}"; allowed keys: ${known.join(', ')}`
            : `remove "${key}" or check its spelling`,
      };
    });
  }
  const missing = issue.code === 'invalid_type' && valueAt(value, path) === undefined;
  const name = String(path.at(-1) ?? '');
  return [
    {
      file: source.file,
      ...source.locate(path),
      path: dotted(path),
      message: missing
        ? `missing required key "${name}"${path.length > 1 ? ` in ${dotted(path.slice(0, -1))}` : ''}`
        : `${dotted(path) || '(document)'}: ${issue.message}`,
      fix: fixFor(issue, missing),
    },
  ];
}

function fixFor(issue: z.core.$ZodIssue, missing: boolean): string | undefined {
  const params = (issue as { params?: { fix?: string } }).params;
  if (params?.fix) return params.fix;
  switch (issue.code) {
    case 'invalid_type':
      return missing
        ? `add "${String(issue.path.at(-1) ?? '')}:" with ${withArticle(yamlKind(issue.expected))} value`
        : `use ${withArticle(yamlKind(issue.expected))} here`;
    case 'invalid_value':
      return `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
    case 'too_big':
      return 'change the value to fit the allowed range';
    case 'invalid_format':
      return `write it in the ${issue.format} format`;
    default:
      return undefined;
  }
}

/** zod's type names in the words of YAML. */
/** zod's type names in the words of a YAML file ("int" is a whole number, "object" a mapping). */
function yamlKind(expected: string): string {
  const words: Record<string, string> = {
    record: 'mapping',
    object: 'mapping',
    array: 'list',
    int: 'whole number',
  };
  return words[expected] ?? expected;
}

function withArticle(kind: string): string {
  return `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let node = value;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[segment];
  }
  return node;
}

interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
}

/** The keys an object schema allows at `path`, found by walking the schema's definition. */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.ZodType | undefined = schema;
  let i = 0;
  while (node) {
    const def: SchemaDef = (node as unknown as { _zod: { def: SchemaDef } })._zod.def;
    if (def.innerType) node = def.innerType;
    else if (def.type === 'pipe') {
      // z.preprocess(fn, schema) is a pipe from a transform into the schema that has the keys.
      const from = def.in as unknown as { _zod: { def: SchemaDef } } | undefined;
      node = from?._zod.def.type === 'transform' ? def.out : def.in;
    } else if (i === path.length) return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
    else if (def.type === 'object') node = def.shape?.[String(path[i++])];
    else if (def.type === 'record') {
      node = def.valueType;
      i++;
    } else if (def.type === 'array') {
      node = def.element;
      i++;
    } else return [];
  }
  return [];
}

function offsetOf(doc: Document, path: readonly PropertyKey[], preferKey: boolean): number {
  let node: unknown = doc.contents;
  let best = rangeStart(node) ?? 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment),
      );
      if (!pair) break;
      const keyStart = rangeStart(pair.key);
      const valueStart = rangeStart(pair.value);
      best = (preferKey ? keyStart : (valueStart ?? keyStart)) ?? best;
      node = pair.value;
      if (preferKey && segment === path.at(-1)) return keyStart ?? best;
      continue;
    }
    const items = (node as { items?: unknown[] } | null)?.items;
    if (Array.isArray(items) && typeof segment === 'number' && items[segment] !== undefined) {
      node = items[segment];
      best = rangeStart(node) ?? best;
      continue;
    }
    break;
  }
  return best;
}

function rangeStart(node: unknown): number | undefined {
  return (node as Node | null | undefined)?.range?.[0];
}

function dotted(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}
