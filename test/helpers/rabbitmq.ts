/**
 * A private RabbitMQ node for a test file: its own node name, AMQP and distribution ports (free
 * ports) and mnesia/log directories in a temp dir, started in the background and awaited with
 * `rabbitmqctl await_startup`. Debian's wrapper runs the broker as the `rabbitmq` user, so the temp
 * dir is handed to that user. `restart()` stops and starts the broker application (every client
 * connection drops; durable quorum queues come back from disk).
 */
import { type ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/core/ports.ts';

const execFileAsync = promisify(execFile);
const SERVER = '/usr/sbin/rabbitmq-server';
const CTL = '/usr/sbin/rabbitmqctl';

export interface RabbitServer {
  url: string;
  /** Stops and starts the broker application. */
  restart(): Promise<void>;
  /** Stops the broker application for `downMs`, then starts it again (asynchronously: load keeps running). */
  outage(downMs: number): Promise<void>;
  /** Runs rabbitmqctl with args. */
  ctl(args: string[]): string;
  stop(): void;
}

/** Why RabbitMQ tests cannot run here (undefined: they can). Throws in CI when missing. */
export function rabbitSkipReason(): string | undefined {
  if (existsSync(SERVER)) return undefined;
  if (process.env.CI) throw new Error('rabbitmq-server is missing in CI: apt-get install -y rabbitmq-server');
  return 'RabbitMQ is not installed (apt-get install -y rabbitmq-server); skipping outside CI';
}

export async function startRabbit(): Promise<RabbitServer> {
  const dir = mkdtempSync(join(tmpdir(), 'rmqtest-'));
  const port = await freePort();
  let dist = await freePort();
  while (dist === port) dist = await freePort();
  const node = `pctl${process.pid}x${port}@localhost`;
  writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'rabbitmq']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'rabbitmq']).toString().trim());
    chownSync(dir, uid, gid);
    chownSync(join(dir, 'enabled_plugins'), uid, gid);
  }
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(dist),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'node.pid'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
  };
  const ctl = (args: string[]): string => {
    const r = spawnSync(CTL, ['-n', node, ...args], { env, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`rabbitmqctl ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  let output = '';
  const proc: ChildProcess = spawn(SERVER, [], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (d) => {
    output += String(d);
  });
  proc.stderr?.on('data', (d) => {
    output += String(d);
  });
  try {
    // `wait` waits for the pid file and then for the broker to boot (await_startup fails at once
    // while the node is still in its prelaunch phase).
    ctl(['wait', join(dir, 'node.pid'), '--timeout', '90']);
  } catch (err) {
    spawnSync(CTL, ['-n', node, 'stop'], { env, timeout: 60_000 });
    try {
      if (proc.pid) process.kill(-proc.pid, 'SIGKILL');
    } catch {}
    rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    throw new Error(`RabbitMQ did not start: ${(err as Error).message}\n${output.slice(-2000)}`);
  }
  let stopped = false;
  return {
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    ctl,
    async restart() {
      // Asynchronous so that publishers and consumers keep running while the broker goes away.
      for (const args of [['stop_app'], ['start_app'], ['await_startup', '--timeout', '90']]) {
        await execFileAsync(CTL, ['-n', node, ...args], { env, timeout: 120_000 });
      }
    },
    async outage(downMs) {
      await execFileAsync(CTL, ['-n', node, 'stop_app'], { env, timeout: 120_000 });
      await new Promise((r) => setTimeout(r, downMs));
      for (const args of [['start_app'], ['await_startup', '--timeout', '90']]) {
        await execFileAsync(CTL, ['-n', node, ...args], { env, timeout: 120_000 });
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      spawnSync(CTL, ['-n', node, 'stop'], { env, timeout: 60_000 });
      try {
        if (proc.pid) process.kill(-proc.pid, 'SIGKILL');
      } catch {}
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}
