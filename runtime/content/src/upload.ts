/**
 * Receives an upload stream into a temp file while counting, hashing (sha256) and sniffing the
 * type from the first bytes. It fails fast: an unsupported type is rejected as soon as the first
 * 64 bytes have arrived, an oversized body as soon as the limit is crossed; in both cases the temp
 * file is removed and the caller answers without reading the rest.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { HttpError } from '../../lib/http-errors.ts';
import { type DetectedType, detectType, SNIFF_BYTES } from './magic.ts';

export class UploadError extends HttpError {}

export interface ReceivedUpload {
  path: string;
  size: number;
  sha256: string;
  type: DetectedType;
}

export async function receiveUpload(
  source: Readable,
  tmpPath: string,
  maxBytes: number,
): Promise<ReceivedUpload> {
  const hash = createHash('sha256');
  const out = createWriteStream(tmpPath, { flags: 'wx' });
  let size = 0;
  let head: Buffer = Buffer.alloc(0);
  let type: DetectedType | undefined;
  const outDone = new Promise<void>((resolve, reject) => {
    out.once('close', resolve);
    out.once('error', reject);
  });
  try {
    // destroyOnReturn: false keeps the request socket alive when we stop reading early, so the
    // client still receives the 413/415 answer instead of a connection reset.
    for await (const chunk of source.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes)
        throw new UploadError(413, 'TOO_LARGE', `upload exceeds the limit of ${maxBytes} bytes`);
      hash.update(chunk);
      if (!type) {
        head = Buffer.concat([head, chunk.subarray(0, SNIFF_BYTES - head.length)]);
        if (head.length >= SNIFF_BYTES) {
          type = detectType(head);
          if (!type) throw unsupported();
        }
      }
      if (!out.write(chunk)) await once(out, 'drain');
    }
    if (size === 0) throw new UploadError(400, 'EMPTY', 'the upload is empty');
    type ??= detectType(head);
    if (!type) throw unsupported();
    out.end();
    await outDone;
    return { path: tmpPath, size, sha256: hash.digest('hex'), type };
  } catch (err) {
    out.destroy();
    await outDone.catch(() => undefined);
    await rm(tmpPath, { force: true });
    // The client went away mid-upload: its fault, not a server error (and nothing is kept).
    if (
      !(err instanceof HttpError) &&
      (source.destroyed || (err as NodeJS.ErrnoException).code === 'ECONNRESET')
    )
      throw new UploadError(400, 'ABORTED', 'the upload was aborted by the client');
    throw err;
  }
}

function unsupported(): UploadError {
  return new UploadError(
    415,
    'UNSUPPORTED_TYPE',
    'unsupported media type (by its content): send jpeg, png, gif, webp, avif, heic, mp4 or webm',
  );
}
