/**
 * The key of the audit log's MACs and anchor, derived (HKDF-SHA256) from the secrets store's
 * master key (`PLATFORMCTL_MASTER_KEY` or `.platform/master.key`), so it lives where the secrets
 * do and never in the log's directory as a file of its own. Whoever can rewrite the log but not
 * read the master key cannot re-hash the log or move its anchor without `audit verify` noticing.
 */
import { hkdfSync } from 'node:crypto';
import { resolveMasterKey } from '../secrets/master-key.ts';

const INFO = 'platformctl audit log anchor v1';

/** The audit key for the project at `root`; `create` makes the master key on first use. */
export function auditKey(root: string, env: NodeJS.ProcessEnv, opts: { create: boolean }): Buffer {
  const master = resolveMasterKey(root, env, opts);
  return Buffer.from(hkdfSync('sha256', master.key, Buffer.alloc(0), INFO, 32));
}
