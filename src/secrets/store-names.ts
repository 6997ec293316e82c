/**
 * The one name a platformctl secret (`<service>.<VAR>`, `*.<VAR>`) has in each secret store.
 * Terraform declares the secrets under these names (stacks/constructs/secrets.ts) and the
 * ExternalSecrets read them (external.ts), so the two cannot drift apart.
 */
import type { PlatformConfig } from '../core/config/schema.ts';

export const EXTERNAL_STORES = ['vault', 'aws', 'azure', 'gcp'] as const;
export type ExternalStore = (typeof EXTERNAL_STORES)[number];

/**
 * The name a secret has in the cloud store. Vault and AWS keep the platformctl path layout
 * (`<prefix>/<env>/<name>`, `*` spelled `_shared`); GCP allows only `[A-Za-z0-9_-]` and Azure only
 * `[A-Za-z0-9-]`, so dots become `--` there (and, on Azure, underscores become `-`).
 */
export function remoteKey(store: ExternalStore, prefix: string, env: string, name: string): string {
  const safe = name.replace(/^\*\./, '_shared.');
  switch (store) {
    case 'vault':
    case 'aws':
      return `${prefix}/${env}/${safe}`;
    case 'gcp':
      return `${prefix}-${env}-${safe.replace(/\./g, '--')}`;
    case 'azure':
      return `${prefix}-${env}-${safe.replace(/\./g, '--').replace(/_/g, '-')}`.replace(/^-+/, '');
  }
}

/**
 * The service account the SecretStore authenticates as: `secrets render-external` creates it (with
 * the cloud identity annotation), Terraform trusts it beside the services' own.
 */
export function externalSecretsAccount(config: PlatformConfig): string {
  return `${config.name}-external-secrets`;
}

/** The first part of every secret's store name (`secrets.vault.prefix`, default `platformctl`). */
export function storePrefix(config: PlatformConfig): string {
  return config.secrets?.vault?.prefix ?? 'platformctl';
}

/** What every secret name of an environment starts with in a store (IAM grants match on it). */
export function storeKeyPrefix(config: PlatformConfig, store: ExternalStore, env: string): string {
  return remoteKey(store, storePrefix(config), env, '');
}

/** A secret's name in an environment's store, with the platform's prefix. */
export function storeKey(config: PlatformConfig, store: ExternalStore, env: string, name: string): string {
  return remoteKey(store, storePrefix(config), env, name);
}
