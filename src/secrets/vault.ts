/**
 * HashiCorp Vault KV v2 over its HTTP API (fetch). Layout: one KV entry per secret at
 * `<mount>/data/<prefix>/<env>/<name>` holding `{value}` (plus `generated` for generated values),
 * so Vault's own versioning, policies and audit devices apply per secret.
 * Auth: `VAULT_TOKEN`, else AppRole (`VAULT_ROLE_ID` + `VAULT_SECRET_ID`) login; `VAULT_ADDR`;
 * `VAULT_NAMESPACE` (Enterprise) is forwarded when set.
 */
import { PlatformError } from '../core/errors.ts';
import type { SecretInfo, SecretsBackend, SecretValue } from './backend.ts';

export interface VaultOptions {
  address: string;
  /** KV v2 mount, default `secret`. */
  mount: string;
  /** Path prefix under the mount, default `platformctl`. */
  prefix: string;
  /** AppRole auth mount, default `approle`. */
  approleMount: string;
  token?: string;
  roleId?: string;
  secretId?: string;
  namespace?: string;
  fetch?: typeof fetch;
}

export function vaultOptionsFromEnv(
  env: NodeJS.ProcessEnv,
  cfg: { address?: string; mount?: string; prefix?: string; approleMount?: string } = {},
): VaultOptions {
  const address = env.VAULT_ADDR ?? cfg.address;
  if (!address)
    throw new PlatformError('VAULT_ADDR_MISSING', 'the vault backend needs an address', {
      hint: 'set VAULT_ADDR (e.g. https://vault.example.com:8200) or secrets.vault.address in platform.yaml',
    });
  return {
    address,
    mount: cfg.mount ?? 'secret',
    prefix: cfg.prefix ?? 'platformctl',
    approleMount: cfg.approleMount ?? 'approle',
    token: env.VAULT_TOKEN || undefined,
    roleId: env.VAULT_ROLE_ID || undefined,
    secretId: env.VAULT_SECRET_ID || undefined,
    namespace: env.VAULT_NAMESPACE || undefined,
  };
}

interface KvReadResponse {
  data?: { data?: Record<string, unknown>; metadata?: { version?: number; created_time?: string } };
}

export class VaultBackend implements SecretsBackend {
  readonly kind = 'vault' as const;
  private readonly opts: VaultOptions;
  private readonly base: string;
  private token: string | undefined;

  constructor(opts: VaultOptions) {
    this.opts = opts;
    this.base = opts.address.replace(/\/+$/, '');
    this.token = opts.token;
  }

  describe(env: string): string {
    return `vault ${this.base} ${this.opts.mount}/${this.path(env)}`;
  }

  private path(env: string, name?: string): string {
    const parts = [this.opts.prefix, env, name].filter((p): p is string => Boolean(p));
    return parts.map((p) => p.split('/').map(encodeURIComponent).join('/')).join('/');
  }

  private async login(): Promise<string> {
    if (this.token) return this.token;
    if (!this.opts.roleId || !this.opts.secretId)
      throw new PlatformError('VAULT_AUTH_MISSING', 'no Vault credentials in the environment', {
        hint: 'set VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole login',
      });
    const res = await this.request(
      'POST',
      `/v1/auth/${this.opts.approleMount}/login`,
      {
        role_id: this.opts.roleId,
        secret_id: this.opts.secretId,
      },
      false,
    );
    const body = (await res.json()) as { auth?: { client_token?: string } };
    const token = body.auth?.client_token;
    if (!token)
      throw new PlatformError('VAULT_AUTH_FAILED', 'Vault AppRole login returned no token', {
        hint: 'check the role and its token policies',
      });
    this.token = token;
    return token;
  }

