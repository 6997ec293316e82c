/**
 * Readiness notifications (ready-notify.ts): a kit service says `STATUS=starting` and
 * `CAPABILITIES=standby`, then, once its `/readyz` answers 200 and not before, `READY=1` on the
 * socket NOTIFY_FD names, then closes it. Started with NOTIFY_STANDBY=1 it says `STATUS=standby`
 * and starts only on `START` (and exits when the pipe closes first). A descriptor that is not a
 * socket gets nothing, and the variables are not passed on to the service's own children.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../src/core/ports.ts';
import { readyNotifier } from '../ready-notify.ts';

const dir = mkdtempSync(join(tmpdir(), 'lib-ready-notify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts a fixture with a notification pipe on descriptor 3; `next()` resolves with each line it says. */
let started = 0;
async function start(fixture: string, env: Record<string, string> = {}) {
  const port = await freePort();
  const dataDir = join(dir, `${fixture}-${++started}`);
  const proc = spawn(process.execPath, [join(import.meta.dirname, 'fixtures', fixture)], {
    env: { ...process.env, PORT: String(port), DATA_DIR: dataDir, NOTIFY_FD: '3', ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  let closed = false;
  const pipe = proc.stdio[3] as Duplex;
  let pending = '';
  pipe.setEncoding('utf8');
  pipe.on('data', (chunk: string) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() as string;
    lines.push(...parts);
    for (const w of waiters.splice(0)) w();
  });
  pipe.on('end', () => {
    closed = true;
    for (const w of waiters.splice(0)) w();
  });
  let read = 0;
  const next = async (): Promise<string | undefined> => {
    while (read >= lines.length && !closed) await new Promise<void>((r) => waiters.push(r));
    return lines[read++];
  };
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const stop = async () => {
    proc.kill('SIGTERM');
    await exited;
  };
  /** What the supervisor says: a line, or (undefined) closing its end of the pipe. */
  const tell = (line?: string) => (line === undefined ? pipe.end() : pipe.write(`${line}\n`));
  return { port, next, stop, tell, exited, pipeClosed: () => closed, dataDir };
}

const readyz = async (port: number) => (await fetch(`http://127.0.0.1:${port}/readyz`)).status;

describe('readiness notification', () => {
  it('says STATUS=starting and that it can be a standby, then READY=1 once /readyz answers 200, then closes the pipe', async () => {
    const svc = await start('slow-service.ts');
    try {
      expect(await svc.next()).toBe('STATUS=starting');
      expect(await svc.next()).toBe('CAPABILITIES=standby');
      expect(await svc.next()).toBe('READY=1');
      expect(await readyz(svc.port)).toBe(200);
      expect(await svc.next()).toBeUndefined();
      expect(svc.pipeClosed()).toBe(true);
    } finally {
      await svc.stop();
    }
  });

  it('does not say it can be a standby when its definition says standby: false', async () => {
    const svc = await start('no-standby-service.ts');
    try {
      expect(await svc.next()).toBe('STATUS=starting');
      expect(await svc.next()).toBe('READY=1');
    } finally {
      await svc.stop();
    }
  });

  it('says READY=1 only when a service that listens unready becomes ready', async () => {
    const svc = await start('late-ready-service.ts');
    try {
      expect(await svc.next()).toBe('STATUS=starting');
      expect(await svc.next()).toBe('CAPABILITIES=standby');
      // Listening, yet not ready: nothing more is said.
      let status = 0;
      while (status === 0) {
        status = await readyz(svc.port).catch(() => 0);
        if (status === 0) await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).toBe(503);
      const ready = svc.next();
      let said: string | undefined;
      void ready.then((line) => {
        said = line;
      });
      expect(await readyz(svc.port)).toBe(503);
      expect(said).toBeUndefined();
      await fetch(`http://127.0.0.1:${svc.port}/ready-now`, { method: 'POST' });
      expect(await ready).toBe('READY=1');
      expect(await readyz(svc.port)).toBe(200);
    } finally {
      await svc.stop();
    }
  });

  it('as a standby, says STATUS=standby and neither listens nor opens its data until told START', async () => {
    const svc = await start('slow-service.ts', { NOTIFY_STANDBY: '1' });
    try {
      expect(await svc.next()).toBe('STATUS=standby');
      await new Promise((r) => setTimeout(r, 300));
      await expect(readyz(svc.port)).rejects.toThrow();
      expect(existsSync(svc.dataDir)).toBe(false);
      svc.tell('START');
      expect(await svc.next()).toBe('STATUS=starting');
      expect(await svc.next()).toBe('CAPABILITIES=standby');
      expect(await svc.next()).toBe('READY=1');
      expect(await readyz(svc.port)).toBe(200);
      expect(existsSync(svc.dataDir)).toBe(true);
    } finally {
      await svc.stop();
    }
  });

  it('as a standby whose supervisor goes away (the pipe closes), exits 0 without starting', async () => {
    const svc = await start('slow-service.ts', { NOTIFY_STANDBY: '1' });
    expect(await svc.next()).toBe('STATUS=standby');
    svc.tell();
    expect(await svc.exited).toBe(0);
    expect(existsSync(svc.dataDir)).toBe(false);
  });

  it('as a standby told something else than START, exits without starting', async () => {
    const svc = await start('slow-service.ts', { NOTIFY_STANDBY: '1' });
    expect(await svc.next()).toBe('STATUS=standby');
    svc.tell('STOP');
    expect(await svc.exited).toBe(0);
    expect(existsSync(svc.dataDir)).toBe(false);
  });

  it('writes nothing to a descriptor that is not a socket, and takes NOTIFY_FD and NOTIFY_STANDBY out of the environment', () => {
    const file = join(dir, 'not-a-socket');
    const fd = openSync(file, 'w');
    try {
      const env: NodeJS.ProcessEnv = { NOTIFY_FD: String(fd), NOTIFY_STANDBY: '1' };
      const notify = readyNotifier(env);
      // Nobody could start it through this descriptor: it starts at once.
      expect(notify.awaitStart()).toBe(true);
      notify.starting({ standby: true });
      notify.ready();
      expect(readFileSync(file, 'utf8')).toBe('');
      expect(env.NOTIFY_FD).toBeUndefined();
      expect(env.NOTIFY_STANDBY).toBeUndefined();
    } finally {
      closeSync(fd);
    }
  });
});
