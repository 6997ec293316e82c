/**
 * The content service as a real process: upload -> metadata -> raw (Range, ETag, 304) -> variant,
 * and the refusals (spoofed types, oversized uploads, traversal ids, non-owners), plus the
 * outbox -> bus relay.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startService } from '../../auth/test/helpers/service-process.ts';
import { type BusEvent, openBus } from '../../lib/storage/bus.ts';
import { signVariant } from '../src/variant-policy.ts';

const MAX = 300_000;
const KEYS = {
  current: 'current-variant-signing-key-0123456789',
  previous: 'previous-variant-signing-key-0123456789',
};
let dir: string;
let svc: ServiceProcess;
let jpeg: Buffer;
let item: { id: string; sha256: string; size: number; type: string };

const alice = { 'x-user-id': 'alice', 'x-user-role': 'viewer' };
const bob = { 'x-user-id': 'bob', 'x-user-role': 'editor' };
const root = { 'x-user-id': 'root', 'x-user-role': 'admin' };

// biome-ignore lint/suspicious/noExplicitAny: error and item bodies are inspected loosely
type UploadBody = Record<string, any>;

async function upload(body: Buffer | ReadableStream, headers: Record<string, string> = alice) {
  const res = await fetch(`${svc.url}/content`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', ...headers },
    body,
    ...(body instanceof Buffer ? {} : { duplex: 'half' }),
  } as RequestInit);
  return { status: res.status, headers: res.headers, body: (await res.json()) as UploadBody };
}

function get(path: string, headers: Record<string, string> = {}) {
  return fetch(svc.url + path, { headers });
}

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

function rowCount(): number {
  const db = new Database(join(dir, 'content', 'content.db'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM content_items').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'content-test-'));
  svc = await startService('content', {
    DATA_DIR: join(dir, 'content'),
    MAX_UPLOAD_BYTES: String(MAX),
    CONTENT_MAX_INPUT_PIXELS: String(1_000_000),
    CONTENT_VARIANT_KEYS: `${KEYS.current},${KEYS.previous}`,
  });
  // A noisy photo-like image so the JPEG is a realistic size (tens of KB).
  const noise = Buffer.alloc(640 * 480 * 3);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
  jpeg = await sharp(noise, { raw: { width: 640, height: 480, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
});

afterAll(async () => {
  expect(svc.logs().filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  expect(await svc?.stop()).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

describe('upload and read', () => {
  it('stores an image whatever content-type the client claims, addressed by sha256', async () => {
    // sharp's libvips is loaded by the first upload, not at start: a (re)start is ready sooner.
    const libvips = () => readFileSync(`/proc/${svc.proc.pid}/maps`, 'utf8').includes('libvips');
    expect(libvips()).toBe(false);
    const r = await upload(jpeg, { ...alice, 'content-type': 'text/plain', 'x-filename': 'cat%20photo.jpg' });
    expect(r.status).toBe(201);
    expect(libvips()).toBe(true);
    item = r.body as typeof item;
    expect(r.body).toMatchObject({
      type: 'image/jpeg',
      kind: 'image',
      size: jpeg.length,
      ownerId: 'alice',
      filename: 'cat photo.jpg',
      width: 640,
      height: 480,
      sha256: createHash('sha256').update(jpeg).digest('hex'),
    });
    expect(r.headers.get('location')).toBe(`/content/${item.id}`);
    const again = await upload(jpeg, bob);
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(item.id);
    // Deduplicated: one original on disk for two items.
    expect(filesUnder(join(dir, 'content', 'blobs', 'originals'))).toHaveLength(1);
  });

  it('serves metadata and lists only the caller\u2019s items', async () => {
    const meta = await (await get(`/content/${item.id}`)).json();
    expect(meta).toMatchObject({ id: item.id, sha256: item.sha256 });
    expect(await (await get(`/content/${item.sha256}`)).json()).toMatchObject({ sha256: item.sha256 });
    const mine = (await (await get('/content', alice)).json()) as { items: { id: string }[] };
    expect(mine.items.map((i) => i.id)).toEqual([item.id]);
    const bobs = (await (await get('/content', bob)).json()) as { items: { ownerId: string }[] };
    expect(bobs.items.every((i) => i.ownerId === 'bob')).toBe(true);
    expect((await get('/content')).status).toBe(401);
  });

  it('pages through a listing with a cursor', async () => {
    const ids: string[] = [];
    for (const colour of ['#100', '#200', '#300']) {
      const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: colour } })
        .png()
        .toBuffer();
      ids.push((await upload(png, { 'x-user-id': 'pager', 'x-user-role': 'viewer' })).body.id);
    }
    const seen: string[] = [];
    let cursor = '';
    for (let page = 0; page < 5; page++) {
      const r = (await (
        await get(`/content?limit=2&cursor=${cursor}`, { 'x-user-id': 'pager', 'x-user-role': 'viewer' })
      ).json()) as {
        items: { id: string }[];
        nextCursor: string | null;
      };
      seen.push(...r.items.map((i) => i.id));
      if (!r.nextCursor) break;
      cursor = r.nextCursor;
    }
    // Newest first; uploads within the same millisecond are ordered by id, so compare as sets.
    expect(seen).toHaveLength(3);
    expect(new Set(seen)).toEqual(new Set(ids));
    expect((await get('/content?limit=0', alice)).status).toBe(400);
    expect((await get('/content?cursor=bogus', alice)).status).toBe(400);
  });

  it('serves the original with ETag, 304, Range and immutable caching', async () => {
    const full = await get(`/content/${item.id}/raw`);
    expect(full.status).toBe(200);
    expect(full.headers.get('content-type')).toBe('image/jpeg');
    expect(full.headers.get('etag')).toBe(`"${item.sha256}"`);
    expect(full.headers.get('cache-control')).toContain('immutable');
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    expect(full.headers.get('content-disposition')).toBe(
      `inline; filename="cat photo.jpg"; filename*=UTF-8''cat%20photo.jpg`,
    );
    expect(full.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await full.arrayBuffer()).equals(jpeg)).toBe(true);

    const cached = await get(`/content/${item.id}/raw`, { 'if-none-match': `"${item.sha256}"` });
    expect(cached.status).toBe(304);

    const part = await get(`/content/${item.id}/raw`, { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${jpeg.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(jpeg.subarray(100, 200))).toBe(true);

    const tail = await get(`/content/${item.id}/raw`, { range: 'bytes=-10' });
    expect(Buffer.from(await tail.arrayBuffer()).equals(jpeg.subarray(-10))).toBe(true);

    const bad = await get(`/content/${item.id}/raw`, { range: `bytes=${jpeg.length + 5}-` });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${jpeg.length}`);
  });

  it('makes a 200px webp variant with sharp and caches it', async () => {
    const first = await get(`/content/${item.id}/variant?w=200&format=webp`);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/webp');
    expect(first.headers.get('x-variant-cache')).toBe('miss');
    const meta = await sharp(Buffer.from(await first.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 200, height: 150 });
    const second = await get(`/content/${item.id}/variant?w=200&format=webp`);
    expect(second.headers.get('x-variant-cache')).toBe('hit');
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    await second.arrayBuffer();
    const notModified = await get(`/content/${item.id}/variant?w=200&format=webp`, {
      'if-none-match': first.headers.get('etag')!,
    });
    expect(notModified.status).toBe(304);

    const negotiated = await get(`/content/${item.id}/variant?w=64&h=64&fit=cover`, {
      accept: 'image/avif,image/webp,*/*',
    });
    expect(negotiated.headers.get('content-type')).toBe('image/avif');
    expect(negotiated.headers.get('vary')).toBe('Accept');
    const sq = await sharp(Buffer.from(await negotiated.arrayBuffer())).metadata();
    expect([sq.width, sq.height]).toEqual([64, 64]);

    expect((await get(`/content/${item.id}/variant?w=99999`)).status).toBe(400);
    expect((await get(`/content/${item.id}/variant?w=100&format=bmp`)).status).toBe(400);
    expect((await get(`/content/${item.id}/variant`)).status).toBe(400);
  });
});