  private async request(method: string, path: string, body?: unknown, auth = true): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (auth) headers['x-vault-token'] = await this.login();
    if (this.opts.namespace) headers['x-vault-namespace'] = this.opts.namespace;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const doFetch = this.opts.fetch ?? fetch;
    let res: Response;
    try {
      res = await doFetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
    } catch (err) {
      throw new PlatformError(
        'VAULT_UNREACHABLE',
        `cannot reach Vault at ${this.base}: ${(err as Error).message}`,
        {
          hint: 'check VAULT_ADDR and that Vault is up and unsealed (`vault status`)',
          cause: err,
        },
      );
    }
    if (res.status === 404) {
      // Callers only look at the status of a 404; release the connection.
      await res.body?.cancel().catch(() => {});
      return res;
    }
    if (res.ok) return res;
    // Vault error bodies are {errors: [...]}; they never echo secret values, so they are safe to show.
    let detail = '';
    try {
      const j = (await res.json()) as { errors?: string[] };
      detail = j.errors?.join('; ') ?? '';
    } catch {
      // non-JSON body: the status says enough
    }
    if (res.status === 403 || res.status === 401)
      throw new PlatformError(
        'VAULT_FORBIDDEN',
        `Vault denied ${method} ${path} (${res.status}${detail ? `: ${detail}` : ''})`,
        {
          hint: 'the token is missing, expired or its policy lacks this path: check `vault token lookup` and the policy',
        },
      );
    throw new PlatformError(
      'VAULT_ERROR',
      `Vault ${method} ${path} failed with ${res.status}${detail ? `: ${detail}` : ''}`,
      {
        hint:
          res.status === 503
            ? 'Vault is sealed or in standby: unseal it or use the active node'
            : "check Vault's server log",
      },
    );
  }

  async set(
    env: string,
    name: string,
    value: string,
    meta: { generated?: { bytes: number } } = {},
  ): Promise<SecretInfo> {
    const data: Record<string, string> = { value };
    if (meta.generated) data.generated = String(meta.generated.bytes);
    const res = await this.request('POST', `/v1/${this.opts.mount}/data/${this.path(env, name)}`, { data });
    if (res.status === 404)
      throw new PlatformError('VAULT_NO_MOUNT', `no KV v2 engine at ${this.opts.mount}/`, {
        hint: `enable it: \`vault secrets enable -path=${this.opts.mount} kv-v2\`, or set secrets.vault.mount`,
      });
    const body = (await res.json()) as { data?: { version?: number; created_time?: string } };
    return {
      name,
      version: body.data?.version ?? 1,
      updatedAt: body.data?.created_time,
      ...(meta.generated ? { generated: meta.generated } : {}),
    };
  }

  async get(env: string, name: string): Promise<SecretValue | undefined> {
    const res = await this.request('GET', `/v1/${this.opts.mount}/data/${this.path(env, name)}`);
    if (res.status === 404) return undefined;
    const body = (await res.json()) as KvReadResponse;
    const value = body.data?.data?.value;
    if (typeof value !== 'string')
      throw new PlatformError(
        'VAULT_BAD_ENTRY',
        `the Vault entry for "${name}" has no string "value" field`,
        {
          hint: `write it with \`platformctl secrets set ${name} --backend vault\``,
        },
      );
    const generated = Number(body.data?.data?.generated);
    return {
      name,
      value,
      version: body.data?.metadata?.version ?? 1,
      updatedAt: body.data?.metadata?.created_time,
      ...(Number.isInteger(generated) && generated > 0 ? { generated: { bytes: generated } } : {}),
    };
  }

  async list(env: string): Promise<SecretInfo[]> {
    // Vault's LIST verb, spelled as `GET ?list=true` (documented as equivalent): many HTTP proxies
    // and servers reject non-standard methods.
    const res = await this.request('GET', `/v1/${this.opts.mount}/metadata/${this.path(env)}/?list=true`);
    if (res.status === 404) return [];
    const body = (await res.json()) as { data?: { keys?: string[] } };
    const keys = (body.data?.keys ?? []).filter((k) => !k.endsWith('/'));
    const infos: SecretInfo[] = [];
    for (const name of keys.sort()) {
      const meta = await this.request('GET', `/v1/${this.opts.mount}/metadata/${this.path(env, name)}`);
      if (meta.status === 404) continue;
      const m = (await meta.json()) as { data?: { current_version?: number; updated_time?: string } };
      infos.push({ name, version: m.data?.current_version ?? 1, updatedAt: m.data?.updated_time });
    }
    return infos;
  }

  async rm(env: string, name: string): Promise<boolean> {
    const exists = await this.request('GET', `/v1/${this.opts.mount}/metadata/${this.path(env, name)}`);
    if (exists.status === 404) return false;
    await this.request('DELETE', `/v1/${this.opts.mount}/metadata/${this.path(env, name)}`);
    return true;
  }
}
