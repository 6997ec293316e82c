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
postProcessChunks(staging);
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
 * Post-processes the chunks for start-up time; source maps stay exact (line 1, the banner, has no
 * mappings, and whatever is removed elsewhere is blanked to spaces of its own length).
 * - Each `import{a as b}from"node:fs"` becomes `const{a:b}=process.getBuiltinModule("node:fs")`
 *   at the end of line 1, before any code as the imports were (esbuild emits some mid-chunk, and
 *   imports are hoisted). Importing a builtin as an ES module builds a facade that reads every
 *   export, which runs the builtin's lazy getters: `node:fs` loads fs/promises and streams,
 *   `node:process` the diagnostic report, `node:util` parseArgs and diff — ~12 ms of CPU on every
 *   `status` and `config validate`, more than their own work.
 * - The banner's `require` is kept only in chunks that still use it (yaml, commander).
 * - Chunks left empty (type-only modules) are deleted with their imports: each chunk loaded costs
 *   ~0.3 ms, and `status` loaded two that hold nothing.
 */
function postProcessChunks(dir: string): void {
  const builtinImport = /import(?:\{([\w$, ]*)\}| ([\w$]+) )from"(node:[\w/]+)";/g;
  const chunks = new Map<string, { banner: string; body: string }>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.js'))) {
    const source = readFileSync(join(dir, name), 'utf8');
    const bannerEnd = source.indexOf('\n');
    const requires: string[] = [];
    const body = source
      .slice(bannerEnd)
      .replace(builtinImport, (all, names: string | undefined, binding, id) => {
        const target = names === undefined ? binding : `{${names.replaceAll(' as ', ':')}}`;
        requires.push(`const ${target}=process.getBuiltinModule("${id}");`);
        return ' '.repeat(all.length);
      });
    const banner = /\brequire\b/.test(body) ? source.slice(0, bannerEnd) : '';
    chunks.set(name, { banner: banner + requires.join(''), body });
  }
  const empty = [...chunks].filter(([, c]) => c.body.replace(/\/\/# sourceMappingURL=.*/, '').trim() === '');
  for (const [name] of empty) {
    chunks.delete(name);
    rmSync(join(dir, name));
    rmSync(join(dir, `${name}.map`));
  }
  const emptyImport = new RegExp(
    `import"\\./(${empty.map(([n]) => n.replaceAll('.', '\\.')).join('|')})";`,
    'g',
  );
  for (const [name, { banner, body }] of chunks) {
    const text = empty.length > 0 ? body.replace(emptyImport, (all) => ' '.repeat(all.length)) : body;
    writeFileSync(join(dir, name), banner + text);
  }
}
