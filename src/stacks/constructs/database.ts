/**
 * PostgreSQL: RDS / Azure Database for PostgreSQL Flexible Server / Cloud SQL. Private network
 * only, encrypted at rest (customer key on AWS and GCP; platform-managed AES-256 on Azure),
 * automated backups, and in prod a standby in another zone plus longer retention.
 */
import type { Construct } from '../cdk.ts';
import * as aws from '../resources/aws.ts';
import * as az from '../resources/azure.ts';
import * as gcp from '../resources/gcp.ts';
import * as random from '../resources/random.ts';
import type { Site } from '../site.ts';
import { gcpProject } from './gcp-project.ts';
import { encryptionKey } from './keys.ts';
import type { Network } from './network.ts';

export interface Database {
  /** Host name (or instance connection name on GCP) the services connect to. */
  endpoint: string;
}

/** Where the services' database password goes: the secret store name of `*.PGPASSWORD`. */
export interface DatabaseCredential {
  secretName: string;
  /** The role the services sign in as (managed-backends.ts DATABASE_USER). */
  user: string;
  /** GCP's Secret Manager is one per project: only the primary region's stack writes the secret. */
  writeSecret: boolean;
}

const PG_MAJOR = '16';

/** Flexible Server takes only these sizes; the smallest one that holds the wanted gigabytes. */
const FLEXIBLE_SERVER_SIZES_MB = [32768, 65536, 131072, 262144, 524288, 1048576];
export function flexibleServerStorageMb(gb: number): number {
  return (
    FLEXIBLE_SERVER_SIZES_MB.find((mb) => mb >= gb * 1024) ?? (FLEXIBLE_SERVER_SIZES_MB.at(-1) as number)
  );
}

function awsDatabase(scope: Construct, site: Site, net: Network, credential: DatabaseCredential): Database {
  const key = encryptionKey(scope, site, 'rds');
  const subnets = new aws.AwsDbSubnetGroup(scope, 'db-subnets', {
    name: `${site.regional}-db`,
    subnet_ids: net.privateSubnetIds,
  });
  const sg = new aws.AwsSecurityGroup(scope, 'db-sg', {
    name: `${site.regional}-db`,
    description: 'PostgreSQL from inside the VPC only',
    vpc_id: net.id,
    ingress: [
      aws.sgRule({
        description: 'PostgreSQL from the VPC',
        protocol: 'tcp',
        from_port: 5432,
        to_port: 5432,
        cidr_blocks: [site.cidr],
      }),
    ],
    egress: [],
  });
  // Generated here and written to the secret the services' ExternalSecret reads (PGPASSWORD): the
  // runtime signs in with a password, not with RDS IAM tokens.
  const password = new random.RandomPassword(scope, 'pg-password', { length: 32, special: false });
  const db = new aws.AwsDbInstance(scope, 'postgres', {
    identifier: `${site.regional}-pg`,
    engine: 'postgres',
    engine_version: PG_MAJOR,
    instance_class: site.sizing.dbSize.aws,
    allocated_storage: site.sizing.dbStorageGb,
    max_allocated_storage: site.sizing.dbStorageGb * 4,
    storage_type: 'gp3',
    storage_encrypted: true,
    kms_key_id: key?.id ?? '',
    db_name: 'platform',
    username: credential.user,
    password: password.attr('result'),
    multi_az: site.isProd,
    publicly_accessible: false,
    db_subnet_group_name: subnets.attr('name'),
    vpc_security_group_ids: [sg.attr('id')],
    backup_retention_period: site.sizing.backupDays,
    backup_window: '02:00-03:00',
    deletion_protection: site.isProd,
    skip_final_snapshot: !site.isProd,
    ...(site.isProd ? { final_snapshot_identifier: `${site.regional}-pg-final` } : {}),
    copy_tags_to_snapshot: true,
    iam_database_authentication_enabled: true,
    performance_insights_enabled: true,
    performance_insights_kms_key_id: key?.id ?? '',
  });
  new aws.AwsSecretsmanagerSecretVersion(scope, 'pg-password-secret', {
    secret_id: credential.secretName,
    secret_string: password.attr('result'),
  });
  return { endpoint: db.attr('address') };
}

