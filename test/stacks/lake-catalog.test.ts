/**
 * The lake's catalogue agrees with the files the exporter writes: on every cloud its columns, their
 * order and types and the `dt` partition are the ones of runtime/analytics/lake/events.schema.json,
 * and it points at the same stack's data-lake bucket.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENGINE_TYPES, lakeSchema } from '../../runtime/analytics/src/lake-schema.ts';
import { type SynthResult, synthesize } from '../../src/stacks/synth.ts';
import { loadFixture, tempDir } from './fixture.ts';

// biome-ignore lint/suspicious/noExplicitAny: synthesized Terraform JSON is walked by path in assertions
type Json = Record<string, any>;

describe('the data lake catalogue', () => {
  const { columns, partitionKey, table } = lakeSchema();
  const out = tempDir();
  let result: SynthResult;
  beforeAll(() => {
    result = synthesize(loadFixture(), { outdir: out.dir, clouds: ['aws', 'azure', 'gcp'] });
  });
  afterAll(() => out.dispose());
  const dataStack = (cloud: 'aws' | 'azure' | 'gcp'): Json => {
    const spec = result.stacks.find((s) => s.role === 'data' && s.cloud === cloud);
    if (!spec) throw new Error(`no ${cloud} data stack`);
    return JSON.parse(readFileSync(join(out.dir, spec.file), 'utf8')) as Json;
  };
  const one = (doc: Json, type: string): Json => Object.values(doc.resource[type] ?? {})[0] as Json;

  it('aws: a Glue table over the lake bucket, partition projection on dt', () => {
    const doc = dataStack('aws');
    const t = one(doc, 'aws_glue_catalog_table');
    expect(t.name).toBe(table);
    expect(t.storage_descriptor.columns.map((c: Json) => [c.name, c.type])).toEqual(
      columns.map((c) => [c.name, ENGINE_TYPES.glue[c.type]]),
    );
    expect(t.partition_keys).toEqual([
      { name: partitionKey.name, type: 'date', comment: partitionKey.description },
    ]);
    const lakeId = Object.keys(doc.resource.aws_s3_bucket as Json).find((id) => id.startsWith('datalake'));
    expect(lakeId).toBeDefined();
    expect(t.storage_descriptor.location).toBe(`s3://\${aws_s3_bucket.${lakeId}.id}/${table}/`);
    expect(t.parameters['storage.location.template']).toMatch(/\/events\/dt=\$\$\{dt\}\/$/);
    expect(t.parameters.classification).toBe('parquet');
  });

  it('gcp: a BigQuery external table with hive partitioning, encrypted with the stack key', () => {
    const doc = dataStack('gcp');
    const t = one(doc, 'google_bigquery_table');
    expect(JSON.parse(t.schema).map((c: Json) => [c.name, c.type, c.mode])).toEqual(
      columns.map((c) => [c.name, ENGINE_TYPES.bigquery[c.type], c.nullable ? 'NULLABLE' : 'REQUIRED']),
    );
    expect(t.external_data_configuration.hive_partitioning_options.source_uri_prefix).toMatch(
      /^gs:\/\/\$\{google_storage_bucket\.datalake[^}]*\}\/events\/\{dt:DATE\}$/,
    );
    expect(one(doc, 'google_bigquery_dataset').default_encryption_configuration.kms_key_name).toMatch(
      /google_kms_crypto_key/,
    );
  });

  it('azure: a locked-down Synapse workspace that may read the lake account, and the view DDL', () => {
    const doc = dataStack('azure');
    const ws = one(doc, 'azurerm_synapse_workspace');
    expect(ws).toMatchObject({ azuread_authentication_only: true, public_network_access_enabled: false });
    const reader = Object.values(doc.resource.azurerm_role_assignment as Json).find(
      (r: Json) => r.role_definition_name === 'Storage Blob Data Reader',
    ) as Json;
    expect(reader.scope).toMatch(/azurerm_storage_account\.datalake/);
    const ddl = doc.output['lake-synapse-ddl'].value as string;
    for (const c of columns) expect(ddl).toContain(`  ${c.name} `);
    expect(ddl).toContain(`/${table}/${partitionKey.name}=*/*.parquet`);
  });
});
