import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { cleanFilename, isContentId, originalKey, parseContentRef } from '../../src/ids.ts';
import { detectType } from '../../src/magic.ts';
import { etagMatches, parseRange } from '../../src/range.ts';
import { negotiateFormat, parseVariantParams, variantName } from '../../src/variant-params.ts';
import { DEFAULT_PRESETS, parsePresets, signVariant, VariantPolicy } from '../../src/variant-policy.ts';

describe('detectType', () => {
  it('recognises images made by sharp and rejects other data', async () => {
    const base = sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } });
    expect(detectType(await base.clone().jpeg().toBuffer())?.mime).toBe('image/jpeg');
    expect(detectType(await base.clone().png().toBuffer())?.mime).toBe('image/png');
    expect(detectType(await base.clone().webp().toBuffer())?.mime).toBe('image/webp');
    expect(detectType(await base.clone().gif().toBuffer())?.mime).toBe('image/gif');
    expect(detectType(await base.clone().avif().toBuffer())?.mime).toBe('image/avif');
    expect(detectType(Buffer.from('<html><script>alert(1)</script>'))).toBeUndefined();
    expect(detectType(Buffer.from('%PDF-1.7'))).toBeUndefined();
    expect(detectType(Buffer.alloc(0))).toBeUndefined();
  });

  it('recognises mp4 and webm headers', () => {
    const ftyp = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom\0\0\x02\0isomiso2')]);
    expect(detectType(ftyp)?.mime).toBe('video/mp4');
    const webm = Buffer.from([
      0x1a,
      0x45,
      0xdf,
      0xa3,
      0x9f,
      0x42,
      0x86,
      0x81,
      0x01,
      0x42,
      0x82,
      0x84,
      ...Buffer.from('webm'),
    ]);
    expect(detectType(webm)?.mime).toBe('video/webm');
    const mkv = Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82, 0x88, ...Buffer.from('matroska')]);
    expect(detectType(mkv)).toBeUndefined();
  });

  it('recognises the committed samples (including the hand-muxed WebM)', () => {
    const dir = join(import.meta.dirname, '..', '..', 'samples');
    expect(detectType(readFileSync(join(dir, 'sample.jpg')))?.mime).toBe('image/jpeg');
    expect(detectType(readFileSync(join(dir, 'sample.png')))?.mime).toBe('image/png');
    expect(detectType(readFileSync(join(dir, 'sample.webm')))?.mime).toBe('video/webm');
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        detectType(b);
      }),
    );
  });
});

describe('ids', () => {
  it('accepts uuids and sha256, rejects traversal', () => {
    expect(isContentId('3f2b8c1e-9d4a-4f6b-8e2a-1c3d5e7f9a0b')).toBe(true);
    expect(parseContentRef('A'.repeat(64))).toEqual({ sha256: 'a'.repeat(64) });
    for (const bad of [
      '../../etc/passwd',
      '..%2F..%2Fetc',
      'abc',
      '',
      '3f2b8c1e-9d4a-4f6b-8e2a-1c3d5e7f9a0b/..',
      `${'a'.repeat(63)}/`,
    ])
      expect(parseContentRef(bad)).toBeUndefined();
    expect(originalKey('ab'.repeat(32))).toBe(`originals/ab/${'ab'.repeat(32)}`);
    expect(() => originalKey('../x')).toThrow();
    expect(cleanFilename('..%2F..%2Fetc%2Fpasswd')).toBe('passwd');
    expect(cleanFilename('..')).toBeUndefined();
    expect(cleanFilename('cat\u0000.jpg')).toBe('cat.jpg');
  });
});

describe('parseRange', () => {
  it('handles the single-range forms', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=50-1000', 100)).toEqual({ kind: 'partial', start: 50, end: 99 });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'full' });
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'full' });
  });
  it('never yields an out-of-bounds range', () => {
    fc.assert(
      fc.property(fc.string(), fc.nat(10_000), (h, size) => {
        const r = parseRange(h, size);
        if (r.kind === 'partial') {
          expect(r.start).toBeGreaterThanOrEqual(0);
          expect(r.end).toBeLessThan(size);
          expect(r.start).toBeLessThanOrEqual(r.end);
        }
      }),
    );
  });
  it('matches etags', () => {
    expect(etagMatches('"abc"', '"abc"')).toBe(true);
    expect(etagMatches('W/"abc", "x"', '"abc"')).toBe(true);
    expect(etagMatches('"x"', '"abc"')).toBe(false);
    expect(etagMatches('*', '"abc"')).toBe(true);
  });
});

