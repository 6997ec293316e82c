/**
 * The outputs the platform's stacks publish for what runs on them: the cluster and the identity
 * the services assume (core stack), the database, broker and bucket they use (data stack).
 * Constructs declare them under these names and `gitops render --terraform-outputs` reads them
 * back from `terraform output -json`, so a rename on one side fails the coherence test.
 */
import { readFileSync } from 'node:fs';
import { PlatformError } from '../core/errors.ts';

export const STACK_OUTPUTS = {
  /** EKS / AKS / GKE cluster name. */
  clusterName: 'cluster_name',
  /** IAM role ARN (IRSA) / managed identity client id / Google service account email. */
  workloadIdentity: 'workload_identity',
  /** Azure: the Entra ID tenant the managed identity belongs to (the SecretStore needs it). */
  tenantId: 'tenant_id',
  /** PostgreSQL host (RDS address, Flexible Server FQDN, Cloud SQL private IP). */
  databaseHost: 'database_host',
  /** Amazon MQ `amqps://…:5671` / Service Bus endpoint / Pub/Sub topic. */
  brokerEndpoint: 'broker_endpoint',
  /** The content bucket (S3 / GCS bucket, Azure storage account). */
  contentBucket: 'content_bucket',
} as const;

/** Output name -> value (strings only: every output above is one). */
export type StackOutputs = Record<string, string>;

/**
 * Reads `terraform output -json` documents (one per stack) into one map. Later files win on a
 * name both have. Throws TERRAFORM_OUTPUTS_INVALID for a file of another shape.
 */
export function readStackOutputs(files: string[]): StackOutputs {
  const out: StackOutputs = {};
  for (const file of files) {
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new PlatformError('TERRAFORM_OUTPUTS_INVALID', `cannot read ${file}: ${(err as Error).message}`, {
        hint: 'write it with: terraform -chdir=cdktf.out/stacks/<stack> output -json > <file>',
      });
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
      throw new PlatformError(
        'TERRAFORM_OUTPUTS_INVALID',
        `${file} is not a \`terraform output -json\` document`,
        {
          hint: 'write it with: terraform -chdir=cdktf.out/stacks/<stack> output -json > <file>',
        },
      );
    for (const [name, entry] of Object.entries(doc as Record<string, { value?: unknown }>)) {
      if (typeof entry?.value === 'string') out[name] = entry.value;
    }
  }
  return out;
}
