/**
 * Every argument of every synthesized resource and data source, on all three clouds, checked
 * against the schemas the published prebuilt bindings carry (test/helpers/provider-bindings.ts).
 * AWS also runs `terraform validate` where the plugin is on the machine (validate.test.ts); Azure
 * and Google plugins cannot be had here, so this is their argument check. `random` has no binding
 * installed; its one resource (random_password: length, special) is checked by synth.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../src/stacks/synth.ts';
import {
  BINDING_PACKAGES,
  type BindingSchema,
  bindingsInstalled,
  readBindings,
  unknownArguments,
} from '../helpers/provider-bindings.ts';
import { loadFixture, tempDir } from '../stacks/fixture.ts';

const missing = bindingsInstalled();
const inCI = Boolean(process.env.CI) && process.env.CI !== 'false';
type Body = Record<string, Record<string, unknown>>;
type Doc = { resource?: Record<string, Body>; data?: Record<string, Body> };

describe.skipIf(Boolean(missing) && !inCI)('synthesized arguments against the provider bindings', () => {
  const out = tempDir();
  afterAll(() => out.dispose());
  const docs: { stack: string; doc: Doc }[] = [];
  const byProvider = new Map<string, { resources: Set<string>; data: Set<string> }>();
  const schemas = new Map<string, BindingSchema>();

  function load(): void {
    if (docs.length) return;
    expect(missing, missing).toBeUndefined();
    const result = synthesize(loadFixture(), { outdir: out.dir, clouds: ['aws', 'azure', 'gcp'] });
    for (const s of result.stacks)
      docs.push({ stack: s.name, doc: JSON.parse(readFileSync(join(out.dir, s.file), 'utf8')) });
    for (const { doc } of docs) {
      for (const [kind, section] of [
        ['resources', doc.resource],
        ['data', doc.data],
      ] as const) {
        for (const type of Object.keys(section ?? {})) {
          const provider = type.slice(0, type.indexOf('_'));
          if (!(provider in BINDING_PACKAGES)) continue;
          const entry = byProvider.get(provider) ?? { resources: new Set(), data: new Set() };
          entry[kind].add(type);
          byProvider.set(provider, entry);
        }
      }
    }
    for (const [provider, types] of byProvider) {
      schemas.set(provider, readBindings(provider, [...types.resources], [...types.data]));
    }
  }

  it('covers all three providers', () => {
    load();
    expect([...byProvider.keys()].sort()).toEqual(['aws', 'azurerm', 'google']);
  });

  it('uses only resource types, data sources and arguments the providers define', () => {
    load();
    const problems: string[] = [];
    for (const { stack, doc } of docs) {
      for (const [kind, section] of [
        ['resource', doc.resource],
        ['data', doc.data],
      ] as const) {
        for (const [type, byName] of Object.entries(section ?? {})) {
          const schema = schemas.get(type.slice(0, type.indexOf('_')));
          if (!schema) continue;
          const block = schema.block(kind, type);
          if (!block) {
            problems.push(`${stack}: ${kind} type ${type} does not exist`);
            continue;
          }
          for (const [name, body] of Object.entries(byName)) {
            problems.push(...unknownArguments(schema, block, body, `${stack}: ${type}.${name}`));
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('catches a misspelt argument, top-level and nested', () => {
    load();
    const schema = schemas.get('google') as BindingSchema;
    const block = schema.block('resource', 'google_container_cluster');
    expect(block).toBeDefined();
    const bad = {
      name: 'c',
      locaton: 'europe-west1',
      private_cluster_config: { enable_private_nodes: true, master_ipv4_cidr: '172.16.0.0/28' },
    };
    expect(unknownArguments(schema, block as NonNullable<typeof block>, bad, 'gke')).toEqual([
      'gke: unknown argument "locaton"',
      'gke.private_cluster_config: unknown argument "master_ipv4_cidr"',
    ]);
  });
});

it.skipIf(!missing || inCI)(`skipped: provider binding check (${missing})`, () => {});
