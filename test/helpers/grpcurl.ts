/**
 * grpcurl (github.com/fullstorydev/grpcurl), a gRPC client nobody in this project wrote, built from
 * the upstream Go module by `bash test/grpcurl/build.sh` (pinned by test/grpcurl/go.mod + go.sum)
 * into ~/.cache/platformctl-grpcurl/<key>/grpcurl. `.ci/run` builds it; tests only look for it,
 * because a first build takes a minute and more on a busy machine.
 *
 * `PLATFORMCTL_GRPCURL` names a binary to use instead (e.g. one from a package manager).
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const RECIPE_DIR = join(import.meta.dirname, '..', 'grpcurl');
/** The command that builds the binary this helper looks for. */
export const GRPCURL_BUILD_COMMAND = 'bash test/grpcurl/build.sh';

/** Where build.sh puts the binary: the same key it computes (sha256 of build.sh, go.mod, go.sum). */
export function grpcurlCachePath(): string {
  const hash = createHash('sha256');
  for (const file of ['build.sh', 'go.mod', 'go.sum']) hash.update(readFileSync(join(RECIPE_DIR, file)));
  const root =
    process.env.PLATFORMCTL_GRPCURL_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'platformctl-grpcurl');
  return join(root, hash.digest('hex').slice(0, 16), 'grpcurl');
}

/** The grpcurl binary to run, or undefined when neither PLATFORMCTL_GRPCURL nor the cache has one. */
export function grpcurlPath(): string | undefined {
  const fromEnv = process.env.PLATFORMCTL_GRPCURL;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  const cached = grpcurlCachePath();
  return existsSync(cached) ? cached : undefined;
}

/**
 * Why grpcurl tests cannot run here (undefined: they can), naming the missing binary and the
 * command that builds it. In CI with Go installed a missing binary is an error: `.ci/run` builds it
 * whenever Go is there, so its absence means that step broke.
 */
export function grpcurlSkipReason(): string | undefined {
  if (grpcurlPath()) return undefined;
  const missing = process.env.PLATFORMCTL_GRPCURL
    ? `PLATFORMCTL_GRPCURL=${process.env.PLATFORMCTL_GRPCURL} does not exist`
    : `grpcurl is not built (${grpcurlCachePath()} is missing)`;
  const reason = `${missing}; build it with \`${GRPCURL_BUILD_COMMAND}\` (needs Go) or point PLATFORMCTL_GRPCURL at a grpcurl binary`;
  if (process.env.CI && spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0)
    throw new Error(reason);
  return reason;
}

export interface GrpcurlResult {
  /** grpcurl's exit status: 0 ok, 64 + the gRPC status code of a failed call (80 = 16 UNAUTHENTICATED). */
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs grpcurl with `args` without blocking the event loop (the server under test may live in
 * the test's own process). Throws only when the binary is missing or is killed by the timeout.
 */
export function grpcurl(
  args: string[],
  opts: { timeoutMs?: number; input?: string } = {},
): Promise<GrpcurlResult> {
  const bin = grpcurlPath();
  if (!bin) throw new Error(grpcurlSkipReason() ?? 'grpcurl missing');
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error && (error.killed || typeof error.code !== 'number')) {
          reject(new Error(`grpcurl ${args.join(' ')} failed: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ exitCode: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
    child.stdin?.end(opts.input ?? '');
  });
}
