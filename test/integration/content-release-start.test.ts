/**
 * What content's release evaluates before it is ready: the bundle and the chunks it imports
 * statically. @grpc/grpc-js, @grpc/proto-loader and @grpc/reflection are not among them — content
 * calls auth over gRPC only for uploads and deletes, and loading them (plus parsing auth's proto)
 * was a large part of the CPU every start and restart spent before `/readyz`. They stay reachable
 * through dynamic `import()`, which the on-demand auth client uses.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { buildRelease } from '../../src/providers/local/releases.ts';
import { workspace } from '../helpers/cli.ts';

/** Specifiers of a module's static imports (`import … from "x"`, `import "x"`), not of `import("x")`. */
function staticImports(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(/^import\s+(?:[^;'"]*?\sfrom\s*)?["']([^"']+)["']/gm))
    found.push(m[1] as string);
  return found;
}

/** Every file the entry evaluates at start (relative static imports, followed), and the packages they import. */
function startGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = [];
  const packages = new Set<string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift() as string;
    if (files.includes(file)) continue;
    files.push(file);
    const source = readFileSync(file, 'utf8');
    for (const spec of staticImports(source)) {
      if (spec.startsWith('.')) queue.push(join(dirname(file), spec));
      else packages.add(spec);
    }
    // Bundled CommonJS asks for externals through require(): that loads them at start as well.
    for (const m of source.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)) packages.add(m[1] as string);
  }
  return { files, packages };
}

const ws = workspace({
  'platform.yaml': `apiVersion: platformctl/v1
name: start-imports
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  auth: { path: "builtin:auth", port: 39001, routes: [/auth] }
  content: { path: "builtin:content", port: 39002, routes: [/content] }
`,
});
afterAll(() => ws.dispose());

describe("content release's start", () => {
  it('loads no gRPC library before it is ready, and keeps the on-demand import of @grpc/grpc-js', async () => {
    const { release } = await buildRelease(loadPlatform(ws.dir), 'content', { version: 'v1' });
    const { files, packages } = startGraph(release.entryPath);
    expect(files.length).toBeGreaterThan(1);
    expect([...packages].filter((p) => p.startsWith('@grpc/'))).toEqual([]);
    // Sanity of the walk: what the start does load is seen (fastify is bundled, better-sqlite3 is not).
    expect(packages).toContain('node:crypto');
    const all = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(all).toMatch(/import\(\s*["']@grpc\/grpc-js["']\s*\)/);
  });

  it("bundles zod's core and zod/mini, not zod's chained API (the kit's and content's env schemas)", async () => {
    const { release } = await buildRelease(loadPlatform(ws.dir), 'content', { version: 'v2' });
    const all = startGraph(release.entryPath)
      .files.map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    // esbuild heads each bundled module with a comment naming its file.
    expect(all).toMatch(/^\/\/ .*node_modules\/zod\/v4\/mini\//m);
    expect(all).not.toMatch(/^\/\/ .*node_modules\/zod\/v4\/classic\//m);
  });
});
