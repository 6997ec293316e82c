/**
 * Which image variants an anonymous request may make the service render. Every distinct
 * parameter combination costs an encode and a cached file, so arbitrary parameters are not open
 * to anyone: a request names a preset (`?preset=thumb`, or exactly a preset's parameters such as
 * `?w=200&format=webp`), or carries a signature over its parameters made with a key the service
 * holds (`&sig=`, HMAC-SHA256, as imgproxy and Thumbor do). Several keys may be configured: the
 * first one signs, all of them verify, so keys rotate without breaking published URLs.
 * Unsigned arbitrary parameters can be allowed for development (`CONTENT_VARIANT_UNSIGNED=on`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type ParseResult, parseVariantParams, type VariantParams } from './variant-params.ts';

/** A preset: fixed geometry and quality; the format still follows `format=` or `Accept`. */
export interface VariantPreset {
  name: string;
  query: Record<string, string>;
}

/** The presets served when CONTENT_VARIANT_PRESETS is not set. */
export const DEFAULT_PRESETS = 'thumb:w=200;small:w=400;medium:w=800;large:w=1600;square:w=64&h=64&fit=cover';

const PRESET_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Parameters that define the geometry; `format` stays free (four formats at most). */
const GEOMETRY = ['w', 'h', 'fit', 'q'] as const;

/**
 * Parses `name:w=200&h=100;other:w=800` into presets; throws with the offending entry. With
 * `skipOversize` (the built-in list) presets larger than `maxDimension` are left out instead.
 */
export function parsePresets(text: string, maxDimension: number, skipOversize = false): VariantPreset[] {
  const presets: VariantPreset[] = [];
  for (const entry of text
    .split(';')
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [name = '', qs = ''] = entry.split(':', 2);
    if (!PRESET_NAME.test(name)) throw new Error(`preset name "${name}" must be 1-32 of a-z, 0-9, _ and -`);
    const query = Object.fromEntries(new URLSearchParams(qs));
    for (const k of Object.keys(query))
      if (!(GEOMETRY as readonly string[]).includes(k))
        throw new Error(`preset ${name}: "${k}" is not one of ${GEOMETRY.join(', ')}`);
    const parsed = parseVariantParams(query, undefined, { maxDimension });
    if (!parsed.ok && skipOversize && /between/.test(parsed.error)) continue;
    if (!parsed.ok) throw new Error(`preset ${name}: ${parsed.error}`);
    presets.push({ name, query });
  }
  return presets;
}

/** The canonical text a signature covers: the content reference and every parameter as given. */
export function signedText(ref: string, query: Record<string, unknown>): string {
  const parts = ['w', 'h', 'fit', 'format', 'q'].map((k) => {
    const v = query[k];
    return `${k}=${typeof v === 'string' ? v : ''}`;
  });
  return `${ref}?${parts.join('&')}`;
}

/** The `sig` value for a variant URL of `ref` with `query` (w, h, fit, format, q), signed with `key`. */
export function signVariant(ref: string, query: Record<string, unknown>, key: string): string {
  return createHmac('sha256', key).update(signedText(ref, query)).digest('base64url');
}

export type VariantDecision =
  | { ok: true; params: VariantParams; via: 'preset' | 'signature' | 'unsigned' }
  | { ok: false; status: 400 | 403; code: string; error: string };

export interface VariantPolicyOptions {
  presets: VariantPreset[];
  /** Signing keys, newest first. Empty: only presets (or unsigned, when allowed). */
  keys: string[];
  allowUnsigned: boolean;
  maxDimension: number;
}

export class VariantPolicy {
  readonly #opts: VariantPolicyOptions;
  readonly #byName: Map<string, VariantPreset>;

  constructor(opts: VariantPolicyOptions) {
    this.#opts = opts;
    this.#byName = new Map(opts.presets.map((p) => [p.name, p]));
  }

  get presetNames(): string[] {
    return [...this.#byName.keys()];
  }

  /** Decides a variant request for content `ref` from its query and Accept header. */
  decide(ref: string, query: Record<string, unknown>, accept: string | undefined): VariantDecision {
    const opts = { maxDimension: this.#opts.maxDimension };
    if (query.preset !== undefined) {
      const preset = typeof query.preset === 'string' ? this.#byName.get(query.preset) : undefined;
      if (!preset)
        return invalid(
          400,
          'UNKNOWN_PRESET',
          `preset must be one of ${this.presetNames.join(', ')} (got "${String(query.preset).slice(0, 40)}")`,
        );
      const extra = GEOMETRY.filter((k) => query[k] !== undefined);
      if (extra.length > 0)
        return invalid(400, 'INVALID_VARIANT', `preset cannot be combined with ${extra.join(', ')}`);
      return accepted(parseVariantParams({ ...preset.query, format: query.format }, accept, opts), 'preset');
    }
    const parsed = parseVariantParams(query, accept, opts);
    if (!parsed.ok) return invalid(400, 'INVALID_VARIANT', parsed.error);
    if (this.#matchesPreset(parsed.params, query, accept)) return accepted(parsed, 'preset');
    if (query.sig !== undefined) {
      if (typeof query.sig === 'string' && this.#signatureValid(ref, query, query.sig))
        return accepted(parsed, 'signature');
      return invalid(403, 'BAD_SIGNATURE', 'the variant signature does not match its parameters');
    }
    if (this.#opts.allowUnsigned) return accepted(parsed, 'unsigned');
    return invalid(
      403,
      'VARIANT_NOT_ALLOWED',
      `arbitrary variant parameters need a signature (sig=); use a preset instead: ${this.presetNames.join(', ')}`,
    );
  }

  #matchesPreset(params: VariantParams, query: Record<string, unknown>, accept: string | undefined): boolean {
    for (const preset of this.#byName.values()) {
      const p = parseVariantParams({ ...preset.query, format: query.format }, accept, {
        maxDimension: this.#opts.maxDimension,
      });
      if (
        p.ok &&
        p.params.width === params.width &&
        p.params.height === params.height &&
        p.params.fit === params.fit &&
        p.params.quality === params.quality
      )
        return true;
    }
    return false;
  }

  #signatureValid(ref: string, query: Record<string, unknown>, sig: string): boolean {
    const given = Buffer.from(sig, 'base64url');
    if (given.length !== 32) return false;
    // Every key is tried so that URLs signed with a retired-but-listed key keep working.
    let ok = false;
    for (const key of this.#opts.keys) {
      const expected = createHmac('sha256', key).update(signedText(ref, query)).digest();
      if (timingSafeEqual(expected, given)) ok = true;
    }
    return ok;
  }
}

function accepted(parsed: ParseResult, via: 'preset' | 'signature' | 'unsigned'): VariantDecision {
  if (!parsed.ok) return invalid(400, 'INVALID_VARIANT', parsed.error);
  return { ok: true, params: parsed.params, via };
}

function invalid(status: 400 | 403, code: string, error: string): VariantDecision {
  return { ok: false, status, code, error };
}
