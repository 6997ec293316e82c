/**
 * In a Kubernetes pod the embedded backends cannot work (the bus default `<DATA_DIR>/../bus` is on
 * a read-only root file system; SQLite and files are not shared between replicas): a service that
 * would fall back to them there stops at start with a configuration error, unless the manifests
 * allow it (`EMBEDDED_BACKENDS`, from an explicit platform.yaml choice).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBackendsConfigured, EnvConfigError } from '../config.ts';
import { createService } from '../server.ts';

const dir = mkdtempSync(join(tmpdir(), 'lib-fail-closed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const POD = { KUBERNETES_SERVICE_HOST: '10.96.0.1', PORT: '0', DATA_DIR: join(dir, 'data', 'svc') };

describe('embedded backends in a Kubernetes pod', () => {
  it('names every backend the service opens without a URL', () => {
    expect(() => assertBackendsConfigured('content', POD, ['database', 'bus', 'blobs'])).toThrow(
      EnvConfigError,
    );
    try {
      assertBackendsConfigured('content', { ...POD, DATABASE_URL: 'postgres://h/content' }, [
        'database',
        'bus',
        'blobs',
      ]);
    } catch (err) {
      expect((err as EnvConfigError).problems.map((p) => p.split(':')[0])).toEqual(['BUS_URL', 'BLOBS_URL']);
    }
  });

  it('is quiet off Kubernetes, with every URL set, or where EMBEDDED_BACKENDS allows it', () => {
    expect(() => assertBackendsConfigured('content', { PORT: '0' }, ['bus'])).not.toThrow();
    expect(() =>
      assertBackendsConfigured('content', { ...POD, BUS_URL: 'amqps://b:5671', BLOBS_URL: 's3://b' }, [
        'bus',
        'blobs',
      ]),
    ).not.toThrow();
    expect(() =>
      assertBackendsConfigured('content', { ...POD, EMBEDDED_BACKENDS: 'bus, blobs' }, ['bus', 'blobs']),
    ).not.toThrow();
    // An empty variable is an unset one (the contract's rule), so it does not count as a URL.
    expect(() => assertBackendsConfigured('content', { ...POD, BUS_URL: '' }, ['bus'])).toThrow(/BUS_URL/);
  });

  it('createService refuses to open an embedded bus in a pod before touching the disk', async () => {
    await expect(createService({ name: 'kit', bus: true, routes: () => {} }, { env: POD })).rejects.toThrow(
      /BUS_URL: not set, and this pod runs on Kubernetes/,
    );
    const allowed = await createService(
      { name: 'kit', bus: true, routes: () => {} },
      { env: { ...POD, EMBEDDED_BACKENDS: 'bus' } },
    );
    await allowed.close();
  });

  it('the content service exits 1 at start with the configuration error', () => {
    const main = resolve(import.meta.dirname, '../../content/src/main.ts');
    const run = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH, ...POD, DATABASE_URL: `sqlite://${join(dir, 'c.db')}` },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/BUS_URL: not set, and this pod runs on Kubernetes/);
    expect(run.stderr).toMatch(/BLOBS_URL: not set/);
    expect(run.stderr).not.toMatch(/DATABASE_URL: not set/);
  });
});
