/**
 * The audit log: one JSON line per mutating command in `.platform/audit.log`, each carrying the
 * SHA-256 of the previous line so that editing, deleting or reordering any line breaks the chain.
 *
 * A plain hash chain cannot tell that its tail was cut off, or edited and re-hashed: anyone can
 * recompute SHA-256. So the chain is also keyed and anchored, with a key derived from the secrets
 * store's master key (see audit-anchor.ts): every record carries `mac` = HMAC(key, seq:hash), and
 * `audit.log.anchor`, outside the log, holds the MAC'd seq and hash of the last record. Without
 * the key a re-hashed line has a wrong `mac`, and a truncated log falls short of its anchor.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname } from 'node:path';
import { writeJsonAtomic } from './json-file.ts';
import { ensureDir } from './state-dir.ts';

export interface AuditInput {
  command: string;
  args: string[];
  result: 'ok' | 'error';
  exitCode: number;
  errorCode?: string;
  /** Extra structured facts (e.g. the release deployed). Never secrets. */
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditInput {
  seq: number;
  ts: string;
  actor: string;
  prev: string;
  hash: string;
  /** HMAC of `seq:hash` with the audit key (records written before anchoring have none). */
  mac?: string;
}

/** The MAC'd position of the last record, kept beside the log in `<log>.anchor`. */
export interface AuditAnchor {
  seq: number;
  hash: string;
  mac: string;
}

const GENESIS = '0'.repeat(64);
/** Flags whose values are never written to the log, whatever the command. */
const SECRET_FLAG = /token|secret|password|passwd|key|credential|value/i;

/** Replaces values of secret-looking flags (`--token x`, `--password=x`, `KEY=x`) with `***`. */
export function redactArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0 && SECRET_FLAG.test(arg.slice(0, eq)))
      out.push(`${arg.slice(0, eq)}=***`);
    else if (
      arg.startsWith('--') &&
      SECRET_FLAG.test(arg) &&
      i + 1 < args.length &&
      !args[i + 1]?.startsWith('-')
    ) {
      out.push(arg, '***');
      i++;
    } else if (!arg.startsWith('-') && eq > 0 && SECRET_FLAG.test(arg.slice(0, eq)))
      out.push(`${arg.slice(0, eq)}=***`);
    else out.push(arg);
  }
  return out;
}

function hashOf(record: Omit<AuditRecord, 'hash' | 'mac'>): string {
  return createHash('sha256').update(JSON.stringify(record)).digest('hex');
}

function macOf(key: Buffer, seq: number, hash: string, what: 'record' | 'anchor'): string {
  return createHmac('sha256', key).update(`${what}:${seq}:${hash}`).digest('hex');
}

function macMatches(
  key: Buffer,
  seq: number,
  hash: string,
  what: 'record' | 'anchor',
  mac: unknown,
): boolean {
  if (typeof mac !== 'string' || !/^[0-9a-f]{64}$/.test(mac)) return false;
  return timingSafeEqual(Buffer.from(macOf(key, seq, hash, what), 'hex'), Buffer.from(mac, 'hex'));
}

/** Where the anchor of `file` lives. */
export function anchorFile(file: string): string {
  return `${file}.anchor`;
}

function actor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `uid:${process.getuid?.() ?? '?'}@${hostname()}`;
  }
}

/**
 * Appends one record to the chain in `file`, creating it if needed. With `key` the record is
 * MAC'd and the anchor moved to it (a log written before anchoring is anchored from here on).
 */
