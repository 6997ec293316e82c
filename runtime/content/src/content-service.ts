/**
 * The content domain: store uploads content-addressed, keep their metadata, serve originals and
 * image variants, and announce changes through the outbox. HTTP-free; routes map `ContentError`s
 * and results to responses.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { HttpError } from '../../lib/http-errors.ts';
import { currentRequest } from '../../lib/request-context.ts';
import { type Blobs, InvalidBlobKeyError } from '../../lib/storage/blobs.ts';
import type { Db } from '../../lib/storage/db.ts';
import { enqueueOutbox } from '../../lib/storage/outbox.ts';
import { cleanFilename, originalKey } from './ids.ts';
import { ItemCache } from './item-cache.ts';
import { QueueFullError, TransformQueue } from './transform-queue.ts';
import { receiveUpload } from './upload.ts';
import { FORMAT_MIME, type VariantParams, variantName } from './variant-params.ts';
import { ViewOutbox, type ViewOutboxOptions } from './view-outbox.ts';

/** A domain refusal with its HTTP status; the service kit renders it as a problem (problem.ts). */
export class ContentError extends HttpError {}

export interface Identity {
  userId: string;
  role: string;
}

export interface ContentItem {
  id: string;
  ownerId: string;
  sha256: string;
  type: string;
  kind: 'image' | 'video';
  size: number;
  filename: string | null;
  width: number | null;
  height: number | null;
  createdAt: string;
}

interface Row {
  id: string;
  owner_id: string;
  sha256: string;
  mime: string;
  kind: 'image' | 'video';
  size: number;
  filename: string | null;
  width: number | null;
  height: number | null;
  created_at: number;
}

function toItem(r: Row): ContentItem {
  return {
    id: r.id,
    ownerId: r.owner_id,
    sha256: r.sha256,
    type: r.mime,
    kind: r.kind,
    size: Number(r.size),
    filename: r.filename,
    width: r.width,
    height: r.height,
    createdAt: new Date(Number(r.created_at)).toISOString(),
  };
}

export interface ContentSettings {
  dataDir: string;
  maxUploadBytes: number;
  /** sharp `limitInputPixels`: images with more pixels are refused (decompression bombs). */
  maxInputPixels: number;
  /** Store generated variants as blobs and serve them from there next time. */
  cacheVariants: boolean;
  /** A render taking longer is abandoned (libvips stops) and answered as busy (default 6 s). */
  transformTimeoutS?: number;
}

export interface Variant {
  body: Buffer | Readable;
  size: number;
  mime: string;
  /** Strong validator: the original's digest plus the canonical variant parameters. */
  etag: string;
  cached: boolean;
}

/**
 * libaom's effort for AVIF variants. sharp's default (4) took 122 s for one noisy 1800×1800
 * variant on a busy 2-core machine, 2 took 4 s and 0 took 0.8 s (WebP: 1 s): at the default a
 * handful of AVIF requests occupy every transform slot for minutes.
 */
const AVIF_EFFORT = 2;

type SharpModule = Awaited<typeof import('sharp')>['default'];

export class ContentService {
  readonly #db: Db;
  readonly #blobs: Blobs;
  readonly #settings: ContentSettings;
  readonly #nudge: () => void;
  readonly #tmpDir: string;
  readonly #inflight = new Map<string, Promise<Buffer>>();
  readonly #digestLocks = new Map<string, Promise<void>>();
  readonly #views: ViewOutbox;
  readonly #items = new ItemCache();
  #sharp: SharpModule | undefined;
  readonly #configureSharp: (sharp: SharpModule) => void;
  readonly #transforms: TransformQueue;

