/**
 * Media type detection from the first bytes of a file ("magic numbers"). The client's
 * `content-type` header is never trusted: it is whatever the uploader says it is.
 */

export interface DetectedType {
  mime: string;
  ext: string;
  kind: 'image' | 'video';
}

/** Bytes needed to decide; uploads shorter than this are judged on what they have. */
export const SNIFF_BYTES = 64;

const JPEG: DetectedType = { mime: 'image/jpeg', ext: 'jpg', kind: 'image' };
const PNG: DetectedType = { mime: 'image/png', ext: 'png', kind: 'image' };
const GIF: DetectedType = { mime: 'image/gif', ext: 'gif', kind: 'image' };
const WEBP: DetectedType = { mime: 'image/webp', ext: 'webp', kind: 'image' };
const AVIF: DetectedType = { mime: 'image/avif', ext: 'avif', kind: 'image' };
const HEIC: DetectedType = { mime: 'image/heic', ext: 'heic', kind: 'image' };
const MP4: DetectedType = { mime: 'video/mp4', ext: 'mp4', kind: 'video' };
const WEBM: DetectedType = { mime: 'video/webm', ext: 'webm', kind: 'video' };

export const SUPPORTED_TYPES = [JPEG, PNG, GIF, WEBP, AVIF, HEIC, MP4, WEBM];

const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs']);
const MP4_BRANDS = new Set([
  'isom',
  'iso2',
  'iso3',
  'iso4',
  'iso5',
  'iso6',
  'mp41',
  'mp42',
  'avc1',
  'dash',
  'M4V ',
  'mmp4',
  'MSNV',
]);

function ascii(buf: Uint8Array, start: number, end: number): string {
  if (buf.length < end) return '';
  return String.fromCharCode(...buf.subarray(start, end));
}

function startsWith(buf: Uint8Array, sig: number[], offset = 0): boolean {
  if (buf.length < offset + sig.length) return false;
  return sig.every((b, i) => buf[offset + i] === b);
}

/** ISO base media file (MP4, HEIF, AVIF): `ftyp` box with major brand + compatible brands. */
function detectFtyp(buf: Uint8Array): DetectedType | undefined {
  if (ascii(buf, 4, 8) !== 'ftyp') return undefined;
  const boxSize = ((buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!) >>> 0;
  if (boxSize < 16) return undefined;
  const brands = [ascii(buf, 8, 12)];
  const end = Math.min(boxSize, buf.length);
  for (let off = 16; off + 4 <= end; off += 4) brands.push(ascii(buf, off, off + 4));
  const major = brands[0]!;
  if (AVIF_BRANDS.has(major)) return AVIF;
  if (HEIC_BRANDS.has(major)) return HEIC;
  if (MP4_BRANDS.has(major)) return MP4;
  // Generic HEIF major brands (`mif1`, `msf1`) say what they are in the compatible brands.
  if (brands.some((b) => AVIF_BRANDS.has(b))) return AVIF;
  if (brands.some((b) => HEIC_BRANDS.has(b))) return HEIC;
  if (brands.some((b) => MP4_BRANDS.has(b))) return MP4;
  return undefined;
}

/** WebM is Matroska with DocType "webm"; the DocType element (0x42 0x82) sits in the EBML header. */
function detectWebm(buf: Uint8Array): DetectedType | undefined {
  if (!startsWith(buf, [0x1a, 0x45, 0xdf, 0xa3])) return undefined;
  for (let i = 4; i + 3 <= buf.length; i++) {
    if (buf[i] !== 0x42 || buf[i + 1] !== 0x82) continue;
    // The size is an EBML variable-length integer: the leading zero bits of its first byte give its length.
    const first = buf[i + 2]!;
    const len = first === 0 ? 9 : Math.clz32(first) - 23;
    if (len > 8 || i + 2 + len > buf.length) return undefined;
    let size = first & (0xff >> len);
    for (let k = 1; k < len; k++) size = size * 256 + buf[i + 2 + k]!;
    const start = i + 2 + len;
    return size === 4 && ascii(buf, start, start + 4) === 'webm' ? WEBM : undefined;
  }
  return undefined;
}

export function detectType(buf: Uint8Array): DetectedType | undefined {
  if (startsWith(buf, [0xff, 0xd8, 0xff])) return JPEG;
  if (startsWith(buf, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return PNG;
  const gif = ascii(buf, 0, 6);
  if (gif === 'GIF87a' || gif === 'GIF89a') return GIF;
  if (ascii(buf, 0, 4) === 'RIFF' && ascii(buf, 8, 12) === 'WEBP') return WEBP;
  return detectFtyp(buf) ?? detectWebm(buf);
}
