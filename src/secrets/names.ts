/** Secret and environment names, and the naming convention that maps secrets to service env vars. */
import { UsageError } from '../core/errors.ts';

/**
 * `<service>.<ENV_VAR>` goes to one service, `*.<ENV_VAR>` to every service; any other name is
 * stored but never injected. Dots and dashes keep names valid Vault paths and AWS secret names.
 */
const SECRET_NAME = /^(\*|[A-Za-z0-9_][A-Za-z0-9_-]*)(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$/;
const ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function assertSecretName(name: string): void {
  if (name.length > 128 || !SECRET_NAME.test(name))
    throw new UsageError(
      `invalid secret name "${name}"`,
      'use <service>.<ENV_VAR> (e.g. auth.JWT_SIGNING_KEY) or *.<ENV_VAR> for every service; letters, digits, _ - and dots',
      'SECRETS_BAD_NAME',
    );
}

/** `auth.DB_PASSWORD` → {scope: 'auth', variable: 'DB_PASSWORD'}; undefined when not injectable. */
export function injectionTarget(name: string): { scope: string; variable: string } | undefined {
  const dot = name.indexOf('.');
  if (dot <= 0 || name.indexOf('.', dot + 1) !== -1) return undefined;
  const scope = name.slice(0, dot);
  const variable = name.slice(dot + 1);
  return ENV_VAR.test(variable) ? { scope, variable } : undefined;
}

/**
 * The env vars one service receives from a set of secret values: shared (`*.X`) first, then the
 * service's own (`svc.X`), which win on conflict.
 */
export function envForService(service: string, values: Map<string, string>): Record<string, string> {
  const shared: Record<string, string> = {};
  const own: Record<string, string> = {};
  for (const [name, value] of values) {
    const t = injectionTarget(name);
    if (!t) continue;
    if (t.scope === '*') shared[t.variable] = value;
    else if (t.scope === service) own[t.variable] = value;
  }
  return { ...shared, ...own };
}

/** Names a service would receive (for listing without decrypting). */
export function namesForService(service: string, names: string[]): string[] {
  return names.filter((n) => {
    const t = injectionTarget(n);
    return t !== undefined && (t.scope === '*' || t.scope === service);
  });
}
