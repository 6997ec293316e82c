/**
 * Runs bin/platformctl as a subprocess in a throw-away workspace, exactly as a user or CI job would.
 * CI variables are removed unless a test sets them, so each test states the environment it is about.
 */
import { type ChildProcess, spawn } from 'node:child_process';
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

/** This process's environment without CI variables, with `overrides` applied (undefined removes). */
function cliEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const v of CI_VARS) delete env[v];
  Object.assign(env, overrides);
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete env[k];
  return env;
}

/** Runs the CLI and resolves when it exits (rejects only if it cannot be spawned or times out). */
export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const run = startCli(args, { ...opts, input: opts.input ?? '' });
    const timer = setTimeout(() => {
      run.child.kill('SIGKILL');
      reject(
        new Error(
          `platformctl ${args.join(' ')} timed out\nstdout: ${run.stdout()}\nstderr: ${run.stderr()}`,
        ),
      );
    }, opts.timeoutMs ?? 30_000);
    run.child.on('error', reject);
    void run.exited.then((exitCode) => {
      clearTimeout(timer);
      resolvePromise({ stdout: run.stdout(), stderr: run.stderr(), exitCode });
    });
  });
}

export interface CliProcess {
  child: ChildProcess;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** The exit code (128 when killed by a signal it did not handle). */
  exited: Promise<number>;
}

/**
 * Starts the CLI in the background (a long-running `up`, `deploy --wait`, `chaos run`) for tests
 * that watch its output, send it signals or talk to it while it runs. Same environment as runCli;
 * stdin gets `input` (then end of file) when given, else nothing.
 */
export function startCli(args: string[], opts: Omit<CliOptions, 'timeoutMs'>): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: cliEnv(opts.env),
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number>((resolve) =>
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
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
