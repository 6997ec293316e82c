import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { assertBlobKey, InvalidBlobKeyError, openBlobs } from '../storage/blobs.ts';
import type { FileBlobs } from '../storage/file-blobs.ts';

let dir: string;
let blobs: FileBlobs;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lib-blobs-'));
  blobs = (await openBlobs(`file://${join(dir, 'store')}`)) as FileBlobs;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('file blobs', () => {
  it('puts from a stream, reads whole and by range, stats, lists and deletes', async () => {
    const stat = await blobs.put(
      'a/b/hello.txt',
      Readable.from([Buffer.from('hello '), Buffer.from('world')]),
    );
    expect(stat.size).toBe(11);
    const all = await blobs.get('a/b/hello.txt');
    expect(await text(all!.stream)).toBe('hello world');
    const part = await blobs.get('a/b/hello.txt', { start: 6 });
    expect(await text(part!.stream)).toBe('world');
    expect([part!.start, part!.end]).toEqual([6, 10]);
    const mid = await blobs.get('a/b/hello.txt', { start: 1, end: 3 });
    expect(await text(mid!.stream)).toBe('ell');
    await expect(blobs.get('a/b/hello.txt', { start: 20 })).rejects.toThrow(RangeError);
    await blobs.put('a/c.txt', 'x');
    await blobs.put('z.txt', new Uint8Array([1, 2]));
    expect((await blobs.list('a/')).map((s) => s.key)).toEqual(['a/b/hello.txt', 'a/c.txt']);
    expect((await blobs.list()).map((s) => s.key)).toEqual(['a/b/hello.txt', 'a/c.txt', 'z.txt']);
    expect(await blobs.delete('a/c.txt')).toBe(true);
    expect(await blobs.delete('a/c.txt')).toBe(false);
    expect(await blobs.stat('a/c.txt')).toBeUndefined();
    expect(await blobs.get('missing')).toBeUndefined();
  });

  it('never exposes a partial blob: a failing stream leaves the old content and no temp file', async () => {
    await blobs.put('doc', 'version 1');
    async function* failing() {
      yield Buffer.from('partial');
      throw new Error('client went away');
    }
    await expect(blobs.put('doc', failing())).rejects.toThrow('client went away');
    expect(await text((await blobs.get('doc'))!.stream)).toBe('version 1');
    expect(readdirSync(join(blobs.root, '.tmp'))).toEqual([]);
  });

  it('moves a file into place', async () => {
    const tmp = blobs.tempPath();
    writeFileSync(tmp, 'moved');
    await blobs.putFile('m/file', tmp, { move: true });
    expect(await text((await blobs.get('m/file'))!.stream)).toBe('moved');
    expect(readdirSync(join(blobs.root, '.tmp'))).toEqual([]);
  });

  it.each([
    '../escape',
    'a/../../escape',
    '/etc/passwd',
    'a//b',
    '.tmp/x',
    'a/./b',
    'a\\b',
    '',
    'a\u0000b',
    '..',
    `${'x'.repeat(600)}`,
  ])('rejects the key %j', async (key) => {
    expect(() => assertBlobKey(key)).toThrow(InvalidBlobKeyError);
    await expect(blobs.put(key, 'x')).rejects.toThrow(InvalidBlobKeyError);
    await expect(blobs.get(key)).rejects.toThrow(InvalidBlobKeyError);
  });
});
