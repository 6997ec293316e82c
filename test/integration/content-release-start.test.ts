/**
 * What content's release evaluates before it is ready: the bundle and the chunks it imports
 * statically. @grpc/grpc-js, @grpc/proto-loader and @grpc/reflection are not among them — content
 * calls auth over gRPC only for uploads and deletes, and loading them (plus parsing auth's proto)
 * was a large part of the CPU every start and restart spent before `/readyz`. They stay reachable
 * through dynamic `import()`, which the on-demand auth client uses. Nor are the Node builtins and
 * bundled modules that only unused paths of its dependencies need (release-lazy-requires.ts), nor
 * zod's chained API.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { buildRelease } from '../../src/providers/local/releases.ts';
import { workspace } from '../helpers/cli.ts';
import { waitFor } from '../helpers/poll.ts';
import { startRelease } from '../helpers/release-start.ts';

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
const scratch = mkdtempSync(join(tmpdir(), 'content-release-start-'));
let child: ChildProcess | undefined;
afterAll(() => {
  child?.kill('SIGKILL');
  ws.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe("content release's start", () => {
  it('loads no gRPC library before it is ready, and keeps the on-demand import of @grpc/grpc-js', async () => {
    const { release } = await buildRelease(loadPlatform(ws.dir), 'content', { version: 'v1' });
    const { files, packages } = startGraph(release.entryPath);
    expect(files.length).toBeGreaterThan(1);
    expect([...packages].filter((p) => p.startsWith('@grpc/'))).toEqual([]);
    const all = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    // Sanity of the walk: what the start does load is seen (fastify is bundled; builtins are bound
    // with process.getBuiltinModule, release-builtins.ts).
    expect(all).toContain('fastify/lib/server.js');
    expect(all).toContain('process.getBuiltinModule("node:crypto")');
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

  it('has loaded neither https, http2, tls nor zlib when it is ready, and builds no ES-module facade of a builtin', async () => {
    const { release } = await buildRelease(loadPlatform(ws.dir), 'content', { version: 'v3' });
    // What Node has loaded, written when asked (SIGUSR2) by a module preloaded before the bundle.
    const listFile = join(scratch, 'modules.json');
    const preload = join(scratch, 'module-list.mjs');
    writeFileSync(
      preload,
      `process.on('SIGUSR2', () => process.getBuiltinModule('node:fs').writeFileSync(${JSON.stringify(listFile)}, JSON.stringify(process.moduleLoadList)));\n`,
    );
    // No AUTH_URL and no tracing: nothing is loaded on a timer after readiness.
    ({ child } = await startRelease(
      release.entryPath,
      { PATH: process.env.PATH, DATA_DIR: join(scratch, 'data'), LOG_LEVEL: 'warn' },
      ['--import', preload],
    ));
    child.kill('SIGUSR2');
    const loaded = await waitFor('the module list', () =>
      existsSync(listFile) ? (JSON.parse(readFileSync(listFile, 'utf8')) as string[]) : undefined,
    );
    // The walk's sanity: what serving HTTP needs is there.
    expect(loaded).toContain('NativeModule http');
    for (const unused of ['https', 'http2', 'tls', 'zlib'])
      expect(loaded).not.toContain(`NativeModule ${unused}`);
    // `import { randomUUID } from "node:crypto"` would build the facade, which loads WebCrypto.
    expect(loaded).toContain('NativeModule crypto');
    expect(loaded).not.toContain('NativeModule internal/crypto/webcrypto');
    // fastify's default schema compilers are required through stand-ins that load them on first use…
    const bundle = readFileSync(release.entryPath, 'utf8');
    const schemaController = bundle.slice(bundle.indexOf('fastify/lib/schema-controller.js"('));
    const requires = schemaController.slice(0, schemaController.indexOf('\n});')).match(/require_\w+\(\)/g);
    for (const compiler of ['ajv-compiler', 'fast-json-stringify-compiler']) {
      const standIn = new RegExp(
        `var (require_\\w+) = __commonJS\\(\\{\\n  "lazy-require:@fastify/${compiler}"`,
      );
      const name = standIn.exec(bundle)?.[1];
      expect(name, compiler).toBeDefined();
      expect(requires).toContain(`${name}()`);
    }
    // …and are not bundled: they load from the installation's node_modules then.
    expect(bundle).not.toMatch(/^\/\/ .*node_modules\/ajv\//m);
    // (fastify's error serializer, which it uses, is fast-json-stringify/lib/serializer.js alone.)
    expect(bundle).not.toMatch(/^\/\/ .*node_modules\/fast-json-stringify\/index\.js/m);
  });
});
