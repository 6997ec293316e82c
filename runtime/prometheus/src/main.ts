/**
 * Runs Debian's `prometheus` as a process of the local platform (`platformctl up --with prometheus`):
 * the supervisor starts Node entries only, so this wrapper starts the binary with the generated
 * configuration, listens on `PORT` (127.0.0.1), forwards SIGTERM/SIGINT and exits with the
 * binary's exit code. Readiness is Prometheus's own `/-/ready`.
 * Env: PORT, PROMETHEUS_BIN, PROMETHEUS_CONFIG, PROMETHEUS_DATA, PROMETHEUS_RETENTION (default 2d).
 */
import { spawn } from 'node:child_process';

const port = Number(process.env.PORT);
const bin = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const config = process.env.PROMETHEUS_CONFIG;
const data = process.env.PROMETHEUS_DATA;
if (!Number.isInteger(port) || port <= 0 || !config || !data) {
  process.stderr.write(
    'prometheus wrapper: PORT (> 0), PROMETHEUS_CONFIG and PROMETHEUS_DATA are required\n',
  );
  process.exit(1);
}

const child = spawn(
  bin,
  [
    `--config.file=${config}`,
    `--storage.tsdb.path=${data}`,
    `--storage.tsdb.retention.time=${process.env.PROMETHEUS_RETENTION ?? '2d'}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--web.enable-lifecycle',
  ],
  { stdio: ['ignore', 'inherit', 'inherit'] },
);
child.on('error', (err) => {
  process.stderr.write(`prometheus wrapper: cannot start ${bin}: ${err.message}\n`);
  process.exit(1);
});
process.stdout.write(
  `${JSON.stringify({ level: 30, time: Date.now(), service: 'prometheus', msg: 'listening', port })}\n`,
);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => child.kill('SIGTERM'));
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
