import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../core/process-alive.ts';
import { type InstanceRecord, type LocalState, readState, reconcile, writeState } from './state.ts';

function deadPid(): number {
  // A process that has exited and been reaped: its pid is (almost certainly) not reused this fast.
  return spawnSync(process.execPath, ['-e', '0']).pid as number;
}

function instance(
  id: string,
  pid: number | undefined,
  state: InstanceRecord['state'] = 'ready',
): InstanceRecord {
  return {
    id,
    service: id.replace(/-\d+$/, ''),
    version: 'v1',
    pid,
    port: 1,
    url: 'http://127.0.0.1:1',
    state,
    restarts: 0,
    entry: process.argv[1] ?? '',
    logFile: '/dev/null',
    everReady: true,
  };
}

describe('state reconciliation', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('detects a dead supervisor, marks dead instances stopped and reports live orphans', () => {
    const dead = deadPid();
    const state: LocalState = {
      schema: 1,
      updatedAt: '',
      supervisor: { pid: dead, startedAt: '', detached: true, controlUrl: 'http://127.0.0.1:1' },
      services: {},
      instances: [instance('api-1', dead), instance('api-2', process.pid)],
    };
    const r = reconcile(state, (pid) => pid === process.pid);
    expect(r.running).toBe(false);
    expect(r.changed).toBe(true);
    expect(r.state.supervisor).toBeUndefined();
    expect(r.state.instances.find((i) => i.id === 'api-1')).toMatchObject({
      state: 'stopped',
      pid: undefined,
    });
    expect(r.orphans.map((o) => o.id)).toEqual(['api-2']);
  });

  it("drops the standby of a dead supervisor's instance (it exits by itself) and keeps a live supervisor's", () => {
    const dead = deadPid();
    const withStandby = { ...instance('api-1', process.pid), standbyPid: process.pid };
    const state = (supervisorPid: number): LocalState => ({
      schema: 1,
      updatedAt: '',
      supervisor: { pid: supervisorPid, startedAt: '', detached: true, controlUrl: 'http://127.0.0.1:1' },
      services: {},
      instances: [withStandby],
    });
    const gone = reconcile(state(dead), (pid) => pid === process.pid);
    expect(gone.changed).toBe(true);
    expect(gone.state.instances[0]?.standbyPid).toBeUndefined();
    const running = reconcile(state(process.pid), (pid) => pid === process.pid);
    expect(running.state.instances[0]?.standbyPid).toBe(process.pid);
  });

  it('reports an instance that died under a live supervisor as restarting, not ready', () => {
    const state: LocalState = {
      schema: 1,
      updatedAt: '',
      supervisor: { pid: process.pid, startedAt: '', detached: true, controlUrl: 'http://127.0.0.1:1' },
      services: {},
      instances: [instance('api-1', deadPid())],
    };
    const r = reconcile(state);
    expect(r.running).toBe(true);
    expect(r.state.instances[0]?.state).toBe('backoff');
  });

  it('isAlive is false for a reaped pid and true for this process', () => {
    expect(isAlive(deadPid())).toBe(false);
    expect(isAlive(process.pid)).toBe(true);
    expect(isAlive(process.pid, 'certainly-not-in-my-command-line-xyz')).toBe(false);
  });

  it('writes atomically and reads back; a torn file reads as empty state', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pctl-state-'));
    dirs.push(dir);
    const file = join(dir, 'state.json');
    writeState(file, { schema: 1, updatedAt: '', services: {}, instances: [instance('a-1', 1)] });
    expect(readState(file).instances).toHaveLength(1);
    expect(JSON.parse(readFileSync(file, 'utf8')).updatedAt).not.toBe('');
    writeState(file, { schema: 1, updatedAt: '', services: {}, instances: [] });
    writeFileSync(file, '{"schema":1,"inst');
    expect(readState(file).instances).toEqual([]);
  });
});
