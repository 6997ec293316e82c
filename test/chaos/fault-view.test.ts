/** What `status` and the dashboard list as active faults: gateway leases and a run's records. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeActive } from '../../src/chaos/active-faults.ts';
import { activeFaults, describeFault } from '../../src/chaos/fault-view.ts';

let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('active faults', () => {
  it("lists gateway faults with their expiry and the run that owns them, and the run's other faults", () => {
    root = mkdtempSync(join(tmpdir(), 'fault-view-'));
    const now = Date.parse('2026-01-01T00:00:00Z');
    // A run that has died (pid 2^22 + 1 is above Linux's pid_max, so never alive).
    writeActive(root, {
      pid: 4_194_305,
      experiment: 'experiments/content-latency.yaml',
      startedAt: '2026-01-01T00:00:00Z',
      faults: [
        {
          key: 1,
          description: '+500ms on content',
          injectedAt: 'x',
          undo: { kind: 'gateway-fault', id: 'f1' },
        },
        {
          key: 2,
          description: 'bus unreachable (processes paused)',
          injectedAt: 'x',
          undo: { kind: 'signal', pids: [1], signal: 'SIGCONT' },
        },
      ],
    });
    const views = activeFaults(
      root,
      [
        { id: 'f1', service: 'content', delayMs: 500, createdAt: 'x', expiresAt: '2026-01-01T00:00:07Z' },
        { id: 'f2', service: 'content', version: 'v2', route: '/content', abortPct: 100, createdAt: 'x' },
      ],
      now,
    );
    const owner = { pid: 4_194_305, experiment: 'experiments/content-latency.yaml', alive: false };
    expect(views).toEqual([
      {
        source: 'gateway',
        id: 'f1',
        description: '+500ms on content',
        expiresAt: '2026-01-01T00:00:07Z',
        expiresInMs: 7000,
        owner,
      },
      { source: 'gateway', id: 'f2', description: '100% 503 on content@v2 /content' },
      { source: 'chaos-run', description: 'bus unreachable (processes paused)', owner },
    ]);
    expect(
      describeFault({ id: 'x', service: 'a', delayMs: 5, abortPct: 10, abortStatus: 500, createdAt: 'x' }),
    ).toBe('+5ms and 10% 500 on a');
  });
});
