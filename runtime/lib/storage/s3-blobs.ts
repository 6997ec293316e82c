/**
 * S3 (and S3-compatible: MinIO, Ceph RGW, R2…) adapter for `Blobs`.
 *
 * URL: `s3://bucket[/key-prefix]?endpoint=http://127.0.0.1:9000&forcePathStyle=true&region=us-east-1&create_bucket=true`
 * (`endpoint` falls back to `S3_ENDPOINT`, `region` to `AWS_REGION`, then `us-east-1`).
 * Credentials come from the SDK's standard chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
 * profiles, instance roles) — never from the URL.
 *
 * Atomicity: S3 makes an object visible only when its PUT (or multipart completion) succeeds, so
 * readers never see a partial blob. Streams of unknown length go through `@aws-sdk/lib-storage`
 * `Upload`: one PUT when small, a multipart upload (parts of `part_size_mb`, default 8 MiB, sent
 * 4 at a time) when large, aborted on failure so no parts linger.
 */
import { createReadStream } from 'node:fs';
import { stat as statFile, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { dependencyUnavailable } from '../http-errors.ts';
import {
  assertBlobKey,
  type BlobRead,
  type BlobSource,
  type BlobStat,
  type Blobs,
  type ByteRange,
  resolveRange,
} from './blobs.ts';

export interface S3BlobsOptions {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  createBucket: boolean;
  partSize: number;
}

export function parseS3Url(url: string, env: NodeJS.ProcessEnv = process.env): S3BlobsOptions {
  const u = new URL(url);
  if (!u.hostname) throw new Error('BLOBS_URL must name a bucket: s3://<bucket>[/prefix]?endpoint=…');
  const q = u.searchParams;
  const flag = (name: string) => ['1', 'true', 'yes'].includes((q.get(name) ?? '').toLowerCase());
  const endpoint = q.get('endpoint') ?? env.S3_ENDPOINT ?? undefined;
  const partMb = Number(q.get('part_size_mb') ?? 8);
  if (!Number.isFinite(partMb) || partMb < 5)
    throw new Error('BLOBS_URL part_size_mb must be at least 5 (S3 minimum)');
  const prefix = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, ''));
  return {
    bucket: u.hostname,
    prefix: prefix ? `${prefix}/` : '',
    endpoint,
    region: q.get('region') ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    // Path-style addressing is what local S3-compatible servers expect.
    forcePathStyle: q.has('forcePathStyle') ? flag('forcePathStyle') : endpoint !== undefined,
    createBucket: flag('create_bucket'),
    partSize: Math.floor(partMb * 1024 * 1024),
  };
}

const NETWORK = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|EPIPE|socket hang up/;

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

