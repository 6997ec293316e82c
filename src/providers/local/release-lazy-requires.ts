/**
 * Requires that a release bundle defers to their first use. A few dependencies of the service kit
 * require, at their top level or in every constructor call, modules that only paths the kit's
 * services never take need; bundled, those modules are still evaluated at every start, before
 * `/readyz` (issue 21, the service's cold start). Here each such require gets a stand-in that
 * loads the real module when it is first used, so nothing changes for a service that does use it:
 *
 * | where | what | used by |
 * | --- | --- | --- |
 * | fastify/lib/schema-controller.js | `@fastify/ajv-compiler` (ajv, ajv-formats) and `@fastify/fast-json-stringify-compiler`, made in every `Fastify()` call | routes with a JSON schema (none of the kit's or the built-in services') |
 * | fastify/lib/server.js | `node:https`, `node:http2` (with tls) | `https` and `http2` server options (the kit serves HTTP/1.1 and splits off h2c itself) |
 * | prom-client/index.js | its `Pushgateway` class (`https`, `zlib`) | pushing metrics (the kit's are scraped) |
 *
 * The stand-in keeps the shape fastify and prom-client use: the compiler selectors are still
 * called in the constructor and still pool per call, but the compiler module loads at the first
 * route that needs it (fastify sees no custom compiler, so header schemas are handled as before);
 * a builtin is a namespace whose properties are read from the real module; the class constructs,
 * calls and reads through to the real one.
 */
import { dirname, isAbsolute } from 'node:path';
import type { Plugin } from 'esbuild';

type Shape = 'compiler-selector' | 'namespace' | 'class';

interface LazyRequire {
  /** The requiring module. */
  importer: RegExp;
  /** What it requires. */
  request: RegExp;
  shape: Shape;
}

const sep = String.raw`[\\/]`;
const LAZY_REQUIRES: readonly LazyRequire[] = [
  {
    importer: new RegExp(`${sep}fastify${sep}lib${sep}schema-controller\\.js$`),
    request: /^@fastify\/(ajv-compiler|fast-json-stringify-compiler)$/,
    shape: 'compiler-selector',
  },
  {
    importer: new RegExp(`${sep}fastify${sep}lib${sep}server\\.js$`),
    request: /^node:(https|http2)$/,
    shape: 'namespace',
  },
  {
    importer: new RegExp(`${sep}prom-client${sep}index\\.js$`),
    request: /^\.\/lib\/pushgateway$/,
    shape: 'class',
  },
];

const NAMESPACE = 'lazy-require';

/** The stand-in's CommonJS source for the real module `real` (a builtin id or an absolute path). */
function standIn(shape: Shape, real: string): string {
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

/** esbuild plugin: the requires of LAZY_REQUIRES get stand-ins that load the real module on first use. */
export const lazyRequires: Plugin = {
  name: 'lazy-requires',
  setup(b) {
    const filter = new RegExp(LAZY_REQUIRES.map((l) => l.request.source).join('|'));
    b.onResolve({ filter }, async (args) => {
      if (args.namespace !== 'file' || args.kind !== 'require-call') return undefined;
      const lazy = LAZY_REQUIRES.find((l) => l.request.test(args.path) && l.importer.test(args.importer));
      if (!lazy) return undefined;
      const real = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: NAMESPACE, pluginData: lazy.shape };
    });
    b.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
      contents: standIn(args.pluginData as Shape, args.path),
      loader: 'js',
      // The real module, when it is a file, is bundled from where the requirer found it.
      ...(isAbsolute(args.path) ? { resolveDir: dirname(args.path) } : {}),
    }));
  },
};
