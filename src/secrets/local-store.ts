/**
 * The local secret store: `.platform/secrets/<env>.json`, one file per environment, mode 0600,
 * replaced atomically on every write. Names and metadata are plain; each value is sealed with
 * AES-256-GCM under the master key with its own nonce and (env, name) as AAD.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PlatformError } from '../core/errors.ts';
import { STATE_DIR } from '../core/state-dir.ts';
import type { SecretInfo, SecretsBackend, SecretValue } from './backend.ts';
import { aadFor, open, type Sealed, seal, WrongKeyError } from './crypto.ts';
import { writeFileAtomic } from './fs-safe.ts';
import { type MasterKey, resolveMasterKey } from './master-key.ts';

const entrySchema = z.object({
  nonce: z.string(),
  ciphertext: z.string(),
  tag: z.string(),
  version: z.number().int().min(1),
  createdAt: z.string(),
  updatedAt: z.string(),
  generated: z.object({ bytes: z.number().int().min(16).max(256) }).optional(),
});
type Entry = z.output<typeof entrySchema>;

const storeSchema = z.object({
  format: z.literal('platformctl-secrets/v1'),
  env: z.string(),
  /** Fingerprint of the master key every entry is sealed with. */
  keyId: z.string(),
  secrets: z.record(z.string(), entrySchema),
});
export type StoreFile = z.output<typeof storeSchema>;

export function secretsDir(root: string): string {
  return join(root, STATE_DIR, 'secrets');
}

export function storePath(root: string, env: string): string {
  return join(secretsDir(root), `${env}.json`);
}

/** Environments that have a store file. */
export function storedEnvs(root: string): string[] {
  const dir = secretsDir(root);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

export function readStore(root: string, env: string): StoreFile | undefined {
  const file = storePath(root, env);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw corrupt(file);
  }
  const parsed = storeSchema.safeParse(raw);
  if (!parsed.success || parsed.data.env !== env) throw corrupt(file);
  return parsed.data;
}

function corrupt(file: string): PlatformError {
  return new PlatformError(
    'SECRETS_STORE_CORRUPT',
    `the secret store ${file} is not a valid platformctl store`,
    {
      hint: 'restore it from a backup; platformctl never writes a partial store',
    },
  );
}

export function writeStore(root: string, store: StoreFile): void {
  // Owner-only directory too: file names reveal which environments have secrets.
  mkdirSync(secretsDir(root), { recursive: true, mode: 0o700 });
  writeFileAtomic(storePath(root, store.env), `${JSON.stringify(store, null, 2)}\n`, 0o600);
}

function checkKey(store: StoreFile, key: MasterKey, env: string): void {
  if (store.keyId !== key.id) throw new WrongKeyError(`the ${env} secret store`);
}

export function sealEntry(key: Buffer, env: string, name: string, value: string): Sealed {
  return seal(key, value, aadFor(env, name));
}

export function openEntry(key: Buffer, env: string, name: string, entry: Sealed): string {
  return open(key, entry, aadFor(env, name), `secret "${name}" (${env})`);
}

function info(name: string, e: Entry): SecretInfo {
  return {
    name,
    version: e.version,
    updatedAt: e.updatedAt,
    ...(e.generated ? { generated: e.generated } : {}),
  };
}

/** Decrypts every value of one environment (used by injection and rotation). */
export function openAll(root: string, env: string, key: MasterKey): Map<string, string> {
  const store = readStore(root, env);
  const values = new Map<string, string>();
  if (!store) return values;
  checkKey(store, key, env);
  for (const [name, entry] of Object.entries(store.secrets))
    values.set(name, openEntry(key.key, env, name, entry));
  return values;
}

export class LocalBackend implements SecretsBackend {
  readonly kind = 'local' as const;
  private readonly root: string;
  private readonly processEnv: NodeJS.ProcessEnv;
  private readonly now: () => Date;

  constructor(root: string, processEnv: NodeJS.ProcessEnv = process.env, now: () => Date = () => new Date()) {
    this.root = root;
    this.processEnv = processEnv;
    this.now = now;
  }

  describe(env: string): string {
    return `${STATE_DIR}/secrets/${env}.json`;
  }

  masterKey(create: boolean): MasterKey {
    return resolveMasterKey(this.root, this.processEnv, { create });
  }

  async set(
    env: string,
    name: string,
    value: string,
    meta: { generated?: { bytes: number } } = {},
  ): Promise<SecretInfo> {
    const existing = readStore(this.root, env);
    const key = this.masterKey(existing === undefined);
    const store: StoreFile = existing ?? {
      format: 'platformctl-secrets/v1',
      env,
      keyId: key.id,
      secrets: {},
    };
    checkKey(store, key, env);
    const prev = store.secrets[name];
    const ts = this.now().toISOString();
    const entry: Entry = {
      ...sealEntry(key.key, env, name, value),
      version: (prev?.version ?? 0) + 1,
      createdAt: prev?.createdAt ?? ts,
      updatedAt: ts,
      ...(meta.generated ? { generated: meta.generated } : {}),
    };
    store.secrets[name] = entry;
    writeStore(this.root, store);
    return info(name, entry);
  }

  async get(env: string, name: string): Promise<SecretValue | undefined> {
    const store = readStore(this.root, env);
    const entry = store?.secrets[name];
    if (!store || !entry) return undefined;
    const key = this.masterKey(false);
    checkKey(store, key, env);
    return { ...info(name, entry), value: openEntry(key.key, env, name, entry) };
  }

  /** Names and metadata only: listing never needs (or touches) the master key. */
  async list(env: string): Promise<SecretInfo[]> {
    const store = readStore(this.root, env);
    if (!store) return [];
    return Object.entries(store.secrets)
      .map(([name, e]) => info(name, e))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async rm(env: string, name: string): Promise<boolean> {
    const store = readStore(this.root, env);
    if (!store?.secrets[name]) return false;
    delete store.secrets[name];
    writeStore(this.root, store);
    return true;
  }
}