function mapError(err: unknown): unknown {
  const e = err as { code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  if (NETWORK.test(`${e?.code ?? ''} ${e?.message ?? ''}`) || (status !== undefined && status >= 500)) {
    return dependencyUnavailable(
      'BLOBS_UNAVAILABLE',
      'blobs',
      'the blob store is unavailable; retry shortly',
      err,
    );
  }
  return err;
}

function toStream(source: BlobSource): Readable | Uint8Array {
  if (typeof source === 'string') return Buffer.from(source);
  if (source instanceof Uint8Array) return source;
  if (source instanceof Readable) return source;
  return Readable.from(source);
}

export class S3Blobs implements Blobs {
  readonly client: S3Client;
  readonly options: S3BlobsOptions;

  constructor(options: S3BlobsOptions, client?: S3Client) {
    this.options = options;
    this.client =
      client ??
      new S3Client({
        region: options.region,
        endpoint: options.endpoint,
        forcePathStyle: options.forcePathStyle,
        maxAttempts: 3,
        // S3-compatible servers do not all understand the SDK's default aws-chunked uploads with
        // trailing checksums (some store the chunk framing as data): against a custom endpoint,
        // checksums are sent and checked only where the operation requires them.
        ...(options.endpoint
          ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
          : {}),
      });
  }

  private objectKey(key: string): string {
    return this.options.prefix + assertBlobKey(key);
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapError(err);
    }
  }

  async put(key: string, source: BlobSource): Promise<BlobStat> {
    const Key = this.objectKey(key);
    const body = toStream(source);
    if (body instanceof Uint8Array && body.byteLength < this.options.partSize) {
      await this.call(() =>
        this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key, Body: body })),
      );
    } else {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.options.bucket, Key, Body: body },
        partSize: this.options.partSize,
        queueSize: 4,
        // A failed multipart upload is aborted, so no orphan parts are billed or kept.
        leavePartsOnError: false,
      });
      await this.call(() => upload.done());
    }
    const stat = await this.stat(key);
    if (!stat) throw new Error(`blob ${key} vanished right after it was stored`);
    return stat;
  }

  async putFile(key: string, path: string, options: { move?: boolean } = {}): Promise<BlobStat> {
    const size = (await statFile(path)).size;
    const result =
      size < this.options.partSize
        ? await (async () => {
            const Key = this.objectKey(key);
            await this.call(() =>
              this.client.send(
                new PutObjectCommand({
                  Bucket: this.options.bucket,
                  Key,
                  Body: createReadStream(path),
                  ContentLength: size,
                }),
              ),
            );
            return (await this.stat(key)) as BlobStat;
          })()
        : await this.put(key, createReadStream(path));
    if (options.move) await unlink(path);
    return result;
  }

  async get(key: string, range?: ByteRange): Promise<BlobRead | undefined> {
    const found = await this.stat(key);
    if (!found) return undefined;
    const { start, end } = resolveRange(found.size, range);
    if (found.size === 0) return { stat: found, stream: Readable.from([]), start: 0, end: -1 };
    const out = await this.call(() =>
      this.client.send(
        new GetObjectCommand({
          Bucket: this.options.bucket,
          Key: this.objectKey(key),
          Range: range ? `bytes=${start}-${end}` : undefined,
        }),
      ),
    ).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!out?.Body) return undefined;
    return { stat: found, stream: out.Body as Readable, start, end };
  }

  async stat(key: string): Promise<BlobStat | undefined> {
    const Key = this.objectKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key }));
      return { key, size: Number(head.ContentLength ?? 0), mtimeMs: head.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw mapError(err);
    }
  }

  async delete(key: string): Promise<boolean> {
    // DeleteObject succeeds for missing keys too; the contract reports whether something was there.
    if (!(await this.stat(key))) return false;
    await this.call(() =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) })),
    );
    return true;
  }

  async list(prefix = ''): Promise<BlobStat[]> {
    const out: BlobStat[] = [];
    let token: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const res = await this.call(() =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.options.bucket,
            Prefix: this.options.prefix + prefix,
            ContinuationToken: token,
          }),
        ),
      );
      for (const o of res.Contents ?? []) {
        if (!o.Key) continue;
        out.push({
          key: o.Key.slice(this.options.prefix.length),
          size: Number(o.Size ?? 0),
          mtimeMs: o.LastModified?.getTime() ?? 0,
        });
      }
      if (!res.IsTruncated || !res.NextContinuationToken) break;
      token = res.NextContinuationToken;
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async ping(): Promise<void> {
    await this.call(() => this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket })));
  }

  /** Checks the bucket (creating it when `create_bucket=true`). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
    } catch (err) {
      if (!isNotFound(err)) throw mapError(err);
      if (!this.options.createBucket) {
        throw new Error(
          `S3 bucket "${this.options.bucket}" does not exist; create it or add create_bucket=true to BLOBS_URL`,
        );
      }
      await this.call(() => this.client.send(new CreateBucketCommand({ Bucket: this.options.bucket })));
    }
  }
}

export async function openS3Blobs(url: string): Promise<S3Blobs> {
  const blobs = new S3Blobs(parseS3Url(url));
  await blobs.ensureBucket();
  return blobs;
}
