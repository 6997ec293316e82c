import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { platformSchema } from '../../src/core/config/schema.ts';
import { renderPlatformYaml } from '../../src/core/config/template.ts';
import { EXTERNAL_STORES, remoteKey, renderExternalSecrets } from '../../src/secrets/external.ts';

const config = platformSchema.parse(
  parse(renderPlatformYaml({ name: 'acme', owner: 'p', cloud: 'azure', region: 'westeurope' })),
);
const names = ['auth.JWT_KEY', '*.SENTRY_DSN', 'content.SENTRY_DSN', 'content.S3_SECRET', 'not-injected'];

describe('ExternalSecret rendering', () => {
  it.each(EXTERNAL_STORES)(
    'renders a valid store and one ExternalSecret per service with secrets (%s)',
    (store) => {
      const out = renderExternalSecrets({ config, env: 'prod', store, names });
      const docs = out.map((m) => parseAllDocuments(m.yaml).map((d) => d.toJS()));
      expect(docs.every((d) => d.length === 1)).toBe(true);
      const [storeDoc, account, ...secrets] = docs.map((d) => d[0]);
      // The account the store signs in as (Terraform trusts it; no outputs given, no annotation).
      expect(account).toMatchObject({
        kind: 'ServiceAccount',
        metadata: { name: 'acme-external-secrets', namespace: 'acme' },
      });
      expect(account.metadata.annotations).toBeUndefined();
      expect(storeDoc).toMatchObject({
        apiVersion: 'external-secrets.io/v1',
        kind: 'SecretStore',
        metadata: { namespace: 'acme' },
      });
      expect(Object.keys(storeDoc.spec.provider)).toEqual([
        { vault: 'vault', aws: 'aws', azure: 'azurekv', gcp: 'gcpsm' }[store],
      ]);
      // Every service gets the shared DSN; content's own value wins over the shared one.
      expect(secrets.map((s) => s.metadata.name)).toEqual([
        'analytics-secrets',
        'auth-secrets',
        'content-secrets',
        'gateway-secrets',
      ]);
      const content = secrets.find((s) => s.metadata.name === 'content-secrets');
      // In the environment's own cloud store, the managed backends' settings come along: on Azure,
      // whose services the runtime cannot use, the whole URLs (content opens all three).
      const managed = store === 'azure' ? ['BLOBS_URL', 'BUS_URL', 'DATABASE_URL'] : [];
      expect(content.spec.data.map((d: { secretKey: string }) => d.secretKey)).toEqual([
        ...managed,
        'S3_SECRET',
        'SENTRY_DSN',
      ]);
      const gateway = secrets.find((s) => s.metadata.name === 'gateway-secrets');
      expect(gateway.spec.data.map((d: { secretKey: string }) => d.secretKey)).toEqual(['SENTRY_DSN']);
      expect(content.spec.data[managed.length + 1].remoteRef.key).toBe(
        remoteKey(store, 'platformctl', 'prod', 'content.SENTRY_DSN'),
      );
      expect(content.spec.secretStoreRef).toEqual({ kind: 'SecretStore', name: storeDoc.metadata.name });
      expect(content.spec.target.name).toBe('content-secrets');
    },
  );

  it('uses names each cloud accepts', () => {
    expect(remoteKey('vault', 'platformctl', 'prod', '*.X_Y')).toBe('platformctl/prod/_shared.X_Y');
    expect(remoteKey('gcp', 'platformctl', 'prod', 'auth.X_Y')).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(remoteKey('azure', 'platformctl', 'prod', 'auth.X_Y')).toMatch(/^[A-Za-z0-9-]+$/);
  });

  it('refuses names that collide in a restrictive store, and renders a ClusterSecretStore on request', () => {
    expect(() =>
      renderExternalSecrets({ config, env: 'prod', store: 'azure', names: ['auth.A_B', 'auth.A-B'] }),
    ).toThrow(/same azure name/);
    const out = renderExternalSecrets({ config, env: 'prod', store: 'aws', names, clusterStore: true });
    const store = parse(out[0]?.yaml ?? '');
    expect(store.kind).toBe('ClusterSecretStore');
    expect(store.metadata.namespace).toBeUndefined();
  });
});
