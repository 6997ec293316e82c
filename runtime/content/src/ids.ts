/**
 * Identifiers that reach the file system or SQL are validated against a strict shape first, so
 * `../../etc/passwd`, percent-encoded separators, NUL bytes and friends never get further than
 * the route handler: content ids are UUIDs, blob keys are lowercase hex sha256 digests.
 */
import { headerText } from './content-disposition.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SHA256 = /^[0-9a-f]{64}$/;

export function isContentId(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export function isSha256(value: unknown): value is string {
  return typeof value === 'string' && SHA256.test(value);
}

/** A content item can be addressed by its id or by its sha256 (content address). */
export function parseContentRef(value: unknown): { id: string } | { sha256: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  if (isContentId(lower)) return { id: lower };
  if (isSha256(lower)) return { sha256: lower };
  return undefined;
}

/** Blob key of an original: sharded by the first two hex digits to keep directories small. */
export function originalKey(sha256: string): string {
  if (!isSha256(sha256)) throw new Error('not a sha256 digest');
  return `originals/${sha256.slice(0, 2)}/${sha256}`;
}

/** Filenames are metadata only (never used as paths); keep them printable and short. */
export function cleanFilename(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  let name = headerText(value);
  try {
    name = decodeURIComponent(name);
  } catch {
    // keep the raw header value
  }
  name = name
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .split(/[\\/]/)
    .pop()!
    .trim()
    .slice(0, 255);
  return name.length > 0 && name !== '.' && name !== '..' ? name : undefined;
}