describe('non-ASCII filenames', () => {
  it('keeps a UTF-8 x-filename intact and sends it back per RFC 6266', async () => {
    // What curl and browsers put on the wire: the name's UTF-8 bytes (node reads them as latin1).
    const name = 'é😀 photo.jpg';
    const r = await upload(jpeg, { ...alice, 'x-filename': Buffer.from(name).toString('latin1') });
    expect(r.body.filename).toBe(name);
    const raw = await get(`/content/${r.body.id}/raw`);
    await raw.arrayBuffer();
    expect(raw.headers.get('content-disposition')).toBe(
      `inline; filename="__ photo.jpg"; filename*=UTF-8''%C3%A9%F0%9F%98%80%20photo.jpg`,
    );
    // Percent-encoded names (RFC 8187 style) still work.
    const encoded = await upload(jpeg, { ...alice, 'x-filename': encodeURIComponent(name) });
    expect(encoded.body.filename).toBe(name);
  });
});

describe('variants on a budget', () => {
  const problem = async (res: Response) => (await res.json()) as UploadBody;

  it('serves presets by name and by their parameters, and refuses other unsigned parameters', async () => {
    const named = await get(`/content/${item.id}/variant?preset=small&format=jpeg`);
    expect(named.status).toBe(200);
    expect((await sharp(Buffer.from(await named.arrayBuffer())).metadata()).width).toBe(400);
    const byParams = await get(`/content/${item.id}/variant?w=400&format=jpeg`);
    expect(byParams.headers.get('etag')).toBe(named.headers.get('etag'));
    await byParams.arrayBuffer();
    const free = await get(`/content/${item.id}/variant?w=401&format=avif&q=37`);
    expect(free.status).toBe(403);
    expect((await problem(free)).code).toBe('VARIANT_NOT_ALLOWED');
    const unknown = await get(`/content/${item.id}/variant?preset=huge`);
    expect(unknown.status).toBe(400);
    expect((await problem(unknown)).detail).toMatch(/preset must be one of thumb, small/);
  });

  it('serves signed parameters, with the current or a previous key, and refuses tampering', async () => {
    const query = { w: '123', format: 'webp', q: '55' };
    const qs = new URLSearchParams(query).toString();
    for (const key of [KEYS.current, KEYS.previous]) {
      const sig = signVariant(item.id, query, key);
      const res = await get(`/content/${item.id}/variant?${qs}&sig=${sig}`);
      expect(res.status, key).toBe(200);
      expect((await sharp(Buffer.from(await res.arrayBuffer())).metadata()).width).toBe(123);
    }
    const sig = signVariant(item.id, query, KEYS.current);
    const tampered = await get(`/content/${item.id}/variant?w=124&format=webp&q=55&sig=${sig}`);
    expect(tampered.status).toBe(403);
    expect((await problem(tampered)).code).toBe('BAD_SIGNATURE');
    const otherKey = signVariant(item.id, query, 'some-other-key-that-the-service-does-not-have');
    expect((await get(`/content/${item.id}/variant?${qs}&sig=${otherKey}`)).status).toBe(403);
  });

  it('says exactly what is wrong with a parameter', async () => {
    const cases: [string, RegExp][] = [
      ['w=100000', /w must be between 1 and 4096 \(got 100000\)/],
      ['w=abc', /w must be a whole number between 1 and 4096 \(got "abc"\)/],
      ['w=100&q=0', /q must be between 1 and 100 \(got 0\)/],
      ['w=100&fit=stretch', /fit must be one of .* \(got "stretch"\)/],
    ];
    for (const [qs, message] of cases) {
      const res = await get(`/content/${item.id}/variant?${qs}`);
      expect(res.status, qs).toBe(400);
      expect((await problem(res)).detail, qs).toMatch(message);
    }
  });
});

