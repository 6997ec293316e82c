/**
 * The detached supervisor (`platformctl up --detach` runs the hidden `platformctl __supervise <root>`). It owns the
 * service processes, serves the control API and lives until `platformctl down` (POST /stop) or
 * SIGTERM. Its own output goes to `.platform/logs/supervisor.log`.
 */
import { statePaths } from '../../core/state-dir.ts';
import { adminToken } from './admin-token.ts';
import { serveControl } from './control.ts';
import { removeState } from './state.ts';
import { Supervisor } from './supervisor.ts';

export async function runDaemon(root: string): Promise<void> {
  const paths = statePaths(root);
  const token = adminToken(paths.dir);
  const log = (msg: string, extra: Record<string, unknown> = {}) =>
    process.stdout.write(
      `${JSON.stringify({ level: 30, time: Date.now(), service: 'supervisor', msg, ...extra })}\n`,
    );
  const sup = new Supervisor({
    root,
    token,
    detached: true,
    onEvent: (e) => {
      if (e.type !== 'log') log(e.type, e);
    },
  });
  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`stopping (${why})`);
    await sup.stopAll();
    sup.close();
    removeState(paths.state);
    await control.close();
    log('stopped');
    process.exit(0);
  };
  const control = await serveControl(sup, token, () => void stop('down'));
  sup.setRecord({
    pid: process.pid,
    startedAt: new Date().toISOString(),
    detached: true,
    controlUrl: control.url,
  });
  log('supervisor ready', { controlUrl: control.url, pid: process.pid });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));
  process.on('uncaughtException', (err) =>
    log('uncaught exception (supervisor keeps running)', { err: String(err.stack ?? err) }),
  );
  process.on('unhandledRejection', (err) =>
    log('unhandled rejection (supervisor keeps running)', { err: String(err) }),
  );
}
