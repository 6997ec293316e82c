/**
 * Secrets: a store per environment and region (Secrets Manager / Key Vault / Secret Manager) with
 * the secrets the runtime services need declared but not valued: values are set out of band
 * (`platformctl secrets`), so they never enter platform.yaml, flags or Terraform state.
 */
import type { Construct } from '../cdk.ts';
import * as aws from '../resources/aws.ts';
import * as az from '../resources/azure.ts';
import * as gcp from '../resources/gcp.ts';
import { keyVaultName, type Site } from '../site.ts';
import { gcpProject } from './gcp-project.ts';
import type { EncryptionKey } from './keys.ts';
import type { Network } from './network.ts';

/** The secrets the runtime services read (gateway admin token, auth signing key). */
export const PLATFORM_SECRETS = ['admin-token', 'auth-signing-key', 'database-url'] as const;

export interface SecretStore {
  /** Secrets Manager prefix / Key Vault URI / Secret Manager project. */
  location: string;
}

export function secrets(
  scope: Construct,
  site: Site,
  net: Network,
  key: EncryptionKey | undefined,
): SecretStore {
  if (site.cloud === 'aws') {
    for (const name of PLATFORM_SECRETS) {
      new aws.AwsSecretsmanagerSecret(scope, `secret-${name}`, {
        name: `${site.regional}/${name}`,
        description: `${name} for ${site.prefix}`,
        kms_key_id: key?.id ?? '',
        recovery_window_in_days: site.isProd ? 30 : 7,
      });
    }
    return { location: `${site.regional}/` };
  }
  if (site.cloud === 'azure') {
    const client = new az.AzClientConfig(scope, 'client', {});
    const vault = new az.AzKeyVault(scope, 'vault', {
      name: keyVaultName(site),
      location: site.region,
      resource_group_name: net.resourceGroup as string,
      tenant_id: client.attr('tenant_id'),
      sku_name: site.isProd ? 'premium' : 'standard',
      enable_rbac_authorization: true,
      purge_protection_enabled: site.isProd,
      soft_delete_retention_days: site.isProd ? 90 : 7,
      // Reachable only from the private subnet (service endpoint) and trusted Azure services.
      public_network_access_enabled: true,
      network_acls: {
        default_action: 'Deny',
        bypass: 'AzureServices',
        virtual_network_subnet_ids: net.privateSubnetIds,
      },
    });
    return { location: vault.attr('vault_uri') };
  }
  const project = gcpProject(scope);
  const grant = key?.allow(
    'secretmanager-agent',
    `serviceAccount:service-${project.attr('number')}@gcp-sa-secretmanager.iam.gserviceaccount.com`,
  );
  for (const name of PLATFORM_SECRETS) {
    new gcp.GcpSecretManagerSecret(
      scope,
      `secret-${name}`,
      {
        secret_id: `${site.regional}-${name}`,
        replication: {
          user_managed: {
            replicas: [
              { location: site.region, customer_managed_encryption: { kms_key_name: key?.id ?? '' } },
            ],
          },
        },
      },
      { dependsOn: grant ? [grant] : [] },
    );
  }
  return { location: `projects/${site.project}/secrets/${site.regional}-` };
}
