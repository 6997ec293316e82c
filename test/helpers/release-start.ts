/** Starts a built release's entry as the local provider would (a plain `node`), until `/readyz`. */
import { type ChildProcess, spawn } from 'node:child_process';
import { freePort } from '../../src/core/ports.ts';
import { waitFor } from './poll.ts';

export interface StartedRelease {
  child: ChildProcess;
  base: string;
}

/**
 * `env` is the whole environment (pass `process.env` in it to inherit); PORT is added. The caller
 * kills `child` when done; one that never becomes ready is killed here.
 */
export async function startRelease(
  entryPath: string,
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
): Promise<StartedRelease> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, entryPath], {
    env: { ...env, PORT: String(port) },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor('the release to be ready', async () =>
      (await fetch(`${base}/readyz`)).ok ? true : undefined,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { child, base };
}
