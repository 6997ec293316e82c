/**
 * Master-key rotation for the local store. Every store is decrypted with the current key before
 * anything is written, so a wrong key changes nothing. The new key is staged as
 * `.platform/master.key.next`, stores are rewritten one by one (each atomically), then the staged
 * key replaces the old one. Interrupted half-way, a rerun picks up the staged key and finishes:
 * each store says (by key fingerprint) which key it is sealed with.
 */
import { existsSync, renameSync } from 'node:fs';
import { PlatformError } from '../core/errors.ts';
import { keyId, newKey, parseKey, WrongKeyError } from './crypto.ts';
import { writeFileAtomic } from './fs-safe.ts';
import { openEntry, readStore, sealEntry, storedEnvs, writeStore } from './local-store.ts';
import {
  keyFilePath,
  type MasterKey,
  NEW_MASTER_KEY_ENV,
  readKeyFile,
  resolveMasterKey,
} from './master-key.ts';

export interface RotationResult {
  environments: string[];
  secrets: number;
  keySource: 'env' | 'file';
  /** Key fingerprints (not keys). */
  oldKeyId: string;
  newKeyId: string;
}

export function rotateMasterKey(root: string, processEnv: NodeJS.ProcessEnv): RotationResult {
  const current = resolveMasterKey(root, processEnv, { create: false });
  const next = nextKey(root, processEnv, current);
  if (next.id === current.id)
    throw new PlatformError('SECRETS_SAME_KEY', 'the new master key is the same as the current one', {
      hint: `set ${NEW_MASTER_KEY_ENV} to a different key, e.g. \`openssl rand -base64 32\``,
    });
  const keys = new Map([
    [current.id, current],
    [next.id, next],
  ]);
  const envs = storedEnvs(root);
  const rewritten = envs.map((env) => {
    const store = readStore(root, env);
    if (!store) return undefined;
    const sealedWith = keys.get(store.keyId);
    if (!sealedWith) throw new WrongKeyError(`the ${env} secret store`);
    const secrets = Object.fromEntries(
      Object.entries(store.secrets).map(([name, entry]) => {
        const value = openEntry(sealedWith.key, env, name, entry);
        return [name, { ...entry, ...sealEntry(next.key, env, name, value) }];
      }),
    );
    return { ...store, keyId: next.id, secrets };
  });
  let count = 0;
  for (const store of rewritten) {
    if (!store) continue;
    writeStore(root, store);
    count += Object.keys(store.secrets).length;
  }
  if (next.source === 'file') renameSync(stagedKeyPath(root), keyFilePath(root));
  return {
    environments: envs,
    secrets: count,
    keySource: next.source,
    oldKeyId: current.id,
    newKeyId: next.id,
  };
}

function stagedKeyPath(root: string): string {
  return `${keyFilePath(root)}.next`;
}

function nextKey(root: string, processEnv: NodeJS.ProcessEnv, current: MasterKey): MasterKey {
  if (current.source === 'env') {
    const raw = processEnv[NEW_MASTER_KEY_ENV];
    if (!raw)
      throw new PlatformError(
        'SECRETS_NEW_KEY_MISSING',
        `the master key comes from the environment, so the new one must too`,
        {
          hint: `set ${NEW_MASTER_KEY_ENV} (e.g. \`openssl rand -base64 32\`), rerun, then replace PLATFORMCTL_MASTER_KEY with it`,
        },
      );
    const key = parseKey(raw, NEW_MASTER_KEY_ENV);
    return { key, id: keyId(key), source: 'env' };
  }
  const staged = stagedKeyPath(root);
  if (existsSync(staged)) return readKeyFile(root, staged);
  const key = newKey();
  writeFileAtomic(staged, `${key.toString('base64')}\n`, 0o600);
  return { key, id: keyId(key), source: 'file', file: staged };
}
