/**
 * Edits of platform.yaml that leave every byte the user wrote as it was. The yaml package's
 * Document API keeps comments, but re-rendering the whole document still rewrites unrelated lines
 * (`[us-east-1]` becomes `[ us-east-1 ]`, long lines are folded, quotes change); so the Document is
 * used to find where an edit goes and to render only the new text, which is spliced in.
 */
import { Document, isMap, isSeq, type Node, parseDocument, visit } from 'yaml';
import { PlatformError } from '../errors.ts';

/** Column of `offset` in `text` (0-based). */
function columnOf(text: string, offset: number): number {
  return offset - (text.lastIndexOf('\n', offset - 1) + 1);
}

/**
 * Adds `key: value` as the last entry of the top-level block mapping `mapKey` (e.g. `services`),
 * indented like its other entries, with sequences of scalars written in flow style (`[/billing]`)
 * as platform.yaml writes them. Everything else in `text` is kept byte for byte.
 */
export function addMappingEntry(text: string, mapKey: string, key: string, value: unknown): string {
  const doc = parseDocument(text);
  const map = doc.get(mapKey, true);
  if (!isMap(map) || map.flow || map.items.length === 0) {
    throw new PlatformError('CONFIG_INVALID', `platform.yaml has no "${mapKey}:" block to add "${key}" to`, {
      hint: `add it by hand under ${mapKey}:`,
    });
  }
  const first = map.items[0]?.key as Node;
  const last = map.items[map.items.length - 1];
  const lastNode = (last?.value ?? last?.key) as Node;
  const indent = columnOf(text, first.range?.[0] ?? 0);
  const nested = nestedIndent(text, map) ?? 2;

  const entry = new Document({ [key]: value });
  visit(entry, {
    Seq(_, node) {
      if (node.items.every((i) => !isMap(i) && !isSeq(i))) node.flow = true;
    },
  });
  const rendered = entry
    .toString({ indent: nested, flowCollectionPadding: false, lineWidth: 0 })
    .trimEnd()
    .split('\n')
    .map((line) => `${' '.repeat(indent)}${line}`)
    .join('\n');

  // After the line on which the last entry's value ends (its own trailing comment included).
  const valueEnd = lastNode.range?.[1] ?? text.length;
  const lineEnd = text.indexOf('\n', Math.max(valueEnd - 1, 0));
  if (lineEnd === -1) return `${text}\n${rendered}\n`;
  return `${text.slice(0, lineEnd + 1)}${rendered}\n${text.slice(lineEnd + 1)}`;
}

/** How far a nested block mapping of `map` is indented beyond its key, if there is one. */
function nestedIndent(text: string, map: ReturnType<Document['get']>): number | undefined {
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    const inner = pair.value;
    if (isMap(inner) && !inner.flow && inner.items[0]) {
      const outer = columnOf(text, (pair.key as Node).range?.[0] ?? 0);
      return columnOf(text, (inner.items[0].key as Node).range?.[0] ?? 0) - outer;
    }
  }
  return undefined;
}
