/**
 * Secrets: a store per environment and region (Secrets Manager / Key Vault / Secret Manager) with
 * the secrets the runtime services need declared under the names their ExternalSecrets read
 * (secrets/store-names.ts). Values are set out of band (`platformctl secrets`), so they never enter
 * platform.yaml, flags or Terraform state, except the backend passwords the data stack generates.
 */
import type { Construct } from '../cdk.ts';
import * as aws from '../resources/aws.ts';
import * as az from '../resources/azure.ts';
import * as gcp from '../resources/gcp.ts';
import { keyVaultName, type Site } from '../site.ts';
import { gcpProject } from './gcp-project.ts';
import type { EncryptionKey } from './keys.ts';
import type { Network } from './network.ts';

/**
 * The secrets every platform declares, as platformctl names: the admin API token every service
 * checks and the key auth encrypts its signing keys with. Backend credentials come on top
 * (data/managed-backends.ts managedSecretNames).
 */
export const PLATFORM_SECRETS = ['*.ADMIN_TOKEN', 'auth.AUTH_KEY_ENCRYPTION_KEY'] as const;

/** A secret to declare: its platformctl name and its name in this cloud's store. */
export interface DeclaredSecret {
  name: string;
  storeName: string;
}

export interface SecretStore {
  /** Secrets Manager prefix / Key Vault URI / Secret Manager project. */
  location: string;
  /** Azure: the Key Vault's id (role assignments are scoped to it). */
  vaultId?: string;
  /** Azure: the tenant the vault and the workload identity are in. */
  tenantId?: string;
  /** GCP: the ids of the secrets declared (access is granted per secret). */
  secretIds?: string[];
}

export function secrets(
  scope: Construct,
  site: Site,
  net: Network,
  key: EncryptionKey | undefined,
  declared: DeclaredSecret[],
): SecretStore {
  if (site.cloud === 'aws') {
    for (const { name, storeName } of declared) {
      new aws.AwsSecretsmanagerSecret(scope, `secret-${idOf(name)}`, {
        name: storeName,
        description: `${name} for ${site.prefix}`,
        kms_key_id: key?.id ?? '',
        recovery_window_in_days: site.isProd ? 30 : 7,
      });
    }
    return { location: 'Secrets Manager' };
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
    return {
      location: vault.attr('vault_uri'),
      vaultId: vault.attr('id'),
      tenantId: client.attr('tenant_id'),
    };
  }
  const project = gcpProject(scope);
  const grant = key?.allow(
    'secretmanager-agent',
    `serviceAccount:service-${project.attr('number')}@gcp-sa-secretmanager.iam.gserviceaccount.com`,
  );
  const secretIds: string[] = [];
  for (const { name, storeName } of declared) {
    const secret = new gcp.GcpSecretManagerSecret(
      scope,
      `secret-${idOf(name)}`,
      {
        secret_id: storeName,
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
    secretIds.push(secret.attr('id'));
  }
  return { location: `projects/${site.project}/secrets/`, secretIds };
}

/** A construct id for a secret name (`*.ADMIN_TOKEN` -> `shared-ADMIN_TOKEN`). */
function idOf(name: string): string {
  return name.replace(/^\*\./, 'shared-').replace(/\./g, '-');
}
