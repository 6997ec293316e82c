/**
 * Drives the CLI through a real pseudo-terminal (util-linux `script`), answering prompts as a person
 * would: wait for the prompt text, then type. Used to test interactive mode end to end.
 */
import { spawn } from 'node:child_process';
import { BIN } from './cli.ts';

export interface Exchange {
  /** Text that must appear on the terminal before typing. */
  expect: RegExp;
  /** Keys to type, e.g. 'acme\r'. */
  send: string;
}

export function runInPty(
  args: string[],
  cwd: string,
  script: Exchange[],
  timeoutMs = 20_000,
): Promise<{ output: string; exitCode: number }> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', NO_COLOR: '1' };
  delete env.CI;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], {
      cwd,
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    let step = 0;
    let consumed = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pty session timed out at step ${step}; output so far:\n${output}`));
    }, timeoutMs);
    const advance = () => {
      const next = script[step];
      if (!next) return;
      const m = next.expect.exec(output.slice(consumed));
      if (!m) return;
      consumed += m.index + m[0].length;
      step++;
      child.stdin.write(next.send);
      advance();
    };
    child.stdout.on('data', (d) => {
      output += d;
      advance();
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ output, exitCode: code ?? 1 });
    });
  });
}