describe('video', () => {
  it('stores the sample WebM, serves it with Range, and refuses image variants of it', async () => {
    const clip = readFileSync(join(import.meta.dirname, '..', 'samples', 'sample.webm'));
    const r = await upload(clip, { ...alice, 'content-type': 'image/jpeg' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ type: 'video/webm', kind: 'video', width: null });
    const part = await get(`/content/${r.body.id}/raw`, { range: 'bytes=0-3' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-type')).toBe('video/webm');
    expect([...Buffer.from(await part.arrayBuffer())]).toEqual([0x1a, 0x45, 0xdf, 0xa3]);
    expect((await get(`/content/${r.body.id}/variant?preset=small`)).status).toBe(415);
  });
});

describe('refusals', () => {
  it('rejects spoofed content types by their bytes (415) and stores nothing', async () => {
    const before = rowCount();
    const html = Buffer.from('<!doctype html><script>alert(document.cookie)</script>'.padEnd(200, ' '));
    expect(
      (await upload(html, { ...alice, 'content-type': 'image/jpeg', 'x-filename': 'x.jpg' })).status,
    ).toBe(415);
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>'.padEnd(100, ' '),
    );
    expect((await upload(svg, { ...alice, 'content-type': 'image/png' })).status).toBe(415);
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(500, 1)]);
    expect((await upload(pdf, { ...alice, 'content-type': 'image/webp' })).status).toBe(415);
    expect((await upload(Buffer.alloc(0))).status).toBe(400);
    expect(rowCount()).toBe(before);
    expect(filesUnder(join(dir, 'content', 'upload-tmp'))).toEqual([]);
  });

  it('rejects oversized uploads with 413 (declared or streamed) and leaves no blob, row or temp file', async () => {
    const before = rowCount();
    const originals = filesUnder(join(dir, 'content', 'blobs')).length;
    const big = Buffer.concat([jpeg, Buffer.alloc(MAX, 7)]);
    const declared = await upload(big);
    expect(declared.status).toBe(413);
    // Chunked upload without Content-Length: the limit trips mid-stream.
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX * 3) return controller.close();
        const chunk = sent === 0 ? jpeg.subarray(0, 64) : Buffer.alloc(16 * 1024, 1);
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const streamed = await upload(stream as unknown as ReadableStream);
    expect(streamed.status).toBe(413);
    expect(streamed.body.code).toBe('TOO_LARGE');
    expect(rowCount()).toBe(before);
    expect(filesUnder(join(dir, 'content', 'blobs')).length).toBe(originals);
    expect(filesUnder(join(dir, 'content', 'upload-tmp'))).toEqual([]);
  });

  it('refuses variants of images over the pixel limit (decompression bombs)', async () => {
    // 2000x2000 of one colour: a few KB on the wire, 4 megapixels (limit here: 1) once decoded.
    const bomb = await sharp({ create: { width: 2000, height: 2000, channels: 3, background: '#fff' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    expect(bomb.length).toBeLessThan(50_000);
    const r = await upload(bomb);
    expect(r.status).toBe(201);
    const v = await get(`/content/${r.body.id}/variant?preset=thumb&format=png`);
    expect(v.status).toBe(422);
    expect(((await v.json()) as UploadBody).code).toBe('TOO_MANY_PIXELS');
  });

  it('cleans up after a client that aborts mid-upload', async () => {
    const before = rowCount();
    const ac = new AbortController();
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent === 0) controller.enqueue(jpeg.subarray(0, 64));
        else controller.enqueue(Buffer.alloc(8 * 1024, 3));
        sent += 1;
        if (sent === 5) setTimeout(() => ac.abort(), 50);
        await new Promise((r) => setTimeout(r, 10));
      },
    });
    await expect(
      fetch(`${svc.url}/content`, {
        method: 'POST',
        headers: alice,
        body: stream,
        duplex: 'half',
        signal: ac.signal,
      } as RequestInit),
    ).rejects.toThrow();
    for (let i = 0; i < 100 && filesUnder(join(dir, 'content', 'upload-tmp')).length > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(filesUnder(join(dir, 'content', 'upload-tmp'))).toEqual([]);
    expect(rowCount()).toBe(before);
  });

  it('rejects traversal and malformed ids with 400', async () => {
    for (const id of [
      '..%2F..%2Fetc%2Fpasswd',
      '..%5C..%5Cwindows',
      'abc',
      '%00',
      'a'.repeat(65),
      `${'0'.repeat(63)}g`,
    ]) {
      const r = await get(`/content/${id}/raw`);
      expect(r.status, id).toBe(400);
      expect((await get(`/content/${id}`)).status).toBe(400);
      expect((await get(`/content/${id}/variant?preset=thumb`)).status).toBe(400);
    }
    const del = await fetch(`${svc.url}/content/..%2Fcontent.db`, { method: 'DELETE', headers: alice });
    expect(del.status).toBe(400);
  });

  it('rejects uploads without identity and malformed identity headers', async () => {
    expect((await upload(jpeg, {})).status).toBe(401);
    expect((await upload(jpeg, { 'x-user-id': '../x', 'x-user-role': 'viewer' })).status).toBe(401);
    expect((await upload(jpeg, { 'x-user-id': 'eve', 'x-user-role': 'superuser' })).status).toBe(401);
  });

  it('lets only the owner or an admin delete', async () => {
    const mine = await upload(
      await sharp({ create: { width: 32, height: 32, channels: 3, background: '#0a0' } })
        .png()
        .toBuffer(),
    );
    const id = mine.body.id as string;
    const del = (h: Record<string, string>) =>
      fetch(`${svc.url}/content/${id}`, { method: 'DELETE', headers: h });
    expect((await del(bob)).status).toBe(403);
    expect((await del({})).status).toBe(401);
    expect((await del(alice)).status).toBe(204);
    expect((await get(`/content/${id}`)).status).toBe(404);
    expect(
      existsSync(join(dir, 'content', 'blobs', 'originals', mine.body.sha256.slice(0, 2), mine.body.sha256)),
    ).toBe(false);
    // An admin may delete anyone's item; the shared original stays while another item uses it.
    const bobsCopy = (await (await get('/content', bob)).json()) as {
      items: { id: string; sha256: string }[];
    };
    const shared = bobsCopy.items.find((i) => i.sha256 === item.sha256)!;
    expect((await fetch(`${svc.url}/content/${shared.id}`, { method: 'DELETE', headers: root })).status).toBe(
      204,
    );
    expect((await get(`/content/${item.id}/raw`)).status).toBe(200);
  });
});

