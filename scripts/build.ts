/**
 * Builds the CLI into dist/cli/ with esbuild: one small entry chunk (our code + commander) and one
 * chunk per lazily imported command module. Bundling halves start-up time compared with loading
 * tsc's per-file output; npm dependencies other than commander stay external so native modules and
 * heavy SDKs load from node_modules only in the commands that need them.
 */
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const external = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })
  .filter((name) => name !== 'commander')
  .flatMap((name) => [name, `${name}/*`]);

// Build beside the live output and swap it in, so a CLI running during a rebuild (tests, a second
// terminal) never finds dist/cli half-written.
const outdir = join(root, 'dist', 'cli');
const staging = `${outdir}.new-${process.pid}`;
await build({
  entryPoints: [join(root, 'src', 'cli.ts')],
  outdir: staging,
  bundle: true,
  splitting: true,
  minify: true,
  sourcemap: 'linked',
  format: 'esm',
  platform: 'node',
  target: 'node22',
  external,
  define: { PLATFORMCTL_VERSION: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
const retired = `${outdir}.old-${process.pid}`;
rmSync(retired, { recursive: true, force: true });
try {
  renameSync(outdir, retired);
} catch {
  // first build: nothing to retire
}
renameSync(staging, outdir);
rmSync(retired, { recursive: true, force: true });
