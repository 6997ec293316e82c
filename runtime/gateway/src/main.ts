/** Entry point: `PORT=8080 GATEWAY_CONFIG=gateway.json ADMIN_TOKEN=… node runtime/gateway/src/main.ts`. */
import { pino } from 'pino';
import { parseGatewayEnv } from './env.ts';
import { Gateway } from './gateway.ts';
import { loadGatewayConfig } from './gateway-config.ts';

async function main(): Promise<void> {
  let gateway: Gateway;
  let env: ReturnType<typeof parseGatewayEnv>;
  try {
    env = parseGatewayEnv(process.env);
    const config = loadGatewayConfig(env.GATEWAY_CONFIG);
    const logger = pino(
      {
        level: env.LOG_LEVEL,
        base: {
          service: env.SERVICE_NAME,
          version: env.SERVICE_VERSION,
          instance: env.INSTANCE_ID ?? `${env.SERVICE_NAME}-${process.pid}`,
        },
      },
      pino.destination({ dest: 1, sync: false, minLength: 4096 }),
    );
    gateway = new Gateway({ env, config, logger });
  } catch (err) {
    process.stderr.write(`gateway: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const port = await gateway.listen();
  gateway.logger.info(
    { port, routes: gateway.routes.routes.length, admin: Boolean(env.ADMIN_TOKEN) },
    'listening',
  );
  if (!env.ADMIN_TOKEN) gateway.logger.warn('ADMIN_TOKEN is not set: the admin API is disabled');
  if (!env.AUTH_JWKS_URL)
    gateway.logger.warn('AUTH_JWKS_URL is not set: routes that require a token answer 503');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gateway.logger.info({ signal, inFlight: gateway.inFlight }, 'shutting down');
    const hardStop = setTimeout(() => process.exit(1), env.SHUTDOWN_TIMEOUT_MS + 2000);
    hardStop.unref();
    gateway.close().then(
      () => {
        gateway.logger.info('stopped');
        gateway.logger.flush?.();
        setImmediate(() => process.exit(0));
      },
      (err: unknown) => {
        gateway.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
