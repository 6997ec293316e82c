/**
 * Filenames in and out of HTTP headers. Header values are bytes; node reads them as latin1, so a
 * client sending `x-filename: é😀.png` as raw UTF-8 (what browsers' fetch and curl do) arrives as
 * `Ã©ð…`. On the way out, RFC 6266 carries non-ASCII names in `filename*` (RFC 8187), with a plain
 * `filename` fallback for the few clients that only read that.
 */

/** Undoes node's latin1 reading of a header that was really UTF-8; leaves other text alone. */
export function headerText(value: string): string {
  // Only code points below 256 can be latin1-read bytes; anything above was decoded already.
  if (!/[\u0080-\u00ff]/.test(value) || /[^\u0000-\u00ff]/.test(value)) return value;
  const decoded = Buffer.from(value, 'latin1').toString('utf8');
  return decoded.includes('\ufffd') ? value : decoded;
}

/** RFC 8187 ext-value: percent-encode everything outside attr-char. */
function extValue(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `inline; filename="<ascii fallback>"; filename*=UTF-8''<name>` (RFC 6266 §4.3). */
export function contentDisposition(filename: string, type: 'inline' | 'attachment' = 'inline'): string {
  const fallback = filename.replace(/[^\x20-\x7e]/gu, '_').replace(/["\\]/g, '_');
  return `${type}; filename="${fallback}"; filename*=UTF-8''${extValue(filename)}`;
}
