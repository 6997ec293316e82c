/**
 * Runs documentation as written: the lines of a Markdown ```sh block, each in a real shell, in its
 * own process group so a timeout stops everything it started (a backgrounded `platformctl up`,
 * say). The README tour and the guides' walk-throughs run their lines through this.
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

/** One line of a documented ```sh block. */
export interface DocStep {
  command: string;
  /** Exit codes the line's comment documents besides 0 (`# … exit 80`). */
  documented: number[];
}

/** The lines of the first ```sh block after `heading` in `markdown` (from `file`), comments split off. */
export function shBlock(markdown: string, heading: string, file: string): DocStep[] {
  const at = markdown.indexOf(`\n${heading}\n`);
  if (at === -1) throw new Error(`${file} has no "${heading}" section`);
  const block = /```sh\n([\s\S]*?)```/.exec(markdown.slice(at))?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => {
      const hash = line.search(/\s#\s/);
      const command = (hash === -1 ? line : line.slice(0, hash)).trim();
      const comment = hash === -1 ? '' : line.slice(hash);
      return { command, documented: [...comment.matchAll(/exit (\d+)/g)].map((m) => Number(m[1])) };
    })
    .filter((s) => s.command !== '');
}
