/** The runtime service kit: import from here in `runtime/<service>/src`. */
export * from './config.ts';
export * from './http-client.ts';
export * from './http-errors.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './request-context.ts';
export * from './server.ts';
export * from './storage/blobs.ts';
export * from './storage/bus.ts';
export * from './storage/db.ts';
export * from './storage/outbox.ts';
export * from './tracing.ts';
