import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startProcess } from './instance-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'instance-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts `node exit.mjs` logging to `log` and waits for it to exit. */
async function run(log: string, standby: boolean): Promise<void> {
  const entry = join(dir, 'exit.mjs');
  writeFileSync(entry, 'process.exit(0);\n');
  const child = startProcess(entry, dir, { PATH: process.env.PATH ?? '' }, log, standby);
  await new Promise((resolve) => child.once('exit', resolve));
}

describe('instance logs', () => {
  it('a new process rotates a log past 20 MiB; a standby leaves it to the live process writing to it', async () => {
    const log = join(dir, 'svc-1.log');
    writeFileSync(log, Buffer.alloc(21 * 1024 * 1024, 'x'));
    await run(log, true);
    expect(existsSync(`${log}.1`)).toBe(false);
    await run(log, false);
    expect(existsSync(`${log}.1`)).toBe(true);
  });
});
