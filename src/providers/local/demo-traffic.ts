/**
 * Steady demo traffic for the local platform: `platformctl load run` of the bundled
 * browse-content scenario at a modest constant rate, detached, for a bounded time. It exists so a
 * laptop platform has the traffic a canary analysis needs to reach a verdict (a measurement with
 * fewer than `minSampleSize` canary requests is inconclusive), and so `top` and the dashboard have
 * something to show. `down` stops it with the platform.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../core/json-file.ts';
import { isAlive } from '../../core/process-alive.ts';
import { ensureDir, statePaths } from '../../core/state-dir.ts';
import { packageRoot } from './releases.ts';

export interface DemoTraffic {
  pid: number;
  /** Requests per second. */
  rate: number;
  /** The services it sends requests to (through the gateway). */
  services: string[];
  startedAt: string;
  /** When it stops by itself. */
  until: string;
  log: string;
}

/** What marks the process as ours in /proc/<pid>/cmdline (a recycled pid is not). */
const MARKER = 'browse-content.yaml';

function recordFile(root: string): string {
  return join(statePaths(root).dir, 'demo-traffic.json');
}

/** The demo traffic that runs now, if any. */
export function runningDemoTraffic(root: string): DemoTraffic | undefined {
  const file = recordFile(root);
  if (!existsSync(file)) return undefined;
  try {
    const rec = JSON.parse(readFileSync(file, 'utf8')) as DemoTraffic;
    if (isAlive(rec.pid, MARKER)) return rec;
  } catch {
    // unreadable: treated as not running, and replaced by the next start
  }
  rmSync(file, { force: true });
  return undefined;
}

/**
 * Starts the traffic in the background (the platformctl at `cli`, as `node <cli> load run …`) and
 * returns at once; a second start while one runs returns the running one.
 */
export function startDemoTraffic(
  root: string,
  opts: { rate: number; durationMs: number; cli: string; execArgv?: string[] },
): { traffic: DemoTraffic; started: boolean } {
  const running = runningDemoTraffic(root);
  if (running) return { traffic: running, started: false };
  // Beside the state, not in logs/: `platformctl logs` reads services' JSON lines from there.
  const log = join(ensureDir(statePaths(root).dir), 'demo-traffic.log');
  const fd = openSync(log, 'a');
  const scenario = join(packageRoot(), 'scenarios', 'browse-content.yaml');
  const args = [
    'load',
    'run',
    scenario,
    '--rate',
    String(opts.rate),
    '--duration',
    `${Math.ceil(opts.durationMs / 1000)}s`,
  ];
  let pid: number | undefined;
  try {
    const child = spawn(process.execPath, [...(opts.execArgv ?? []), opts.cli, ...args, '--no-thresholds'], {
      cwd: root,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, CI: 'true' },
    });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(fd);
  }
  const now = Date.now();
  const traffic: DemoTraffic = {
    pid: pid ?? 0,
    rate: opts.rate,
    services: ['content'],
    startedAt: new Date(now).toISOString(),
    until: new Date(now + opts.durationMs).toISOString(),
    log,
  };
  writeJsonAtomic(recordFile(root), traffic);
  return { traffic, started: true };
}

/** Stops the demo traffic; false when none ran. */
export function stopDemoTraffic(root: string): boolean {
  const running = runningDemoTraffic(root);
  rmSync(recordFile(root), { force: true });
  if (!running) return false;
  try {
    process.kill(running.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  return true;
}
