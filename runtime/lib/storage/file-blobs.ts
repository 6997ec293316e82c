/**
 * Filesystem blob store. Writes go to `<root>/.tmp/<random>`, are fsynced, then renamed over the
 * final path (atomic on POSIX) and the directory is fsynced, so a crash leaves either the old blob
 * or the new one. Keys map to paths below `<root>`; `assertBlobKey` rejects traversal first and a
 * second check verifies the resolved path stays inside the root.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  assertBlobKey,
  type BlobRead,
  type BlobSource,
  type BlobStat,
  type Blobs,
  type ByteRange,
  InvalidBlobKeyError,
  resolveRange,
} from './blobs.ts';

/** Opens a blob store rooted at `root` (created if missing). */
export async function openFileBlobs(root: string): Promise<FileBlobs> {
  const abs = resolve(root);
  await mkdir(join(abs, '.tmp'), { recursive: true });
  return new FileBlobs(abs);
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class FileBlobs implements Blobs {
  readonly root: string;
  private readonly tmpDir: string;

  constructor(root: string) {
    this.root = root;
    this.tmpDir = join(root, '.tmp');
  }

  /** Absolute path of a key; throws on anything that would leave the root. */
  pathOf(key: string): string {
    assertBlobKey(key);
    const path = resolve(this.root, key);
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..') || rel.split(sep).includes('..'))
      throw new InvalidBlobKeyError(key);
    return path;
  }

  /** A fresh temp path inside the store (same filesystem, so `putFile(…, {move: true})` renames). */
  tempPath(): string {
    return join(this.tmpDir, randomUUID());
  }

  async put(key: string, source: BlobSource): Promise<BlobStat> {
    const target = this.pathOf(key);
    const tmp = this.tempPath();
    try {
      const input =
        typeof source === 'string' || source instanceof Uint8Array
          ? Readable.from([typeof source === 'string' ? Buffer.from(source) : source])
          : source;
      await pipeline(input, createWriteStream(tmp, { flags: 'wx' }));
      await this.commit(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return (await this.stat(key))!;
  }

  async putFile(key: string, path: string, options: { move?: boolean } = {}): Promise<BlobStat> {
    const target = this.pathOf(key);
    if (options.move) {
      try {
        await fsyncPath(path);
        await mkdir(dirname(target), { recursive: true });
        await rename(path, target);
        await fsyncPath(dirname(target));
        return (await this.stat(key))!;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      }
    }
    const tmp = this.tempPath();
    try {
      await copyFile(path, tmp);
      await this.commit(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    if (options.move) await unlink(path);
    return (await this.stat(key))!;
  }

  private async commit(tmp: string, target: string): Promise<void> {
    await fsyncPath(tmp);
    await mkdir(dirname(target), { recursive: true });
    await rename(tmp, target);
    await fsyncPath(dirname(target));
  }

  async get(key: string, range?: ByteRange): Promise<BlobRead | undefined> {
    const found = await this.stat(key);
    if (!found) return undefined;
    const { start, end } = resolveRange(found.size, range);
    const stream =
      found.size === 0
        ? Readable.from([])
        : createReadStream(this.pathOf(key), { start, end: Math.max(end, 0) });
    return { stat: found, stream, start, end: Math.max(end, start - 1) };
  }

  async stat(key: string): Promise<BlobStat | undefined> {
    try {
      const s = await stat(this.pathOf(key));
      if (!s.isFile()) return undefined;
      return { key, size: s.size, mtimeMs: s.mtimeMs };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      await unlink(this.pathOf(key));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async list(prefix = ''): Promise<BlobStat[]> {
    const out: BlobStat[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const full = join(dir, entry.name);
        const key = relative(this.root, full).split(sep).join('/');
        if (entry.isDirectory()) {
          if (prefix.startsWith(key + '/') || (key + '/').startsWith(prefix) || prefix === '')
            await walk(full);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          const s = await stat(full);
          out.push({ key, size: s.size, mtimeMs: s.mtimeMs });
        }
      }
    };
    await walk(this.root);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async ping(): Promise<void> {
    await stat(this.tmpDir);
  }
}
