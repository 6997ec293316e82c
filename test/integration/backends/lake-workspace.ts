/**
 * A throw-away platform directory whose analytics ingest log holds the batches a test gives, and an
 * S3-compatible server: what the lake tests (export, query) start from.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { logMigrations } from '../../../runtime/analytics/src/schema.ts';
import { type Db, openDb } from '../../../runtime/lib/storage/db.ts';
import { workspace } from '../../helpers/cli.ts';
import { type S3Server, startS3 } from '../../helpers/s3.ts';

export const LAKE_PLATFORM_YAML = `apiVersion: platformctl/v1
name: lake
environments:
  local: { cloud: aws, region: eu-west-1, provider: local }
services:
  analytics: { path: "builtin:analytics", port: 18081, routes: [/analytics] }
`;

/** The ingest log's file in a platform directory. */
export const ingestLogUrl = (dir: string) =>
  `sqlite://${join(dir, '.platform', 'data', 'analytics', 'analytics-log.db')}`;

export interface LakeWorkspace {
  dir: string;
  s3: S3Server;
  dispose(): Promise<void>;
}

/** Makes the workspace, migrates its ingest log and lets `seed` fill it, then starts S3. */
export async function lakeWorkspace(seed: (log: Db) => Promise<void>): Promise<LakeWorkspace> {
  const ws = workspace({ 'platform.yaml': LAKE_PLATFORM_YAML });
  mkdirSync(join(ws.dir, '.platform', 'data', 'analytics'), { recursive: true });
  const log = await openDb(ingestLogUrl(ws.dir));
  try {
    await log.migrate(logMigrations);
    await seed(log);
  } finally {
    await log.close();
  }
  const s3 = await startS3();
  return {
    dir: ws.dir,
    s3,
    async dispose() {
      ws.dispose();
      await s3.stop();
    },
  };
}
