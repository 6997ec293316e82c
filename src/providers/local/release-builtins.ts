/**
 * Node builtins in a release bundle without their ES-module facades. For `import { x } from
 * "node:fs"` Node builds a facade module that reads every export of the builtin, which runs its
 * lazy getters (`node:fs` loads its streams, `node:crypto` WebCrypto) and costs ~6 ms of a
 * service's cold start in all (issue 21). Each such import of a bundle file becomes a binding from
 * `process.getBuiltinModule` at the top of the file, where the hoisted import was evaluated too,
 * before the file's own code. (The CLI's build does the same for its chunks, scripts/build.ts.)
 */
import { isBuiltin } from 'node:module';

/** The banner of every bundle file: CommonJS dependencies bundled into ESM still call require(). */
export const RELEASE_BANNER =
  "const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);";

/** `import x, { a, b as c } from "node:fs";`, `import * as x from "node:zlib";`, as esbuild writes them. */
const BUILTIN_IMPORT = /^import (?:([\w$]+)(?:, )?)?(?:\{([^}]*)\}|\* as ([\w$]+))? ?from "([^"]+)";\n/gm;

/** `code` (a bundle file starting with RELEASE_BANNER's line) with its builtin imports as bindings. */
export function bindBuiltins(code: string): string {
  const bindings: string[] = [];
  const body = code.replace(BUILTIN_IMPORT, (all, def?: string, names?: string, ns?: string, id?: string) => {
    if (!id || !isBuiltin(id)) return all;
    const builtin = `process.getBuiltinModule(${JSON.stringify(id)})`;
    const whole = def ?? ns;
    if (whole) bindings.push(`const ${whole} = ${builtin};`);
    if (names?.trim()) {
      const pattern = names
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean)
        .map((n) => n.replace(/\s+as\s+/, ': '))
        .join(', ');
      bindings.push(`const { ${pattern} } = ${builtin};`);
    }
    return '';
  });
  if (bindings.length === 0) return code;
  const bannerEnd = body.indexOf('\n') + 1;
  return `${body.slice(0, bannerEnd)}${bindings.join('\n')}\n${body.slice(bannerEnd)}`;
}
