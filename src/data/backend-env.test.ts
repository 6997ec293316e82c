import { describe, expect, it } from 'vitest';
import type { PlatformConfig } from '../core/config/schema.ts';
import { backendEnv, localEnvironment } from './backend-env.ts';

const config = {
  name: 'shop',
  environments: {
    dev: { provider: 'local', backends: { database: 'sqlite', bus: 'embedded', blobs: 'file' } },
    stage: { provider: 'local', backends: { database: 'postgres', bus: 'rabbitmq', blobs: 's3' } },
  },
} as unknown as PlatformConfig;

describe('backend env', () => {
  it('picks PLATFORMCTL_ENV or the first local environment', () => {
    expect(localEnvironment(config, {})?.name).toBe('dev');
    expect(localEnvironment(config, { PLATFORMCTL_ENV: 'stage' })?.name).toBe('stage');
  });

  it('maps postgres, rabbitmq and s3 to the runtime contract', () => {
    const stage = localEnvironment(config, { PLATFORMCTL_ENV: 'stage' })!;
    const source = { PLATFORMCTL_POSTGRES_URL: 'postgres://app@db:5432/postgres', AMQP_URL: 'amqp://mq' };
    expect(backendEnv('/r', config, 'content', stage.backends, source)).toEqual({
      DATABASE_URL: 'postgres://app@db:5432/content',
      BUS_URL: 'amqp://mq',
      BLOBS_URL: 's3://shop/content',
    });
    // A service without a database of its own gets no DATABASE_URL; its own URL wins over the server's.
    expect(backendEnv('/r', config, 'gateway', stage.backends, source).DATABASE_URL).toBeUndefined();
    expect(
      backendEnv('/r', config, 'auth', stage.backends, { ...source, AUTH_DATABASE_URL: 'postgres://x/a' })
        .DATABASE_URL,
    ).toBe('postgres://x/a');
    expect(() => backendEnv('/r', config, 'auth', stage.backends, {})).toThrow(/PostgreSQL URL/);
    expect(() =>
      backendEnv('/r', config, 'auth', stage.backends, { PLATFORMCTL_POSTGRES_URL: 'postgres://h/p' }),
    ).toThrow(/AMQP_URL/);
  });

  it('sets nothing for the embedded defaults', () => {
    expect(backendEnv('/r', config, 'content', localEnvironment(config, {})!.backends, {})).toEqual({});
  });
});
