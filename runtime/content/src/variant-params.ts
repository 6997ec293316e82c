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

const INT = /^\d{1,5}$/;

function dimension(raw: unknown, name: string, max: number): number | undefined | string {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !INT.test(raw)) return `${name} must be an integer`;
  const n = Number(raw);
  if (n < 1 || n > max) return `${name} must be between 1 and ${max}`;
  return n;
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
      return { ok: false, error: `fit must be one of ${FITS.join(', ')}` };
    fit = query.fit as Fit;
  }

  let format: VariantFormat;
  let negotiated = false;
  if (query.format !== undefined && query.format !== '') {
    const f = typeof query.format === 'string' ? query.format.toLowerCase() : '';
    const normal = f === 'jpg' ? 'jpeg' : f;
    if (!(FORMATS as readonly string[]).includes(normal))
      return { ok: false, error: `format must be one of ${FORMATS.join(', ')}` };
    format = normal as VariantFormat;
  } else {
    format = negotiateFormat(accept, opts.allowAvif ?? true);
    negotiated = true;
  }

  let quality = format === 'avif' ? 50 : 80;
  if (query.q !== undefined && query.q !== '') {
    if (typeof query.q !== 'string' || !INT.test(query.q) || Number(query.q) < 1 || Number(query.q) > 100)
      return { ok: false, error: 'q must be an integer between 1 and 100' };
    quality = Number(query.q);
  }
  return { ok: true, params: { width: w, height: h, fit, format, quality, negotiated } };
}

/** Canonical text of the parameters, part of the cache key and the ETag. */
export function variantName(p: VariantParams): string {
  return `${p.width ?? '_'}x${p.height ?? '_'}-${p.fit}-q${p.quality}.${p.format}`;
}
