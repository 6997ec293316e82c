/**
 * The data lake's catalogue: the table a cloud BI tool reads over the Parquet parts that
 * `platformctl analytics export` writes to the data-lake bucket. Columns and the `dt` partition
 * come from runtime/analytics/lake/events.schema.json, the file the exporter writes by, so the
 * catalogue cannot describe other files than the lake holds.
 * - AWS: a Glue database and external table with partition projection over `dt`, so Athena finds
 *   new days without a crawler or `MSCK REPAIR`.
 * - GCP: a BigQuery dataset (CMEK) and an external table with Hive partitioning on `dt`.
 * - Azure: a Synapse workspace (Entra-only auth, managed VNet, exfiltration protection, no public
 *   access) allowed to read the lake; its serverless SQL pool reads the parts in place through the
 *   external table DDL this stack outputs (Synapse tables are SQL objects, not ARM resources).
 */
import { ENGINE_TYPES, lakeSchema } from '../../../runtime/analytics/src/lake-schema.ts';
import { type Construct, TerraformOutput } from '../cdk.ts';
import * as aws from '../resources/aws.ts';
import * as az from '../resources/azure.ts';
import * as gcp from '../resources/gcp.ts';
import { compactName, type Site } from '../site.ts';
import type { EncryptionKey } from './keys.ts';
import type { Network } from './network.ts';
import type { Bucket } from './storage.ts';

/** The day the lake's partitions start; projection covers it up to today. */
const LAKE_SINCE = '2024-01-01';

/** What other stacks and the docs need of the catalogue. */
export interface LakeCatalog {
  /** Glue database / BigQuery dataset / Synapse workspace. */
  database: string;
  table: string;
}

