/** The admin token shared by the gateway admin API and the supervisor's control API. */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir } from '../../core/state-dir.ts';

/** Reads `.platform/admin-token`, creating it (mode 0600) on first use. */
export function adminToken(stateDir: string): string {
  const file = join(ensureDir(stateDir), 'admin-token');
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim();
    if (token) return token;
  }
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return token;
}
