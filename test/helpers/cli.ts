/**
 * Runs bin/platformctl as a subprocess in a throw-away workspace, exactly as a user or CI job would.
 * CI variables are removed unless a test sets them, so each test states the environment it is about.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(REPO_ROOT, 'bin', 'platformctl');

export interface CliResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface CliOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

const CI_VARS = ['CI', 'GITHUB_ACTIONS', 'BUILD_NUMBER', 'RUN_ID', 'FORCE_COLOR', 'NO_COLOR'];

/** Runs the CLI and resolves when it exits (rejects only if it cannot be spawned or times out). */
export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const v of CI_VARS) delete env[v];
  Object.assign(env, opts.env);
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v === undefined) delete env[k];
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`platformctl ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ stdout, stderr, exitCode: code ?? (signal ? 128 : 1) });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A temporary directory with the given files; `dispose()` removes it. */
export function workspace(files: Record<string, string> = {}): { dir: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'platformctl-test-'));
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