function azureDatabase(scope: Construct, site: Site, net: Network): Database {
  const rg = net.resourceGroup as string;
  const zone = new az.AzPrivateDnsZone(scope, 'pg-dns', {
    name: `${site.regional}.privatelink.postgres.database.azure.com`,
    resource_group_name: rg,
  });
  const link = new az.AzPrivateDnsZoneVnetLink(scope, 'pg-dns-link', {
    name: `${site.regional}-pg`,
    resource_group_name: rg,
    private_dns_zone_name: zone.attr('name'),
    virtual_network_id: net.id,
  });
  const client = new az.AzClientConfig(scope, 'client', {});
  const server = new az.AzPostgresqlFlexibleServer(
    scope,
    'postgres',
    {
      name: `${site.regional}-pg`,
      location: site.region,
      resource_group_name: rg,
      version: PG_MAJOR,
      sku_name: site.sizing.dbSize.azure,
      storage_mb: flexibleServerStorageMb(site.sizing.dbStorageGb),
      auto_grow_enabled: true,
      zone: '1',
      delegated_subnet_id: net.databaseSubnetId as string,
      private_dns_zone_id: zone.attr('id'),
      public_network_access_enabled: false,
      backup_retention_days: Math.max(7, site.sizing.backupDays),
      geo_redundant_backup_enabled: site.isProd,
      ...(site.isProd
        ? { high_availability: { mode: 'ZoneRedundant' as const, standby_availability_zone: '2' } }
        : {}),
      // Entra ID sign-in only: no password to leak.
      authentication: {
        active_directory_auth_enabled: true,
        password_auth_enabled: false,
        tenant_id: client.attr('tenant_id'),
      },
    },
    { dependsOn: [link] },
  );
  return { endpoint: server.attr('fqdn') };
}

function gcpDatabase(scope: Construct, site: Site, net: Network, credential: DatabaseCredential): Database {
  const key = encryptionKey(scope, site, 'sql');
  const project = gcpProject(scope);
  const grant = key?.allow(
    'sql-agent',
    `serviceAccount:service-${project.attr('number')}@gcp-sa-cloud-sql.iam.gserviceaccount.com`,
  );
  const instance = new gcp.GcpSqlDatabaseInstance(
    scope,
    'postgres',
    {
      name: `${site.regional}-pg`,
      region: site.region,
      database_version: `POSTGRES_${PG_MAJOR}`,
      deletion_protection: site.isProd,
      encryption_key_name: key?.id ?? '',
      settings: {
        tier: site.sizing.dbSize.gcp,
        edition: 'ENTERPRISE',
        availability_type: site.isProd ? 'REGIONAL' : 'ZONAL',
        disk_autoresize: true,
        disk_type: 'PD_SSD',
        backup_configuration: {
          enabled: true,
          point_in_time_recovery_enabled: site.tier !== 'dev',
          start_time: '02:00',
          backup_retention_settings: { retained_backups: Math.max(7, site.sizing.backupDays) },
        },
        ip_configuration: { ipv4_enabled: false, private_network: net.id, ssl_mode: 'ENCRYPTED_ONLY' },
        database_flags: [{ name: 'log_min_duration_statement', value: '500' }],
      },
    },
    { dependsOn: grant ? [grant] : [] },
  );
  if (credential.writeSecret) {
    const password = new random.RandomPassword(scope, 'pg-password', { length: 32, special: false });
    new gcp.GcpSqlUser(scope, 'pg-user', {
      name: credential.user,
      instance: instance.attr('name'),
      password: password.attr('result'),
    });
    new gcp.GcpSecretManagerSecretVersion(scope, 'pg-password-secret', {
      secret: `projects/${site.project}/secrets/${credential.secretName}`,
      secret_data: password.attr('result'),
    });
  }
  return { endpoint: instance.attr('private_ip_address') };
}

export function database(
  scope: Construct,
  site: Site,
  net: Network,
  credential: DatabaseCredential,
): Database {
  if (site.cloud === 'aws') return awsDatabase(scope, site, net, credential);
  if (site.cloud === 'azure') return azureDatabase(scope, site, net);
  return gcpDatabase(scope, site, net, credential);
}
