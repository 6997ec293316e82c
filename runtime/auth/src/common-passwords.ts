/**
 * The blocklist NIST SP 800-63B §3.1.1.2 asks verifiers to check new passwords against: values
 * known to be commonly used, expected or compromised. The list is zxcvbn-ts's `passwords-common`
 * (about 49,000 passwords ranked by frequency in public breach corpora), kept up to date by that
 * project, rather than a file copied in here. Context words (the e-mail, the service name) are
 * checked as well, as the guideline asks.
 */
import { dictionary } from '@zxcvbn-ts/language-common';

let common: Set<string> | undefined;

function commonPasswords(): Set<string> {
  common ??= new Set(dictionary['passwords-common']);
  return common;
}

const CONTEXT_WORDS = ['platformctl', 'globalcontent', 'platform'];

/**
 * Whether `password` is a common or breached password, or just the account's own e-mail (or its
 * local part) or the service's name, ignoring case and surrounding whitespace.
 */
export function isCommonPassword(password: string, email?: string): boolean {
  const p = password.trim().toLowerCase();
  if (commonPasswords().has(p)) return true;
  const context = [...CONTEXT_WORDS];
  if (email) {
    const e = email.trim().toLowerCase();
    context.push(e, e.split('@')[0] ?? e);
  }
  return context.some((w) => w.length > 0 && p === w);
}
