/**
 * The argument schemas the published prebuilt CDKTF bindings carry (@cdktf/provider-aws, -azurerm,
 * -google: generated from each provider's own schema), read from their compiled JavaScript: a
 * resource class's `synthesizeAttributes()` lists its arguments, and each nested block has a
 * `<struct>ToTerraform()` converter listing the block's. The packages (about 1 GB together) are
 * installed by .ci/run into ~/.cache/platformctl-provider-bindings for this check only; they are
 * never dependencies (decision 0001).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const BINDINGS_DIR =
  process.env.PLATFORMCTL_BINDINGS_DIR ?? join(homedir(), '.cache', 'platformctl-provider-bindings');

/** Provider prefix of a resource type -> binding package. */
export const BINDING_PACKAGES: Record<string, string> = {
  aws: '@cdktf/provider-aws',
  azurerm: '@cdktf/provider-azurerm',
  google: '@cdktf/provider-google',
};

/** Arguments of one block: name -> converter of its nested block (undefined for a plain value). */
type Block = Map<string, string | undefined>;

const META_ARGUMENTS = new Set([
  'depends_on',
  'count',
  'for_each',
  'provider',
  'lifecycle',
  'connection',
  'provisioner',
]);

export function packageDir(pkg: string): string {
  return join(BINDINGS_DIR, 'node_modules', pkg);
}

export function bindingsInstalled(): string | undefined {
  const missing = Object.values(BINDING_PACKAGES).filter(
    (p) => !existsSync(join(packageDir(p), 'package.json')),
  );
  return missing.length
    ? `${missing.join(', ')} not installed in ${BINDINGS_DIR} (.ci/run installs them)`
    : undefined;
}

function parseReturnBlock(lines: string[], start: number): Block {
  const block: Block = new Map();
  for (let i = start; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^\s*};?\s*$/.test(line)) break;
    const m = /^\s+([a-z0-9_]+): (.*?),?$/.exec(line);
    if (!m) continue;
    const converter = /(?:^|[^.\w]|\.)(?<!cdktf\.)([a-z]\w*)ToTerraform\b/.exec(m[2] as string)?.[1];
    block.set(
      m[1] as string,
      converter && !/^(string|number|boolean|any)$/.test(converter) ? converter : undefined,
    );
  }
  return block;
}

/** Converters and resource classes of one generated module directory (its JS files). */
function readModule(dir: string, converters: Map<string, Block>, types: Map<string, Block>): void {
  const files = [join(dir, 'index.js')];
  const structs = join(dir, 'index-structs');
  if (existsSync(structs))
    for (const f of readdirSync(structs)) if (f.endsWith('.js')) files.push(join(structs, f));
  for (const file of files) {
    if (!existsSync(file)) continue;
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const fn = /^function (\w+)ToTerraform\(struct\) \{$/.exec(lines[i] as string);
      if (fn) {
        let j = i + 1;
        while (
          j < lines.length &&
          !/^\s+return \{$/.test(lines[j] as string) &&
          !/^}$/.test(lines[j] as string)
        )
          j++;
        converters.set(fn[1] as string, parseReturnBlock(lines, j + 1));
        continue;
      }
      if (/^\s+synthesizeAttributes\(\) \{$/.test(lines[i] as string)) {
        const type = /(\w+)\.tfResourceType = "([\w-]+)";/.exec(lines.join('\n'))?.[2];
        if (type) types.set(type, parseReturnBlock(lines, i + 2));
      }
    }
  }
}

export interface BindingSchema {
  /** Resource or data source type -> its top-level arguments. */
  block(kind: 'resource' | 'data', type: string): Block | undefined;
  converter(name: string): Block | undefined;
}

/** Reads the modules of the given resource and data source types from the provider's binding. */
export function readBindings(provider: string, resources: string[], dataSources: string[]): BindingSchema {
  const pkg = packageDir(BINDING_PACKAGES[provider] as string);
  const converters = new Map<string, Block>();
  const resourceTypes = new Map<string, Block>();
  const dataTypes = new Map<string, Block>();
  const dirOf = (type: string) => type.slice(provider.length + 1).replace(/_/g, '-');
  for (const type of resources) readModule(join(pkg, 'lib', dirOf(type)), converters, resourceTypes);
  for (const type of dataSources) {
    readModule(join(pkg, 'lib', `data-${provider}-${dirOf(type)}`), converters, dataTypes);
  }
  return {
    block: (kind, type) => (kind === 'resource' ? resourceTypes : dataTypes).get(type),
    converter: (name) => converters.get(name),
  };
}

/** Every argument in `body` the schema does not know, as `path: argument`. */
export function unknownArguments(
  schema: BindingSchema,
  block: Block,
  body: unknown,
  path: string,
  top = true,
): string[] {
  if (Array.isArray(body))
    return body.flatMap((b, i) => unknownArguments(schema, block, b, `${path}[${i}]`, top));
  if (typeof body !== 'object' || body === null) return [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    // Meta-arguments on the resource itself; `//` is Terraform JSON's comment key (CDKTF metadata).
    if (key === '//' || (top && META_ARGUMENTS.has(key))) continue;
    if (!block.has(key)) {
      problems.push(`${path}: unknown argument "${key}"`);
      continue;
    }
    const nested = block.get(key);
    if (nested) {
      const inner = schema.converter(nested);
      if (inner) problems.push(...unknownArguments(schema, inner, value, `${path}.${key}`, false));
    }
  }
  return problems;
}