describe('concurrency', () => {
  it('never loses the shared original when a delete races an upload of the same file', async () => {
    const img = await sharp({ create: { width: 48, height: 48, channels: 3, background: '#639' } })
      .jpeg()
      .toBuffer();
    let current = (await upload(img)).body.id as string;
    for (let i = 0; i < 6; i++) {
      const [, next] = await Promise.all([
        fetch(`${svc.url}/content/${current}`, { method: 'DELETE', headers: alice }),
        upload(img),
      ]);
      expect(next.status).toBe(201);
      current = next.body.id as string;
      const raw = await get(`/content/${current}/raw`);
      expect(raw.status).toBe(200);
      expect(Buffer.from(await raw.arrayBuffer()).equals(img)).toBe(true);
    }
  });
});

describe('events', () => {
  it('relays content.uploaded and content.viewed from the outbox to the bus', async () => {
    const bus = await openBus(`embedded://${join(dir, 'bus')}`);
    const seen: BusEvent[] = [];
    const sub = bus.subscribe('content.*', 'test-observer', (e) => {
      seen.push(e);
    });
    try {
      for (
        let i = 0;
        i < 200 && !(seen.some((e) => e.type === 'view') && seen.some((e) => e.type === 'content.uploaded'));
        i++
      )
        await new Promise((r) => setTimeout(r, 25));
      const uploaded = seen.find((e) => e.type === 'content.uploaded' && e.contentId === item.id);
      expect(uploaded).toMatchObject({ ownerId: 'alice', sha256: item.sha256, mime: 'image/jpeg' });
      const view = seen.find((e) => e.type === 'view' && e.contentId === item.id);
      expect(view).toMatchObject({ contentId: item.id, userId: 'anonymous' });
      expect(typeof view!.id).toBe('string');
      expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
    } finally {
      await sub.stop();
      await bus.close();
    }
  });
});
