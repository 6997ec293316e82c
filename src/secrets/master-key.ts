/**
 * Where the local store's master key comes from: `PLATFORMCTL_MASTER_KEY` (base64 or hex, 32 bytes)
 * or `.platform/master.key`, created with mode 0600 on first use. A key file others can read is
 * refused: a secret store is only as private as its key.
 */
import { existsSync, linkSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { PlatformError } from '../core/errors.ts';
import { STATE_DIR } from '../core/state-dir.ts';
import { keyId, newKey, parseKey } from './crypto.ts';
import { isLooserThanOwnerOnly, modeOf, writeFileAtomic } from './fs-safe.ts';

export const MASTER_KEY_ENV = 'PLATFORMCTL_MASTER_KEY';
/** Used only by `secrets rotate` when the current key comes from the environment. */
export const NEW_MASTER_KEY_ENV = 'PLATFORMCTL_NEW_MASTER_KEY';

export interface MasterKey {
  key: Buffer;
  id: string;
  source: 'env' | 'file';
  /** The key file, when source is 'file'. */
  file?: string;
}

export function keyFilePath(root: string): string {
  return join(root, STATE_DIR, 'master.key');
}

/** Reads the key file, refusing one with group/other permissions. */
export function readKeyFile(root: string, file = keyFilePath(root)): MasterKey {
  if (isLooserThanOwnerOnly(file)) {
    const shown = relative(root, file) || file;
    throw new PlatformError(
      'SECRETS_KEY_PERMISSIONS',
      `refusing to use ${shown}: its permissions are ${modeOf(file).toString(8).padStart(4, '0')}, others may read it`,
      { hint: `run \`chmod 600 ${shown}\` (and check who may have copied it)` },
    );
  }
  const key = parseKey(readFileSync(file, 'utf8'), relative(root, file) || file);
  return { key, id: keyId(key), source: 'file', file };
}

/**
 * Resolves the master key. With `create`, a missing key file is generated (32 random bytes, 0600);
 * without it, a missing key is an error (reading needs the key that wrote the store).
 */
export function resolveMasterKey(root: string, env: NodeJS.ProcessEnv, opts: { create: boolean }): MasterKey {
  const fromEnv = env[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const key = parseKey(fromEnv, MASTER_KEY_ENV);
    return { key, id: keyId(key), source: 'env' };
  }
  const file = keyFilePath(root);
  if (existsSync(file)) return readKeyFile(root, file);
  if (!opts.create)
    throw new PlatformError(
      'SECRETS_NO_KEY',
      `no master key: ${MASTER_KEY_ENV} is unset and ${STATE_DIR}/master.key does not exist`,
      {
        hint: `set ${MASTER_KEY_ENV} to the key this store was written with, or restore ${STATE_DIR}/master.key`,
      },
    );
  const key = newKey();
  // Write a complete temp file, then hard-link it into place: link fails if another process created
  // the key first, in which case we use theirs (two keys would orphan one process's secrets).
  const tmp = `${file}.${process.pid}.new`;
  writeFileAtomic(tmp, `${key.toString('base64')}\n`, 0o600);
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readKeyFile(root, file);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { key, id: keyId(key), source: 'file', file };
}
