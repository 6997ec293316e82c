/**
 * Object storage for uploaded content and for the analytics data lake: private (no public
 * access, no anonymous reads), encrypted, versioned, with lifecycle rules that age data into
 * cheaper tiers and expire old versions.
 */
import type { Construct, TerraformResource } from '../cdk.ts';
import { regionCode } from '../regions.ts';
import * as aws from '../resources/aws.ts';
import * as az from '../resources/azure.ts';
import * as gcp from '../resources/gcp.ts';
import { compactName, type Site } from '../site.ts';
import type { EncryptionKey } from './keys.ts';
import type { Network } from './network.ts';

export type BucketPurpose = 'content' | 'datalake';

export interface Bucket {
  purpose: BucketPurpose;
  /** Bucket / storage account name. */
  name: string;
  /** The host a CDN fetches from. */
  originHost: string;
  /** AWS bucket ARN / Azure storage account id / GCS bucket name. */
  id: string;
}

/** Content stays hot; the data lake cools down quickly and keeps a year. */
const LIFECYCLE: Record<BucketPurpose, { coolDays: number; archiveDays: number; noncurrentDays: number }> = {
  content: { coolDays: 90, archiveDays: 365, noncurrentDays: 30 },
  datalake: { coolDays: 30, archiveDays: 90, noncurrentDays: 7 },
};

/** The S3 bucket name of a purpose (known before the data stack exists: the core stack grants on it). */
export function awsBucketName(site: Site, purpose: BucketPurpose): string {
  return `${site.regional}-${purpose}`;
}

function awsBucket(
  scope: Construct,
  site: Site,
  purpose: BucketPurpose,
  key: EncryptionKey | undefined,
): Bucket {
  const life = LIFECYCLE[purpose];
  const bucket = new aws.AwsS3Bucket(scope, `${purpose}-bucket`, {
    bucket: awsBucketName(site, purpose),
    force_destroy: false,
  });
  const id = bucket.attr('id');
  new aws.AwsS3BucketPublicAccessBlock(scope, `${purpose}-public-access`, {
    bucket: id,
    block_public_acls: true,
    block_public_policy: true,
    ignore_public_acls: true,
    restrict_public_buckets: true,
  });
  new aws.AwsS3BucketOwnershipControls(scope, `${purpose}-ownership`, {
    bucket: id,
    rule: { object_ownership: 'BucketOwnerEnforced' },
  });
  new aws.AwsS3BucketServerSideEncryptionConfiguration(scope, `${purpose}-encryption`, {
    bucket: id,
    rule: [
      {
        apply_server_side_encryption_by_default: {
          sse_algorithm: 'aws:kms',
          kms_master_key_id: key?.id ?? '',
        },
        bucket_key_enabled: true,
      },
    ],
  });
  new aws.AwsS3BucketVersioning(scope, `${purpose}-versioning`, {
    bucket: id,
    versioning_configuration: { status: 'Enabled' },
  });
  new aws.AwsS3BucketLifecycleConfiguration(scope, `${purpose}-lifecycle`, {
    bucket: id,
    rule: [
      {
        id: 'tiering',
        status: 'Enabled',
        filter: { prefix: '' },
        transition: [
          { days: life.coolDays, storage_class: 'STANDARD_IA' },
          { days: life.archiveDays, storage_class: 'GLACIER_IR' },
        ],
        noncurrent_version_expiration: { noncurrent_days: life.noncurrentDays },
        abort_incomplete_multipart_upload: { days_after_initiation: 7 },
      },
    ],
  });
  return {
    purpose,
    name: id,
    originHost: bucket.attr('bucket_regional_domain_name'),
    id: bucket.attr('arn'),
  };
}

