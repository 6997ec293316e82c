/**
 * Secrets as environment variables for local services at `up`. Convention: a secret named
 * `<service>.<ENV_VAR>` goes to that service only; `*.<ENV_VAR>` goes to every service; the
 * service's own value wins over a shared one. Names that fit neither are stored but never injected.
 */
import type { SecretsBackend } from './backend.ts';
import { openAll, readStore } from './local-store.ts';
import { resolveMasterKey } from './master-key.ts';
import { envForService, namesForService } from './names.ts';

/**
 * Env vars from the local encrypted store for `service` in `env`. Returns `{}` without touching
 * the master key when the environment has no store, so `up` works before any secret exists. A
 * wrong key or a loose key file throws a PlatformError (the caller should fail the `up`).
 */
export function secretsEnvFor(
  root: string,
  env: string,
  service: string,
  processEnv: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const store = readStore(root, env);
  if (!store) return {};
  const wanted = namesForService(service, Object.keys(store.secrets));
  if (wanted.length === 0) return {};
  const key = resolveMasterKey(root, processEnv, { create: false });
  return envForService(service, openAll(root, env, key));
}

/** The same for any backend (e.g. Vault), fetching only the names the service receives. */
export async function secretsEnvFromBackend(
  backend: SecretsBackend,
  env: string,
  service: string,
): Promise<Record<string, string>> {
  const names = namesForService(
    service,
    (await backend.list(env)).map((s) => s.name),
  );
  const values = new Map<string, string>();
  for (const name of names) {
    const v = await backend.get(env, name);
    if (v) values.set(name, v.value);
  }
  return envForService(service, values);
}
