/**
 * Parameters of an image variant: size, fit and output format. Everything is validated and
 * normalised so that equal requests map to one cache key, and the work a single request can ask
 * for is bounded (`maxDimension`).
 */

export const FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;
export type Fit = (typeof FITS)[number];
export const FORMATS = ['webp', 'avif', 'jpeg', 'png'] as const;
export type VariantFormat = (typeof FORMATS)[number];

export const FORMAT_MIME: Record<VariantFormat, string> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpeg: 'image/jpeg',
  png: 'image/png',
};

export interface VariantParams {
  width: number | undefined;
  height: number | undefined;
  fit: Fit;
  format: VariantFormat;
  quality: number;
  /** True when the format came from the Accept header (response then needs `Vary: Accept`). */
  negotiated: boolean;
}

export type ParseResult = { ok: true; params: VariantParams } | { ok: false; error: string };

const DIGITS = /^\d+$/;

/**
 * Largest AVIF variant side. AVIF encoding costs tens of times more CPU than WebP and cannot be
 * interrupted once it starts (libvips' timeout does not reach the encoder), so a large one would
 * hold a transform slot, and hundreds of MB, for longer than any caller waits.
 */
export const MAX_AVIF_DIMENSION = 1600;

/** The value as received, shortened, for messages that say what was wrong with it. */
function shown(raw: unknown): string {
  if (Array.isArray(raw)) return `${raw.length} values`;
  const text = String(raw);
  return JSON.stringify(text.length > 20 ? `${text.slice(0, 20)}…` : text);
}

/** A whole number in [min, max], or a message naming the parameter, the range and what was given. */
function wholeNumber(raw: unknown, name: string, min: number, max: number): number | string {
  if (typeof raw !== 'string' || !DIGITS.test(raw))
    return `${name} must be a whole number between ${min} and ${max} (got ${shown(raw)})`;
  const n = raw.length > 9 ? Number.POSITIVE_INFINITY : Number(raw);
  if (n < min || n > max)
    return `${name} must be between ${min} and ${max} (got ${raw.length > 9 ? `${raw.slice(0, 9)}…` : raw})`;
  return n;
}

function dimension(raw: unknown, name: string, max: number): number | undefined | string {
  if (raw === undefined || raw === '') return undefined;
  return wholeNumber(raw, name, 1, max);
}

/** Best format the client accepts, preferring smaller encodings: avif, webp, then jpeg. */
export function negotiateFormat(accept: string | undefined, allowAvif: boolean): VariantFormat {
  const a = (accept ?? '').toLowerCase();
  const accepts = (mime: string) => {
    for (const part of a.split(',')) {
      const [type, ...rest] = part.trim().split(';');
      if (type?.trim() !== mime) continue;
      const q = rest.map((r) => r.trim()).find((r) => r.startsWith('q='));
      return !q || Number(q.slice(2)) > 0;
    }
    return false;
  };
  if (allowAvif && accepts('image/avif')) return 'avif';
  if (accepts('image/webp')) return 'webp';
  return 'jpeg';
}

export function parseVariantParams(
  query: Record<string, unknown>,
  accept: string | undefined,
  opts: { maxDimension: number; allowAvif?: boolean },
): ParseResult {
  const w = dimension(query.w, 'w', opts.maxDimension);
  if (typeof w === 'string') return { ok: false, error: w };
  const h = dimension(query.h, 'h', opts.maxDimension);
  if (typeof h === 'string') return { ok: false, error: h };
  if (w === undefined && h === undefined) return { ok: false, error: 'give w, h or both' };

  let fit: Fit = 'cover';
  if (query.fit !== undefined) {
    if (typeof query.fit !== 'string' || !(FITS as readonly string[]).includes(query.fit))
      return { ok: false, error: `fit must be one of ${FITS.join(', ')} (got ${shown(query.fit)})` };
    fit = query.fit as Fit;
  }

  let format: VariantFormat;
  let negotiated = false;
  if (query.format !== undefined && query.format !== '') {
    const f = typeof query.format === 'string' ? query.format.toLowerCase() : '';
    const normal = f === 'jpg' ? 'jpeg' : f;
    if (!(FORMATS as readonly string[]).includes(normal))
      return { ok: false, error: `format must be one of ${FORMATS.join(', ')} (got ${shown(query.format)})` };
    format = normal as VariantFormat;
  } else {
    // AVIF is offered only where it is affordable (see MAX_AVIF_DIMENSION).
    const small = (w ?? 0) <= MAX_AVIF_DIMENSION && (h ?? 0) <= MAX_AVIF_DIMENSION;
    format = negotiateFormat(accept, (opts.allowAvif ?? true) && small);
    negotiated = true;
  }
  if (format === 'avif' && ((w ?? 0) > MAX_AVIF_DIMENSION || (h ?? 0) > MAX_AVIF_DIMENSION))
    return {
      ok: false,
      error: `avif variants are at most ${MAX_AVIF_DIMENSION} pixels wide and high (got ${w ?? '-'}x${h ?? '-'}); ask for webp`,
    };

  let quality = format === 'avif' ? 50 : 80;
  if (query.q !== undefined && query.q !== '') {
    const q = wholeNumber(query.q, 'q', 1, 100);
    if (typeof q === 'string') return { ok: false, error: q };
    quality = q;
  }
  return { ok: true, params: { width: w, height: h, fit, format, quality, negotiated } };
}

/** Canonical text of the parameters, part of the cache key and the ETag. */
export function variantName(p: VariantParams): string {
  return `${p.width ?? '_'}x${p.height ?? '_'}-${p.fit}-q${p.quality}.${p.format}`;
}
