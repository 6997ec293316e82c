/**
 * Starts a runtime service as a real child process (`node runtime/<name>/src/main.ts`) on
 * 127.0.0.1 with PORT=0, learns the port from its `listening` log line, and keeps every stdout
 * line so tests can inspect logs (e.g. that secrets never appear). Used by the auth and content
 * integration tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..', '..', '..', '..');

export interface ServiceProcess {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Raw stdout so far. */
  stdout(): string;
  /** Parsed JSON log lines so far. */
  logs(): Record<string, unknown>[];
  stderr(): string;
  /**
   * The last `lines` lines of stdout and of stderr and how the process ended (if it did), for a
   * failing test to print: without them a service that crashed under a fault leaves no trace in CI.
   */
  tail(lines?: number): string;
  /** SIGTERM, wait for exit (SIGKILL after 10 s); resolves with the exit code. */
  stop(): Promise<number | null>;
}

export async function startService(name: string, env: Record<string, string>): Promise<ServiceProcess> {
  const entry = resolve(REPO, 'runtime', name, 'src', 'main.ts');
  const proc = spawn(process.execPath, ['--no-warnings', entry], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start in 30 s\n${out}\n${err}`)),
      30_000,
    );
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening\n${out}\n${err}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    stdout: () => out,
    stderr: () => err,
    tail(lines = 40) {
      const last = (text: string) => text.trimEnd().split('\n').slice(-lines).join('\n');
      const state =
        proc.exitCode !== null || proc.signalCode !== null
          ? `exited (code ${proc.exitCode}, signal ${proc.signalCode})`
          : `running (pid ${proc.pid})`;
      return `--- ${name}: ${state}\n--- ${name} stdout (last ${lines} lines)\n${last(out)}\n--- ${name} stderr (last ${lines} lines)\n${last(err)}`;
    },
    logs: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(kill);
      return code;
    },
  };
}