function azureBucket(scope: Construct, site: Site, purpose: BucketPurpose, net: Network): Bucket {
  const life = LIFECYCLE[purpose];
  const account = new az.AzStorageAccount(scope, `${purpose}-account`, {
    name: compactName(
      [site.platform, site.env, regionCode(site.region), purpose === 'content' ? 'cnt' : 'lake'],
      24,
    ),
    location: site.region,
    resource_group_name: net.resourceGroup as string,
    account_kind: 'StorageV2',
    account_tier: 'Standard',
    account_replication_type: site.isProd ? 'GZRS' : 'ZRS',
    min_tls_version: 'TLS1_2',
    https_traffic_only_enabled: true,
    allow_nested_items_to_be_public: false,
    shared_access_key_enabled: false,
    infrastructure_encryption_enabled: true,
    // Reads are always authorised (anonymous access and shared keys are off). The content account
    // stays reachable for the CDN; the data lake admits only the private subnet (service endpoint).
    public_network_access_enabled: true,
    ...(purpose === 'datalake'
      ? {
          network_rules: {
            default_action: 'Deny' as const,
            bypass: ['AzureServices'],
            virtual_network_subnet_ids: net.privateSubnetIds,
          },
        }
      : {}),
    blob_properties: {
      versioning_enabled: true,
      change_feed_enabled: true,
      delete_retention_policy: { days: life.noncurrentDays },
      container_delete_retention_policy: { days: life.noncurrentDays },
    },
  });
  new az.AzStorageContainer(scope, `${purpose}-container`, {
    name: purpose,
    storage_account_id: account.attr('id'),
    container_access_type: 'private',
  });
  new az.AzStorageManagementPolicy(scope, `${purpose}-lifecycle`, {
    storage_account_id: account.attr('id'),
    rule: [
      {
        name: 'tiering',
        enabled: true,
        filters: { blob_types: ['blockBlob'] },
        actions: {
          base_blob: {
            tier_to_cool_after_days_since_modification_greater_than: life.coolDays,
            tier_to_archive_after_days_since_modification_greater_than: life.archiveDays,
          },
          version: { delete_after_days_since_creation: life.noncurrentDays },
        },
      },
    ],
  });
  return {
    purpose,
    name: account.attr('name'),
    originHost: account.attr('primary_blob_host'),
    id: account.attr('id'),
  };
}

function gcpBucket(
  scope: Construct,
  site: Site,
  purpose: BucketPurpose,
  key: EncryptionKey | undefined,
  grant: TerraformResource | undefined,
): Bucket {
  const life = LIFECYCLE[purpose];
  const bucket = new gcp.GcpStorageBucket(
    scope,
    `${purpose}-bucket`,
    {
      name: `${site.regional}-${purpose}`,
      location: site.region.toUpperCase(),
      storage_class: 'STANDARD',
      force_destroy: false,
      uniform_bucket_level_access: true,
      public_access_prevention: 'enforced',
      versioning: { enabled: true },
      encryption: { default_kms_key_name: key?.id ?? '' },
      lifecycle_rule: [
        { action: { type: 'SetStorageClass', storage_class: 'NEARLINE' }, condition: { age: life.coolDays } },
        {
          action: { type: 'SetStorageClass', storage_class: 'ARCHIVE' },
          condition: { age: life.archiveDays },
        },
        {
          action: { type: 'Delete' },
          condition: { days_since_noncurrent_time: life.noncurrentDays, with_state: 'ARCHIVED' },
        },
      ],
    },
    { dependsOn: grant ? [grant] : [] },
  );
  return { purpose, name: bucket.attr('name'), originHost: bucket.attr('name'), id: bucket.attr('name') };
}

export function buckets(
  scope: Construct,
  site: Site,
  net: Network,
  key: EncryptionKey | undefined,
): Bucket[] {
  let grant: TerraformResource | undefined;
  if (site.cloud === 'gcp') {
    // Cloud Storage encrypts with the key only once its service agent may use it.
    const agent = new gcp.GcpStorageProjectServiceAccount(scope, 'gcs-agent', {});
    grant = key?.allow('gcs-agent', `serviceAccount:${agent.attr('email_address')}`);
  }
  return (['content', 'datalake'] as const).map((purpose) => {
    if (site.cloud === 'aws') return awsBucket(scope, site, purpose, key);
    if (site.cloud === 'azure') return azureBucket(scope, site, purpose, net);
    return gcpBucket(scope, site, purpose, key, grant);
  });
}
