/**
 * What the identity the platform's pods (and the ExternalSecrets' store) assume may do: read and
 * write the content bucket the services' BLOBS_URL names, and read the environment's secrets the
 * ExternalSecrets fetch; nothing else. Without these grants the trust in cluster.ts lets a pod
 * become an identity that can reach none of its backends.
 */
import type { Construct } from '../cdk.ts';
import * as aws from '../resources/aws.ts';
import * as az from '../resources/azure.ts';
import * as gcp from '../resources/gcp.ts';
import type { Site } from '../site.ts';
import type { Cluster } from './cluster.ts';
import type { SecretStore } from './secrets.ts';
import { awsBucketName } from './storage.ts';

export interface WorkloadAccess {
  /** AWS: the Secrets Manager name prefix of the environment's secrets (`<prefix>/<env>/`). */
  secretPrefix: string;
}

function awsAccess(scope: Construct, site: Site, k8s: Cluster, access: WorkloadAccess): void {
  const bucket = `arn:aws:s3:::${awsBucketName(site, 'content')}`;
  const region = site.region;
  new aws.AwsIamRolePolicy(scope, 'workload-access', {
    name: 'backends',
    role: k8s.workloadPrincipal,
    policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'ContentList', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucket },
        {
          Sid: 'ContentObjects',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          Resource: `${bucket}/*`,
        },
        {
          Sid: 'Secrets',
          Effect: 'Allow',
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Resource: `arn:aws:secretsmanager:${region}:*:secret:${access.secretPrefix}*`,
        },
        {
          // The bucket and the secrets are encrypted with customer keys: usable only through them.
          Sid: 'KeysThroughTheirServices',
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: '*',
          Condition: {
            StringEquals: {
              'kms:ViaService': [`s3.${region}.amazonaws.com`, `secretsmanager.${region}.amazonaws.com`],
            },
          },
        },
      ],
    }),
  });
}

/** Grants in the core stack (secrets); the GCS bucket's grant is in the data stack (contentBucketAccess). */
export function workloadAccess(
  scope: Construct,
  site: Site,
  k8s: Cluster,
  store: SecretStore,
  access: WorkloadAccess,
): void {
  if (site.cloud === 'aws') awsAccess(scope, site, k8s, access);
  else if (site.cloud === 'azure' && store.vaultId) {
    new az.AzRoleAssignment(scope, 'workload-secrets', {
      scope: store.vaultId,
      role_definition_name: 'Key Vault Secrets User',
      principal_id: k8s.workloadPrincipal,
    });
  } else if (site.cloud === 'gcp') {
    (store.secretIds ?? []).forEach((id, i) => {
      new gcp.GcpSecretManagerSecretIamMember(scope, `workload-secret-${i}`, {
        secret_id: id,
        role: 'roles/secretmanager.secretAccessor',
        member: k8s.workloadPrincipal,
      });
    });
  }
}

/** GCP: the pods' service account may read and write the content bucket (its S3 API included). */
export function contentBucketAccess(scope: Construct, site: Site, bucket: string, accountId: string): void {
  if (site.cloud !== 'gcp') return;
  new gcp.GcpStorageBucketIamMember(scope, 'content-workload', {
    bucket,
    role: 'roles/storage.objectAdmin',
    member: `serviceAccount:${accountId}@${site.project}.iam.gserviceaccount.com`,
  });
}
