/** Picks the secret backend: `--backend` flag, else platform.yaml `secrets.backend`, else local. */
import type { PlatformConfig } from '../core/config/schema.ts';
import { UsageError } from '../core/errors.ts';
import type { SecretsBackend } from './backend.ts';
import { LocalBackend } from './local-store.ts';
import { VaultBackend, vaultOptionsFromEnv } from './vault.ts';

export const BACKENDS = ['local', 'vault'] as const;
export type BackendName = (typeof BACKENDS)[number];

export function selectBackend(
  root: string,
  config: PlatformConfig,
  processEnv: NodeJS.ProcessEnv,
  flag?: string,
): SecretsBackend {
  const name = flag ?? config.secrets?.backend ?? 'local';
  if (name === 'local') return new LocalBackend(root, processEnv);
  if (name === 'vault') return new VaultBackend(vaultOptionsFromEnv(processEnv, config.secrets?.vault));
  throw new UsageError(`unknown secrets backend "${name}"`, `use one of: ${BACKENDS.join(', ')}`);
}

/** Environments must be declared in platform.yaml, so a typo never creates a stray store. */
export function assertEnv(config: PlatformConfig, env: string): void {
  if (!(env in config.environments))
    throw new UsageError(
      `unknown environment "${env}"`,
      `use one of: ${Object.keys(config.environments).join(', ')}`,
      'SECRETS_UNKNOWN_ENV',
    );
}