function awsCatalog(scope: Construct, site: Site, lake: Bucket): LakeCatalog {
  const { table, columns, partitionKey } = lakeSchema();
  const database = new aws.AwsGlueCatalogDatabase(scope, 'lake-database', {
    // Glue and Athena names allow lowercase letters, digits and underscores only.
    name: `${site.prefix}_lake`.replace(/-/g, '_'),
    description: `Analytics data lake of ${site.platform} (${site.env})`,
  });
  const location = `s3://${lake.name}/${table}/`;
  new aws.AwsGlueCatalogTable(scope, 'lake-events-table', {
    database_name: database.attr('name'),
    name: table,
    description: 'One row per analytics event, partitioned by the UTC day it was received',
    table_type: 'EXTERNAL_TABLE',
    parameters: {
      classification: 'parquet',
      EXTERNAL: 'TRUE',
      'parquet.compression': 'ZSTD',
      'projection.enabled': 'true',
      [`projection.${partitionKey.name}.type`]: 'date',
      [`projection.${partitionKey.name}.format`]: 'yyyy-MM-dd',
      [`projection.${partitionKey.name}.range`]: `${LAKE_SINCE},NOW`,
      [`projection.${partitionKey.name}.interval`]: '1',
      [`projection.${partitionKey.name}.interval.unit`]: 'DAYS',
      // `$${…}` is Terraform's escape for a literal `${…}`: Athena fills it in, not Terraform.
      'storage.location.template': `${location}${partitionKey.name}=$\${${partitionKey.name}}/`,
    },
    partition_keys: [
      {
        name: partitionKey.name,
        type: ENGINE_TYPES.glue[partitionKey.type],
        comment: partitionKey.description,
      },
    ],
    storage_descriptor: {
      location,
      input_format: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
      output_format: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
      compressed: true,
      ser_de_info: { serialization_library: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
      columns: columns.map((c) => ({
        name: c.name,
        type: ENGINE_TYPES.glue[c.type],
        comment: c.description,
      })),
    },
  });
  return { database: database.attr('name'), table };
}

function gcpCatalog(scope: Construct, site: Site, lake: Bucket, key: EncryptionKey | undefined): LakeCatalog {
  const { table, columns, partitionKey } = lakeSchema();
  // BigQuery encrypts with the key only once its service agent may use it.
  const agent = new gcp.GcpBigqueryDefaultServiceAccount(scope, 'bq-agent', {});
  const grant = key?.allow('bq-agent', `serviceAccount:${agent.attr('email')}`);
  const dataset = new gcp.GcpBigqueryDataset(
    scope,
    'lake-dataset',
    {
      dataset_id: `${site.prefix}_lake`.replace(/-/g, '_'),
      location: site.region,
      description: `Analytics data lake of ${site.platform} (${site.env})`,
      delete_contents_on_destroy: false,
      ...(key ? { default_encryption_configuration: { kms_key_name: key.id } } : {}),
    },
    { dependsOn: grant ? [grant] : [] },
  );
  const prefix = `gs://${lake.name}/${table}`;
  new gcp.GcpBigqueryTable(scope, 'lake-events-table', {
    dataset_id: dataset.attr('dataset_id'),
    table_id: table,
    description: 'One row per analytics event, partitioned by the UTC day it was received',
    deletion_protection: site.isProd,
    // The partition column comes from the path ({dt:DATE}); the schema lists the file's columns.
    schema: JSON.stringify(
      columns.map((c) => ({
        name: c.name,
        type: ENGINE_TYPES.bigquery[c.type],
        mode: c.nullable ? 'NULLABLE' : 'REQUIRED',
        description: c.description,
      })),
    ),
    ...(key ? { encryption_configuration: { kms_key_name: key.id } } : {}),
    external_data_configuration: {
      source_format: 'PARQUET',
      autodetect: false,
      source_uris: [`${prefix}/*`],
      hive_partitioning_options: {
        mode: 'CUSTOM',
        source_uri_prefix: `${prefix}/{${partitionKey.name}:${ENGINE_TYPES.bigquery[partitionKey.type]}}`,
        require_partition_filter: false,
      },
    },
  });
  return { database: dataset.attr('dataset_id'), table };
}

/** Serverless SQL over the parts in place: the DDL a Synapse admin runs once (an output). */
export function synapseExternalTableDdl(lakeAccount: string): string {
  const { table, columns, partitionKey } = lakeSchema();
  const sqlType = { string: 'NVARCHAR(256)', timestamp: 'DATETIME2', date: 'DATE' } as const;
  const cols = columns
    .map((c) => `  ${c.name} ${sqlType[c.type]}${c.nullable ? '' : ' NOT NULL'}`)
    .join(',\n');
  return [
    `CREATE VIEW ${table} AS SELECT *, CAST(r.filepath(1) AS DATE) AS ${partitionKey.name}`,
    `FROM OPENROWSET(BULK 'https://${lakeAccount}.blob.core.windows.net/datalake/${table}/${partitionKey.name}=*/*.parquet', FORMAT = 'PARQUET')`,
    `WITH (\n${cols}\n) AS r;`,
  ].join('\n');
}

function azureCatalog(scope: Construct, site: Site, lake: Bucket, net: Network): LakeCatalog {
  const { table } = lakeSchema();
  // A workspace keeps its own metadata in an ADLS Gen2 filesystem: a small account of its own,
  // so the lake keeps blob versioning (which a hierarchical namespace does not allow).
  const meta = new az.AzStorageAccount(scope, 'synapse-storage', {
    name: compactName([site.platform, site.env, 'syn'], 24),
    location: site.region,
    resource_group_name: net.resourceGroup as string,
    account_kind: 'StorageV2',
    account_tier: 'Standard',
    account_replication_type: 'ZRS',
    min_tls_version: 'TLS1_2',
    https_traffic_only_enabled: true,
    allow_nested_items_to_be_public: false,
    shared_access_key_enabled: false,
    infrastructure_encryption_enabled: true,
    public_network_access_enabled: false,
    is_hns_enabled: true,
    blob_properties: {
      versioning_enabled: false,
      change_feed_enabled: false,
      delete_retention_policy: { days: 7 },
      container_delete_retention_policy: { days: 7 },
    },
  });
  const fs = new az.AzStorageDataLakeGen2Filesystem(scope, 'synapse-filesystem', {
    name: 'synapse',
    storage_account_id: meta.attr('id'),
  });
  const workspace = new az.AzSynapseWorkspace(scope, 'lake-synapse', {
    name: compactName([site.platform, site.env, 'lake'], 45),
    resource_group_name: net.resourceGroup as string,
    location: site.region,
    storage_data_lake_gen2_filesystem_id: fs.attr('id'),
    azuread_authentication_only: true,
    managed_virtual_network_enabled: true,
    data_exfiltration_protection_enabled: true,
    public_network_access_enabled: false,
    identity: { type: 'SystemAssigned' },
  });
  const principal = workspace.attr('identity[0].principal_id');
  for (const [id, account] of [
    ['lake-reader', lake.id],
    ['synapse-storage-owner', meta.attr('id')],
  ] as const)
    new az.AzRoleAssignment(scope, id, {
      scope: account,
      role_definition_name:
        id === 'lake-reader' ? 'Storage Blob Data Reader' : 'Storage Blob Data Contributor',
      principal_id: principal,
    });
  new TerraformOutput(scope, 'lake-synapse-ddl', { value: synapseExternalTableDdl(lake.name) });
  return { database: workspace.attr('name'), table };
}

/** Declares the lake's catalogue next to its bucket, and outputs where BI tools find it. */
export function lakeCatalog(
  scope: Construct,
  site: Site,
  lake: Bucket,
  net: Network,
  key: EncryptionKey | undefined,
): LakeCatalog {
  const catalog =
    site.cloud === 'aws'
      ? awsCatalog(scope, site, lake)
      : site.cloud === 'gcp'
        ? gcpCatalog(scope, site, lake, key)
        : azureCatalog(scope, site, lake, net);
  new TerraformOutput(scope, 'lake-catalog-database', { value: catalog.database });
  new TerraformOutput(scope, 'lake-catalog-table', { value: catalog.table });
  return catalog;
}
