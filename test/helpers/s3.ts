/**
 * An S3-compatible server for tests: s3rver (a real implementation of the S3 REST API on the file
 * system: SigV4-signed requests, multipart uploads, ranged GETs, ListObjectsV2), on 127.0.0.1 with
 * an ephemeral port and a temp directory. Credentials are s3rver's fixed `S3RVER`/`S3RVER` pair.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface S3Server {
  endpoint: string;
  /** Environment for the SDK (credentials and region). */
  env: Record<string, string>;
  /** `s3://<bucket>?endpoint=…&forcePathStyle=true&create_bucket=true`. */
  url(bucket: string, prefix?: string): string;
  stop(): Promise<void>;
}

export async function startS3(): Promise<S3Server> {
  const dir = mkdtempSync(join(tmpdir(), 's3test-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
  const { address, port } = (await server.run()) as { address: string; port: number };
  const endpoint = `http://${address}:${port}`;
  const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
  return {
    endpoint,
    env,
    url: (bucket, prefix) =>
      `s3://${bucket}${prefix ? `/${prefix}` : ''}?endpoint=${encodeURIComponent(endpoint)}&forcePathStyle=true&create_bucket=true&part_size_mb=5`,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
