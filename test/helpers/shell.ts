/**
 * Runs documentation as written: a command line in a real shell, in its own process group so a
 * timeout stops everything it started (a backgrounded `platformctl up`, say). The README tour and
 * the guides' walk-throughs run their lines through this.
 */
import { spawn } from 'node:child_process';

export interface ShellRun {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface ShellOptions {
  /** `sh` for POSIX lines (the README), `bash` where the guide's lines need it. */
  shell: 'sh' | 'bash';
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs `script` as `<shell> -c`; on timeout the whole group gets SIGKILL and the exit is 128+. */
export function runShell(script: string, opts: ShellOptions): Promise<ShellRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(opts.shell, ['-c', script], { cwd: opts.cwd, env: opts.env, detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(
      () => process.kill(-(child.pid as number), 'SIGKILL'),
      opts.timeoutMs ?? 600_000,
    );
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 128, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}