describe('variant params', () => {
  const opts = { maxDimension: 4096 };
  it('validates and normalises', () => {
    const r = parseVariantParams({ w: '200', format: 'webp' }, undefined, opts);
    expect(r.ok && variantName(r.params)).toBe('200x_-cover-q80.webp');
    expect(parseVariantParams({ w: '0' }, undefined, opts).ok).toBe(false);
    expect(parseVariantParams({ w: '5000' }, undefined, opts).ok).toBe(false);
    expect(parseVariantParams({ w: '1e3' }, undefined, opts).ok).toBe(false);
    expect(parseVariantParams({}, undefined, opts).ok).toBe(false);
    expect(parseVariantParams({ w: '10', fit: 'evil' }, undefined, opts).ok).toBe(false);
    expect(parseVariantParams({ w: '10', format: 'tiff' }, undefined, opts).ok).toBe(false);
    expect(parseVariantParams({ w: ['1', '2'] }, undefined, opts).ok).toBe(false);
  });
  it('negotiates from Accept', () => {
    expect(negotiateFormat('image/avif,image/webp,*/*', true)).toBe('avif');
    expect(negotiateFormat('image/avif;q=0,image/webp', true)).toBe('webp');
    expect(negotiateFormat('text/html', true)).toBe('jpeg');
    const r = parseVariantParams({ w: '10' }, 'image/webp', opts);
    expect(r.ok && r.params.format === 'webp' && r.params.negotiated).toBe(true);
  });
});

describe('variant policy', () => {
  const policy = new VariantPolicy({
    presets: parsePresets(DEFAULT_PRESETS, 4096),
    keys: ['key-one-0123456789-0123456789-0123', 'key-two-0123456789-0123456789-0123'],
    allowUnsigned: false,
    maxDimension: 4096,
  });

  it('admits presets by name or parameters, signed parameters, and nothing else', () => {
    expect(policy.decide('id', { preset: 'thumb', format: 'webp' }, undefined)).toMatchObject({
      ok: true,
      via: 'preset',
    });
    expect(policy.decide('id', { w: '200', format: 'webp' }, undefined)).toMatchObject({
      ok: true,
      via: 'preset',
    });
    expect(policy.decide('id', { w: '201' }, undefined)).toMatchObject({ ok: false, status: 403 });
    const q = { w: '201', q: '90' };
    const sig = signVariant('id', q, 'key-two-0123456789-0123456789-0123');
    expect(policy.decide('id', { ...q, sig }, undefined)).toMatchObject({ ok: true, via: 'signature' });
    expect(policy.decide('other-id', { ...q, sig }, undefined)).toMatchObject({
      ok: false,
      code: 'BAD_SIGNATURE',
    });
    expect(policy.decide('id', { preset: 'thumb', w: '10' }, undefined)).toMatchObject({
      ok: false,
      status: 400,
    });
  });

  it('refuses invalid preset lists, and leaves oversize built-in presets out', () => {
    expect(() => parsePresets('Bad Name:w=1', 4096)).toThrow(/preset name/);
    expect(() => parsePresets('x:w=1&blur=3', 4096)).toThrow(/"blur" is not one of/);
    expect(() => parsePresets('x:w=5000', 4096)).toThrow(/w must be between 1 and 4096/);
    expect(parsePresets(DEFAULT_PRESETS, 512, true).map((p) => p.name)).toEqual(['thumb', 'small', 'square']);
  });
});

describe('affordable avif', () => {
  it('refuses large avif variants with a message, and negotiates webp for them instead', () => {
    const big = parseVariantParams({ w: '3000', format: 'avif' }, undefined, { maxDimension: 4096 });
    expect(big).toEqual({
      ok: false,
      error: expect.stringMatching(/avif variants are at most 1600 .*got 3000x-/),
    });
    const negotiated = parseVariantParams({ w: '3000' }, 'image/avif,image/webp', { maxDimension: 4096 });
    expect(negotiated.ok && negotiated.params.format).toBe('webp');
    const small = parseVariantParams({ w: '1600' }, 'image/avif,image/webp', { maxDimension: 4096 });
    expect(small.ok && small.params.format).toBe('avif');
  });
});
