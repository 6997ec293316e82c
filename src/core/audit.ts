/**
 * The audit log: one JSON line per mutating command in `.platform/audit.log`, each carrying the
 * SHA-256 of the previous line so that editing, deleting or reordering any line breaks the chain.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname } from 'node:path';
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

function hashOf(record: Omit<AuditRecord, 'hash'>): string {
  return createHash('sha256').update(JSON.stringify(record)).digest('hex');
}

function actor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `uid:${process.getuid?.() ?? '?'}@${hostname()}`;
  }
}

/** Appends one record to the chain in `file`, creating it if needed. */
export function appendAudit(file: string, input: AuditInput, now = new Date()): AuditRecord {
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
  const record: AuditRecord = { ...body, hash: hashOf(body) };
  appendFileSync(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  return record;
}

export interface AuditVerification {
  ok: boolean;
  records: number;
  /** 1-based line number of the first line that breaks the chain. */
  badLine?: number;
  reason?: string;
}

/** Walks the chain; reports the first line whose content, hash or link is wrong. */
export function verifyAudit(file: string): AuditVerification {
  if (!existsSync(file)) return { ok: true, records: 0 };
  const lines = readFileSync(file, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  let prev = GENESIS;
  for (const [i, line] of lines.entries()) {
    let record: AuditRecord;
    try {
      record = JSON.parse(line) as AuditRecord;
    } catch {
      return { ok: false, records: lines.length, badLine: i + 1, reason: 'not valid JSON' };
    }
    const { hash, ...body } = record;
    if (record.prev !== prev)
      return {
        ok: false,
        records: lines.length,
        badLine: i + 1,
        reason: 'chain broken: prev does not match the line before',
      };
    if (hashOf(body) !== hash)
      return {
        ok: false,
        records: lines.length,
        badLine: i + 1,
        reason: 'content does not match its hash (edited)',
      };
    if (record.seq !== i + 1)
      return { ok: false, records: lines.length, badLine: i + 1, reason: 'sequence number out of order' };
    prev = hash;
  }
  return { ok: true, records: lines.length };
}

/** Reads all records (for `platformctl audit list`). */
export function readAudit(file: string): AuditRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditRecord);
}
