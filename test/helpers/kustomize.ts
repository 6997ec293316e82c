/**
 * The real kustomize (sigs.k8s.io/kustomize, the Go module upstream ships), built once into
 * ~/.cache/platformctl-kustomize/<version> with the Go toolchain; `kubectl kustomize` (which embeds
 * the same code) when Go is missing. `undefined` when neither can be had, so tests can say why
 * they skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const KUSTOMIZE_VERSION = 'v5.5.0';
const BIN_DIR = join(homedir(), '.cache', 'platformctl-kustomize', KUSTOMIZE_VERSION);

export interface Kustomize {
  /** What builds: the cached binary or kubectl. */
  describe: string;
  build(dir: string): string;
}

function fromBinary(bin: string): Kustomize {
  return {
    describe: `${bin} ${KUSTOMIZE_VERSION}`,
    build: (dir) => execFileSync(bin, ['build', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }),
  };
}

/** Finds or builds kustomize (a first build takes a few minutes; later runs reuse the binary). */
export function kustomize(): Kustomize | undefined {
  const bin = join(BIN_DIR, 'kustomize');
  if (existsSync(bin)) return fromBinary(bin);
  if (spawnSync('go', ['version']).status === 0) {
    execFileSync('go', ['install', `sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}`], {
      env: { ...process.env, GOBIN: BIN_DIR, GOFLAGS: '-mod=mod' },
      stdio: 'ignore',
      timeout: 15 * 60_000,
    });
    if (existsSync(bin)) return fromBinary(bin);
  }
  if (spawnSync('kubectl', ['version', '--client=true']).status === 0) {
    return {
      describe: 'kubectl kustomize',
      build: (dir) =>
        execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }),
    };
  }
  return undefined;
}
