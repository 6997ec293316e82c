/**
 * Builds the CLI into dist/cli/ with esbuild: one small entry chunk (our code + commander) and one
 * chunk per lazily imported command module. Bundling halves start-up time compared with loading
 * tsc's per-file output. commander, zod, yaml and chalk are bundled too: they are small, pure JS
 * and loaded by the everyday commands (config validate, status), where resolving and compiling
 * zod's and yaml's dozens of files from node_modules was most of the start-up. The other npm
 * dependencies stay external so native modules and heavy SDKs load from node_modules only in the
 * commands that need them.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { renderHelpPages } from '../src/help-pages.ts';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const BUNDLED = new Set(['commander', 'zod', 'yaml', 'chalk']);
const external = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })
  .filter((name) => !BUNDLED.has(name))
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
  define: {
    PLATFORMCTL_VERSION: JSON.stringify(pkg.version),
    // New on every build: keys the validated-config cache (src/core/config/validated-cache.ts), so
    // a rebuilt schema never trusts what an older build accepted.
    PLATFORMCTL_BUILD_ID: JSON.stringify(`${pkg.version}+${randomUUID()}`),
  },
  // yaml is CommonJS and requires node builtins (process); an ESM bundle needs a real require.
  banner: {
    js: "import { createRequire as __platformctlRequire } from 'node:module'; const require = __platformctlRequire(import.meta.url);",
  },
  plugins: [
    {
      // commander requires node:child_process for "executable subcommands", which platformctl does
      // not use; loading that builtin is a measurable share of every start, so commander gets a stub.
      name: 'commander-without-child-process',
      setup(b) {
        b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
          args.importer.includes(`${join('node_modules', 'commander')}`)
            ? { path: 'child_process', namespace: 'commander-stub' }
            : undefined,
        );
        b.onLoad({ filter: /.*/, namespace: 'commander-stub' }, () => ({
          contents:
            "module.exports = { spawn() { throw new Error('executable subcommands are not supported'); } };",
          loader: 'js',
        }));
      },
    },
  ],
  logLevel: 'warning',
});
requireBuiltins(staging);
const retired = `${outdir}.old-${process.pid}`;
rmSync(retired, { recursive: true, force: true });
try {
  renameSync(outdir, retired);
} catch {
  // first build: nothing to retire
}
// Root `--help` lists every verb without declaring every command; the list is computed from the
// same sources at build time so it cannot drift from them.
const cli = (await import(join(staging, 'cli.js'))) as {
  describeVerbs(): unknown;
  buildProgram(): Parameters<typeof renderHelpPages>[0];
};
writeFileSync(join(staging, 'verbs.json'), `${JSON.stringify(cli.describeVerbs())}\n`);
// Every command's --help, rendered by the built program itself: the launcher answers help requests
// from these files without loading the bundle (src/help-pages.ts).
mkdirSync(join(staging, 'help'));
for (const [name, file] of Object.entries(renderHelpPages(cli.buildProgram())))
  writeFileSync(join(staging, 'help', `${name}.json`), `${JSON.stringify(file)}\n`);
renameSync(staging, outdir);
rmSync(retired, { recursive: true, force: true });

/**
 * Turns each chunk's `import{a as b}from"node:fs"` into `const{a:b}=require("node:fs")` (the
 * banner's require). Importing a builtin as an ES module builds a facade that reads every export,
 * which runs the builtin's lazy getters: `node:fs` loads fs/promises and streams, `node:process`
 * the diagnostic report, `node:util` parseArgs and diff — ~12 ms of CPU on every `status` and
 * `config validate`, more than their own work. require hands over the exports object as it is.
 * The requires go at the end of the banner's line, before any code as the imports were (esbuild
 * emits some mid-chunk, and they are hoisted), and each import is blanked to spaces of its own
 * length, so the source maps' lines and columns stay right.
 */
function requireBuiltins(dir: string): void {
  const builtinImport = /import(?:\{([\w$, ]*)\}| ([\w$]+) )from"(node:[\w/]+)";/g;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.js')) continue;
    const file = join(dir, name);
    const source = readFileSync(file, 'utf8');
    const bannerEnd = source.indexOf('\n');
    const requires: string[] = [];
    const body = source
      .slice(bannerEnd)
      .replace(builtinImport, (all, names: string | undefined, binding, id) => {
        requires.push(
          names === undefined
            ? `const ${binding}=require("${id}");`
            : `const{${names.replaceAll(' as ', ':')}}=require("${id}");`,
        );
        return ' '.repeat(all.length);
      });
    if (requires.length > 0) writeFileSync(file, `${source.slice(0, bannerEnd)}${requires.join('')}${body}`);
  }
}
