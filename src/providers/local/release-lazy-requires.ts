/**
 * Requires that a release bundle defers to their first use. A few dependencies of the service kit
 * require, at their top level or in every constructor call, modules that only paths the kit's
 * services never take need; bundled, those modules were read, compiled and evaluated at every
 * start, before `/readyz` (issue 21, the service's cold start). Here each such require gets a
 * stand-in that loads the real module when it is first used, so nothing changes for a service that
 * does use it:
 *
 * | where | what | used by |
 * | --- | --- | --- |
 * | fastify/lib/schema-controller.js | `@fastify/ajv-compiler` (ajv, ajv-formats) and `@fastify/fast-json-stringify-compiler`, made in every `Fastify()` call | routes with a JSON schema (none of the kit's or the built-in services') |
 * | fastify/lib/server.js | `node:https`, `node:http2` (with tls) | `https` and `http2` server options (the kit serves HTTP/1.1 and splits off h2c itself) |
 * | fastify/lib/plugin-utils.js | `semver` | plugins that name the fastify versions they support |
 * | fastify/lib/request.js | `@fastify/proxy-addr` (ipaddr.js) | the `trustProxy` option |
 * | fastify/fastify.js | `light-my-request` (already required at first use) | `inject()` |
 * | prom-client/index.js | its `Pushgateway` class (`https`, `zlib`) | pushing metrics (the kit's are scraped) |
 * | prom-client/lib/metrics/processCpuTotal.js | `@opentelemetry/api` | exemplars (`enableExemplars`) |
 *
 * A package the stand-in loads is not bundled but required at run time from the installation's
 * node_modules, which every release links (as the packages a service imports lazily, releases.ts):
 * that keeps ~800 KB that the start never runs out of `main.mjs`, which Node reads, hashes and
 * deserializes the compile cache of at every start. It is bundled instead when the installation's
 * top-level copy is not the one the requirer would get (a nested version).
 *
 * The stand-in keeps the shape fastify and prom-client use: the compiler selectors are still
 * called in the constructor and still pool per call, but the compiler loads at the first route
 * that needs it (fastify sees no custom compiler, so header schemas are handled as before); a
 * namespace's properties are read from the real module; the class constructs, calls and reads
 * through to the real one.
 */
import { isAbsolute } from 'node:path';
import type { Plugin } from 'esbuild';

/** How the requirer uses what it requires; `deferred`: it already requires it at first use. */
type Shape = 'compiler-selector' | 'namespace' | 'class' | 'deferred';

interface LazyRequire {
  /** The requiring module. */
  importer: RegExp;
  /** What it requires. */
  request: RegExp;
  shape: Shape;
}

const sep = String.raw`[\\/]`;
/** A file of the package at `path` (`/`-separated), wherever it is installed. */
const inPackage = (path: string) => new RegExp(`${sep}${path.replaceAll('.', '\\.').replaceAll('/', sep)}$`);
const inFastify = (file: string) => inPackage(`fastify/${file}`);
const LAZY_REQUIRES: readonly LazyRequire[] = [
  {
    importer: inFastify('lib/schema-controller.js'),
    request: /^@fastify\/(ajv-compiler|fast-json-stringify-compiler)$/,
    shape: 'compiler-selector',
  },
  { importer: inFastify('lib/server.js'), request: /^node:(https|http2)$/, shape: 'namespace' },
  { importer: inFastify('lib/plugin-utils.js'), request: /^semver$/, shape: 'namespace' },
  { importer: inFastify('lib/request.js'), request: /^@fastify\/proxy-addr$/, shape: 'namespace' },
  { importer: inFastify('fastify.js'), request: /^light-my-request$/, shape: 'deferred' },
  {
    importer: inPackage('prom-client/index.js'),
    request: /^\.\/lib\/pushgateway$/,
    shape: 'class',
  },
  {
    importer: inPackage('prom-client/lib/metrics/processCpuTotal.js'),
    request: /^@opentelemetry\/api$/,
    shape: 'namespace',
  },
];

const NAMESPACE = 'lazy-require';

/** The stand-in's CommonJS source for `real`: a builtin, a package (external) or an absolute path. */
function standIn(shape: Exclude<Shape, 'deferred'>, real: string): string {
  const load = `let real;\nconst load = () => (real ??= require(${JSON.stringify(real)}));\n`;
  switch (shape) {
    case 'compiler-selector':
      // `Selector(options)` returns a builder fastify calls with (externalSchemas, options).
      return `${load}module.exports = function lazySelector(...options) {
  let build;
  return function lazyBuild(...args) {
    build ??= load()(...options);
    return build.apply(this, args);
  };
};\n`;
    case 'namespace':
      return `${load}module.exports = new Proxy({}, { get: (_, key) => load()[key] });\n`;
    case 'class':
      return `${load}const stub = function () {};
module.exports = new Proxy(stub, {
  get: (_, key) => Reflect.get(load(), key),
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args, newTarget) =>
    Reflect.construct(load(), args, newTarget === module.exports ? load() : newTarget),
});\n`;
  }
}

/**
 * esbuild plugin: the requires of LAZY_REQUIRES load the real module at first use. `installRoot`
 * is the platformctl installation whose node_modules the release links.
 */
export function lazyRequires(installRoot: string): Plugin {
  return {
    name: 'lazy-requires',
    setup(b) {
      const filter = new RegExp(LAZY_REQUIRES.map((l) => l.request.source).join('|'));
      b.onResolve({ filter }, async (args) => {
        if (args.namespace !== 'file' || args.kind !== 'require-call') return undefined;
        const lazy = LAZY_REQUIRES.find((l) => l.request.test(args.path) && l.importer.test(args.importer));
        if (!lazy) return undefined;
        const bundled = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir });
        if (bundled.errors.length > 0) return { errors: bundled.errors };
        let real = bundled.path;
        if (bundled.external) real = args.path;
        else if (!args.path.startsWith('.')) {
          const installed = await b.resolve(args.path, { kind: args.kind, resolveDir: installRoot });
          if (installed.path === bundled.path) real = args.path;
        }
        if (lazy.shape === 'deferred') return isAbsolute(real) ? undefined : { path: real, external: true };
        return { path: real, namespace: NAMESPACE, pluginData: lazy.shape };
      });
      // What a stand-in requires: a builtin or a package stays a run-time require, a file is bundled.
      b.onResolve({ filter: /.*/, namespace: NAMESPACE }, (args) =>
        isAbsolute(args.path) ? { path: args.path } : { path: args.path, external: true },
      );
      b.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
        contents: standIn(args.pluginData as Exclude<Shape, 'deferred'>, args.path),
        loader: 'js',
      }));
    },
  };
}
