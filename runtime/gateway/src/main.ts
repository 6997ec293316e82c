/** Entry point: `PORT=8080 GATEWAY_CONFIG=gateway.json ADMIN_TOKEN=… node runtime/gateway/src/main.ts`. */

import cluster from 'node:cluster';
import { fstatSync } from 'node:fs';
import { flushCompileCache } from 'node:module';
import { pino } from 'pino';
import { EnvConfigError } from '../../lib/config.ts';
import { createLogger } from '../../lib/logger.ts';
import { createMetrics } from '../../lib/metrics.ts';
import { initTracing } from '../../lib/tracing.ts';
import { runPrimary, workerPeers } from './cluster.ts';
import { parseGatewayEnv } from './env.ts';
import { Gateway } from './gateway.ts';
import { loadGatewayConfig } from './gateway-config.ts';
import { countDroppedLines, createLogDestination, LOG_BUFFER_MAX_BYTES } from './log-destination.ts';
import { GatewayMetrics } from './metrics.ts';

async function main(): Promise<void> {
  let settings: ReturnType<typeof parseGatewayEnv>;
  let config: ReturnType<typeof loadGatewayConfig>;
  try {
    settings = parseGatewayEnv(process.env);
    config = loadGatewayConfig(settings.extra.GATEWAY_CONFIG);
  } catch (err) {
    const hint =
      err instanceof EnvConfigError ? '\nFix the variables above and start the gateway again.' : '';
    process.stderr.write(`${(err as Error).message}${hint}\n`);
    process.exit(1);
  }
  const workers = settings.extra.GATEWAY_WORKERS;
  const clustered = workers > 1;
  if (clustered && cluster.isPrimary) {
    const logger = createLogger({
      service: settings.service,
      version: settings.version,
      instance: `${settings.instance}-primary`,
      level: settings.logLevel,
    });
    logger.info({ workers }, 'starting gateway workers');
    runPrimary(workers, logger, settings.extra.SHUTDOWN_TIMEOUT_MS);
    return;
  }
  const instance =
    clustered && process.env.INSTANCE_ID ? `${settings.instance}-w${cluster.worker?.id}` : settings.instance;
  const identity = { service: settings.service, version: settings.version, instance };
  // One buffered destination for every line (access log included): writing each access line on
  // its own cost ~8% of the CPU under load. A timer bounds how long a line may wait in the buffer.
  // Workers of a clustered gateway share stdout: into a file each buffered write (whole lines) is
  // atomic, but into a pipe only writes up to PIPE_BUF are, so there they write line by line.
  const lineByLine = clustered && !fstatSync(1).isFile();
  const destination = createLogDestination(1, lineByLine);
  const kitMetrics = createMetrics(identity);
  // Services register the process metrics at their first scrape or after readiness (metrics.ts);
  // the gateway is scraped through GatewayMetrics, which does not ask, so they are made here.
  void kitMetrics.defaults.get();
  const metrics = new GatewayMetrics({ registry: kitMetrics.registry });
  // The warning about dropped lines goes to stderr: on the full destination it would be dropped too.
  // One line a minute at most, written synchronously so it is not buffered in turn.
  const stderrLogger = createLogger({
    ...identity,
    level: settings.logLevel,
    destination: pino.destination({ dest: 2, sync: true }),
  });
  countDroppedLines(
    destination,
    (lines) => metrics.logLinesDropped(lines),
    (lines) =>
      stderrLogger.warn(
        { droppedLines: lines, maxBytes: LOG_BUFFER_MAX_BYTES },
        'log output is not keeping up: dropping log lines (gateway_access_log_dropped_lines_total)',
      ),
  );
  const flushTimer = setInterval(() => {
    try {
      if (!lineByLine) destination.flush();
    } catch {
      // flush refuses while the stream is closing; the final flushSync covers that.
    }
  }, 250);
  flushTimer.unref();
  const logger = createLogger({ ...identity, level: settings.logLevel, destination });
  const tracing = await initTracing({
    ...identity,
    otlpEndpoint: settings.otlpEndpoint,
    tracesDir: settings.tracesDir,
  });
  let current: Gateway | undefined;
  const worker = clustered ? workerPeers(workers, metrics.registry, () => current) : undefined;
  const gateway = new Gateway({ settings, config, logger, metrics, tracing, peers: worker?.peers });
  current = gateway;
  // A (re)started worker applies the admin changes the others already have before it listens.
  if (worker) for (const op of await worker.replay) gateway.applyControl(op);
  const port = await gateway.listen();
  // The span exporters load now that the gateway serves, not before (runtime/lib/tracing.ts).
  tracing.warmUp();
  // A killed gateway never writes its compile cache at exit: write it once serving (server.ts).
  flushCompileCache();
  logger.info(
    {
      port,
      ...(gateway.adminPort !== undefined ? { adminPort: gateway.adminPort } : {}),
      routes: gateway.routes.routes.length,
      services: gateway.registry.services.size,
    },
    'listening',
  );
  if (!lineByLine) destination.flush();
  if (!settings.adminToken) logger.warn('ADMIN_TOKEN is not set: the admin API is disabled');
  if (!settings.authJwksUrl) logger.warn('AUTH_JWKS_URL is not set: routes that require a token answer 503');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, inFlight: gateway.inFlight }, 'shutting down');
    setTimeout(() => process.exit(1), settings.extra.SHUTDOWN_TIMEOUT_MS + 2000).unref();
    gateway
      .close()
      .then(() => tracing.shutdown())
      .then(
        () => {
          logger.info('stopped');
          destination.flushSync();
          setImmediate(() => process.exit(0));
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          destination.flushSync();
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
