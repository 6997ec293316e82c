/**
 * A service writes Node's compile cache once it is ready, not only at a normal exit: a crashed or
 * `kill -9`ed service never exits normally, and its restart used to compile every module again.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnService } from './fixtures/spawn-service.ts';

const dir = mkdtempSync(join(tmpdir(), 'lib-compile-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every file under `path`, recursively. */
function files(path: string): string[] {
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

describe('compile cache of a service', () => {
  it('is on disk once the service is ready, even if it is then killed with SIGKILL', async () => {
    const cache = join(dir, 'compile-cache');
    const { proc, port, exited } = await spawnService('slow-service.ts', {
      DATA_DIR: join(dir, 'data'),
      NODE_COMPILE_CACHE: cache,
    });
    expect(port).toBeDefined();
    // Ready: from here on a crash must find the cache written.
    for (let ready = false; !ready; await new Promise((r) => setTimeout(r, 20)))
      ready = (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
    proc.kill('SIGKILL');
    await exited;
    expect(files(cache).length).toBeGreaterThan(10);
  });
});