export function appendAudit(file: string, input: AuditInput, now = new Date(), key?: Buffer): AuditRecord {
  ensureDir(dirname(file));
  const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const last = lines.length > 0 ? (JSON.parse(lines[lines.length - 1] as string) as AuditRecord) : undefined;
  const body: Omit<AuditRecord, 'hash'> = {
    seq: (last?.seq ?? 0) + 1,
    ts: now.toISOString(),
    actor: actor(),
    ...input,
    args: redactArgs(input.args),
    prev: last?.hash ?? GENESIS,
  };
  const hash = hashOf(body);
  const record: AuditRecord = {
    ...body,
    hash,
    ...(key ? { mac: macOf(key, body.seq, hash, 'record') } : {}),
  };
  appendFileSync(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  if (key) {
    const anchor: AuditAnchor = { seq: record.seq, hash, mac: macOf(key, record.seq, hash, 'anchor') };
    writeJsonAtomic(anchorFile(file), anchor);
  }
  return record;
}

export interface AuditVerification {
  ok: boolean;
  records: number;
  /** Whether the keyed MACs and the anchor were checked (a key was given and an anchor exists). */
  anchored?: boolean;
  /** 1-based line number of the first line that breaks the chain. */
  badLine?: number;
  reason?: string;
}

/**
 * Walks the chain; reports the first line whose content, hash, link or MAC is wrong. With `key`
 * the anchor is checked too: a missing or forged anchor, a log shorter than its anchor (lines
 * cut off the end) or a last record other than the anchored one (re-hashed) break it.
 */
export function verifyAudit(file: string, key?: Buffer): AuditVerification {
  const anchorPath = anchorFile(file);
  if (!existsSync(file)) {
    if (key && existsSync(anchorPath))
      return {
        ok: false,
        records: 0,
        badLine: 1,
        reason: 'the log is gone but its anchor remains (deleted)',
      };
    return { ok: true, records: 0 };
  }
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const fail = (line: number, reason: string): AuditVerification => ({
    ok: false,
    records: lines.length,
    badLine: line,
    reason,
  });
  let prev = GENESIS;
  let macsStarted = false;
  const hashes: string[] = [];
  for (const [i, line] of lines.entries()) {
    let record: AuditRecord;
    try {
      record = JSON.parse(line) as AuditRecord;
    } catch {
      return fail(i + 1, 'not valid JSON');
    }
    const { hash, mac, ...body } = record;
    if (record.prev !== prev) return fail(i + 1, 'chain broken: prev does not match the line before');
    if (hashOf(body) !== hash) return fail(i + 1, 'content does not match its hash (edited)');
    if (record.seq !== i + 1) return fail(i + 1, 'sequence number out of order');
    if (key) {
      // Records from before anchoring have no MAC; once one has, every later one must.
      if (mac !== undefined || macsStarted) {
        macsStarted = true;
        if (!macMatches(key, record.seq, hash, 'record', mac))
          return fail(i + 1, 'keyed MAC does not match (the line was rewritten and re-hashed)');
      }
    }
    hashes.push(hash);
    prev = hash;
  }
  if (!key) return { ok: true, records: lines.length, anchored: false };
  if (!existsSync(anchorPath)) {
    if (lines.length === 0 || !macsStarted) return { ok: true, records: lines.length, anchored: false };
    return fail(lines.length, `the anchor ${anchorPath} is missing (deleted?)`);
  }
  let anchor: AuditAnchor;
  try {
    anchor = JSON.parse(readFileSync(anchorPath, 'utf8')) as AuditAnchor;
  } catch {
    return fail(lines.length, 'the anchor is not valid JSON');
  }
  if (
    !Number.isInteger(anchor.seq) ||
    !macMatches(key, anchor.seq, String(anchor.hash), 'anchor', anchor.mac)
  )
    return fail(lines.length, 'the anchor does not carry a valid MAC (forged or written with another key)');
  if (lines.length < anchor.seq)
    return fail(
      lines.length + 1,
      `truncated: the anchor records ${anchor.seq} lines, the log has ${lines.length} (lines ${lines.length + 1}-${anchor.seq} removed)`,
    );
  if (hashes[anchor.seq - 1] !== anchor.hash)
    return fail(anchor.seq, `line ${anchor.seq} differs from the anchored one (rewritten and re-hashed)`);
  if (lines.length > anchor.seq)
    return fail(anchor.seq + 1, `lines after ${anchor.seq} were appended without the audit key`);
  return { ok: true, records: lines.length, anchored: true };
}

/** Reads all records (for `platformctl audit list`). */
export function readAudit(file: string): AuditRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditRecord);
}