  constructor(deps: {
    db: Db;
    blobs: Blobs;
    settings: ContentSettings;
    /** Bounds the transforms running and waiting (default: 2 running, 8 waiting). */
    transforms?: TransformQueue;
    nudgeOutbox?: () => void;
    views?: ViewOutboxOptions;
    /** Applied to sharp when it is first loaded (by the first upload or variant, not at start). */
    configureSharp?: (sharp: SharpModule) => void;
  }) {
    this.#configureSharp = deps.configureSharp ?? (() => {});
    this.#views = new ViewOutbox(deps.db, deps.views);
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#settings = deps.settings;
    this.#transforms = deps.transforms ?? new TransformQueue({ concurrency: 2, maxQueued: 8 });
    this.#nudge = deps.nudgeOutbox ?? (() => {});
    this.#tmpDir = join(deps.settings.dataDir, 'upload-tmp');
  }

  async init(): Promise<void> {
    // Leftovers of uploads interrupted by a crash are never referenced: start clean.
    await rm(this.#tmpDir, { recursive: true, force: true });
    await mkdir(this.#tmpDir, { recursive: true });
  }

  /**
   * sharp (libvips, ~60 ms of CPU to load) is loaded on first use, so a (re)start that serves
   * metadata and cached variants does not pay for it before `/readyz`.
   */
  async #loadSharp(): Promise<SharpModule> {
    if (!this.#sharp) {
      const sharp = (await import('sharp')).default;
      this.#configureSharp(sharp);
      this.#sharp = sharp;
    }
    return this.#sharp;
  }

  async upload(source: Readable, who: Identity, filenameHeader: unknown): Promise<ContentItem> {
    const tmp = join(this.#tmpDir, randomUUID());
    const received = await receiveUpload(source, tmp, this.#settings.maxUploadBytes);
    try {
      let width: number | null = null;
      let height: number | null = null;
      if (received.type.kind === 'image') {
        try {
          const sharp = await this.#loadSharp();
          const meta = await sharp(received.path, {
            limitInputPixels: this.#settings.maxInputPixels,
          }).metadata();
          width = meta.autoOrient?.width ?? meta.width ?? null;
          height = meta.autoOrient?.height ?? meta.height ?? null;
        } catch {
          // Undecodable or over the pixel limit: kept as an original (served raw), but variants will refuse it.
        }
      }
      const key = originalKey(received.sha256);
      const row: Row = {
        id: randomUUID(),
        owner_id: who.userId,
        sha256: received.sha256,
        mime: received.type.mime,
        kind: received.type.kind,
        size: received.size,
        filename: cleanFilename(filenameHeader) ?? null,
        width,
        height,
        created_at: Date.now(),
      };
      await this.#withDigestLock(row.sha256, async () => {
        // Content addressing: an identical file is stored once, whoever uploads it.
        const created = !(await this.#blobs.stat(key));
        if (created) await this.#blobs.putFile(key, tmp);
        try {
          await this.#db.transaction(async (tx) => {
            await tx.run(
              `INSERT INTO content_items (id, owner_id, sha256, mime, kind, size, filename, width, height, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
              [
                row.id,
                row.owner_id,
                row.sha256,
                row.mime,
                row.kind,
                row.size,
                row.filename,
                row.width,
                row.height,
                row.created_at,
              ],
            );
            await enqueueOutbox(tx, 'content.uploaded', {
              type: 'content.uploaded',
              contentId: row.id,
              ownerId: row.owner_id,
              userId: row.owner_id,
              sha256: row.sha256,
              mime: row.mime,
              kind: row.kind,
              size: row.size,
              ts: row.created_at,
            });
          });
        } catch (err) {
          // The row did not commit (e.g. the database connection died: 503), so nothing refers to a
          // blob this upload created; remove it rather than leave an orphan. Same-digest uploads in
          // this process wait on the digest lock, so none can have started referring to it.
          if (created) await this.#blobs.delete(key).catch(() => {});
          throw err;
        }
      });
      this.#nudge();
      return toItem(row);
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async get(id: string): Promise<ContentItem | undefined> {
    return this.#remembered(
      () => this.#db.get<Row>(`SELECT * FROM content_items WHERE id = ?`, [id]),
      () => this.#items.byId(id),
    );
  }

  async getBySha(sha256: string): Promise<ContentItem | undefined> {
    return this.#remembered(
      () =>
        this.#db.get<Row>(`SELECT * FROM content_items WHERE sha256 = ? ORDER BY created_at LIMIT 1`, [
          sha256,
        ]),
      () => this.#items.bySha(sha256),
    );
  }

  /** Reads an item from the database; while the database is down, the copy last read (if any). */
  async #remembered(
    read: () => Promise<Row | undefined>,
    cached: () => ContentItem | undefined,
  ): Promise<ContentItem | undefined> {
    let row: Row | undefined;
    try {
      row = await read();
    } catch (err) {
      const stale = err instanceof HttpError && err.dependency === 'database' ? cached() : undefined;
      if (stale) return stale;
      throw err;
    }
    if (!row) return undefined;
    const item = toItem(row);
    this.#items.remember(item);
    return item;
  }

  async list(
    ownerId: string,
    limit: number,
    before?: { createdAt: number; id: string },
  ): Promise<ContentItem[]> {
    const rows = before
      ? await this.#db.query<Row>(
          `SELECT * FROM content_items WHERE owner_id = ? AND (created_at < ? OR (created_at = ? AND id < ?))
           ORDER BY created_at DESC, id DESC LIMIT ?`,
          [ownerId, before.createdAt, before.createdAt, before.id, limit],
        )
      : await this.#db.query<Row>(
          `SELECT * FROM content_items WHERE owner_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`,
          [ownerId, limit],
        );
    return rows.map(toItem);
  }

  /** Deletes the item; the blob (and its variants) go when no other item references the digest. */
  async delete(id: string, who: Identity): Promise<void> {
    const item = await this.get(id);
    if (!item) throw new ContentError(404, 'NOT_FOUND', 'no such content');
    if (item.ownerId !== who.userId && who.role !== 'admin')
      throw new ContentError(403, 'FORBIDDEN', 'only the owner or an admin may delete this content');
    await this.#withDigestLock(item.sha256, async () => {
      this.#items.forget(id);
      const lastCopy = await this.#db.transaction(async (tx) => {
        await tx.run(`DELETE FROM content_items WHERE id = ?`, [id]);
        await enqueueOutbox(tx, 'content.deleted', {
          type: 'content.deleted',
          contentId: id,
          userId: who.userId,
          ts: Date.now(),
        });
        return !(await tx.get(`SELECT id FROM content_items WHERE sha256 = ? LIMIT 1`, [item.sha256]));
      });
      this.#nudge();
      if (lastCopy) {
        await this.#blobs.delete(originalKey(item.sha256));
        for (const v of await this.#blobs.list(this.#variantPrefix(item.sha256)))
          await this.#blobs.delete(v.key);
      }
    });
  }

  /**
   * Serialises uploads and deletions of the same digest in this process. Without it a delete of
   * the last item could decide "no other copy", an upload of the same file could then find the blob
   * still present and skip storing it, and the delete would remove the blob under the new item.
   * (Replicas sharing one blob store would need the same guard in the database; see the README.)
   */
  async #withDigestLock<T>(sha256: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#digestLocks.get(sha256) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.#digestLocks.set(sha256, tail);
    try {
      return await run;
    } finally {
      if (this.#digestLocks.get(sha256) === tail) this.#digestLocks.delete(sha256);
    }
  }

  /** Publishes `content.viewed` through the outbox (buffered, retried until stored; see view-outbox.ts). */
  recordView(contentId: string, userId: string | undefined): void {
    // The viewing request's trace travels with the event (the flush runs later, outside it).
    this.#views.record({
      type: 'view',
      contentId,
      userId: userId ?? 'anonymous',
      ts: Date.now(),
      traceparent: currentRequest()?.traceparent,
    });
  }

  /** Stores buffered views now (tests, shutdown). */
  flushViews(): Promise<void> {
    return this.#views.flush();
  }

  /** Last attempt to store buffered views before the process exits. */
  closeViews(): Promise<void> {
    return this.#views.close();
  }

  openOriginal(item: ContentItem, range?: { start: number; end: number }) {
    return this.#blobs.get(originalKey(item.sha256), range);
  }

  #variantPrefix(sha256: string): string {
    return `variants/${sha256.slice(0, 2)}/${sha256}/`;
  }

  /**
   * The variant, from the cache or rendered through the transform queue (QueueFullError when it
   * is full; `signal` drops a waiting render whose client went away).
   */
  async variant(item: ContentItem, params: VariantParams, signal?: AbortSignal): Promise<Variant> {
    if (item.kind !== 'image') throw new ContentError(415, 'NOT_AN_IMAGE', 'variants exist for images only');
    const name = variantName(params);
    const key = this.#variantPrefix(item.sha256) + name;
    const etag = `"${item.sha256.slice(0, 32)}-${name}"`;
    const mime = FORMAT_MIME[params.format];
    if (this.#settings.cacheVariants) {
      const hit = await this.#blobs.get(key).catch((err: unknown) => {
        if (err instanceof InvalidBlobKeyError) throw err;
        return undefined;
      });
      if (hit) return { body: hit.stream, size: hit.stat.size, mime, etag, cached: true };
    }
    // Single flight: concurrent requests for the same missing variant share one resize.
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#transforms
        .run(() => this.#render(item, params, key), signal)
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    const body = await pending;
    return { body, size: body.length, mime, etag, cached: false };
  }

  async #render(item: ContentItem, params: VariantParams, key: string): Promise<Buffer> {
    const sharp = await this.#loadSharp();
    // With a local file store, libvips reads the file itself: no copy through JS buffers (about
    // 10% less CPU per variant). Other stores (S3) hand over the bytes.
    const input = this.#localPath(originalKey(item.sha256)) ?? (await this.#readOriginal(item));
    let out: Buffer;
    try {
      const pipeline = sharp(input, { limitInputPixels: this.#settings.maxInputPixels }).autoOrient().resize({
        width: params.width,
        height: params.height,
        fit: params.fit,
        withoutEnlargement: true,
      });
      out = await pipeline
        .timeout({ seconds: this.#settings.transformTimeoutS ?? 6 })
        .toFormat(
          params.format,
          params.format === 'png'
            ? { compressionLevel: 6 }
            : params.format === 'avif'
              ? { quality: params.quality, effort: AVIF_EFFORT }
              : { quality: params.quality },
        )
        .toBuffer();
    } catch (err) {
      const msg = String((err as Error).message ?? err);
      if (/timeout/i.test(msg)) throw new QueueFullError(2);
      if (/pixel limit/i.test(msg))
        throw new ContentError(422, 'TOO_MANY_PIXELS', 'the image has too many pixels to make variants of');
      if (/no such file|ENOENT/i.test(msg))
        throw new ContentError(404, 'BLOB_MISSING', 'the stored file is missing');
      throw new ContentError(422, 'UNDECODABLE', 'the image cannot be decoded');
    }
    if (this.#settings.cacheVariants) await this.#blobs.put(key, out);
    return out;
  }

  /** The file path of a blob when the store is the local file system (`FileBlobs.pathOf`). */
  #localPath(key: string): string | undefined {
    const store = this.#blobs as Blobs & { pathOf?: (key: string) => string };
    return typeof store.pathOf === 'function' ? store.pathOf(key) : undefined;
  }

  async #readOriginal(item: ContentItem): Promise<Buffer> {
    const read = await this.#blobs.get(originalKey(item.sha256));
    if (!read) throw new ContentError(404, 'BLOB_MISSING', 'the stored file is missing');
    const chunks: Buffer[] = [];
    for await (const c of read.stream) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
}
