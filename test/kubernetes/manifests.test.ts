/**
 * The provider's built-in objects checked against the Kubernetes API's own models (the OpenAPI
 * types client-node is generated from): every field must exist at its place, so a typo such as
 * `readinesProbe` fails here instead of being silently dropped by the API server.
 */
import * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { platformSchema } from '../../src/core/config/schema.ts';
import {
  baseObjects,
  type KubeTarget,
  namespaceObjects,
  versionName,
  versionObjects,
  versionSlug,
} from '../../src/providers/kubernetes/manifests.ts';

type AttributeMap = { baseName: string; type: string }[];
const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => AttributeMap }>;

/** Unknown fields of `value` against the generated model `type`, as JSON paths. */
function unknownFields(value: unknown, type: string, path = ''): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array)
    return (value as unknown[]).flatMap((v, i) => unknownFields(v, array[1] as string, `${path}[${i}]`));
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map)
    return Object.entries(value as object).flatMap(([k, v]) =>
      unknownFields(v, map[1] as string, `${path}.${k}`),
    );
  const model = models[type]?.getAttributeTypeMap?.();
  if (!model) return [];
  const out: string[] = [];
  for (const [key, v] of Object.entries(value as object)) {
    const attr = model.find((a) => a.baseName === key);
    if (!attr) out.push(`${path}.${key}`);
    else out.push(...unknownFields(v, attr.type, `${path}.${key}`));
  }
  return out;
}

const config = platformSchema.parse({
  name: 'shop',
  environments: { prod: { cloud: 'aws', region: 'eu-west-1', provider: 'kubernetes' } },
  services: {
    web: { path: 'services/web', port: 8080, routes: ['/web'], env: { A: 'b' } },
    jobs: { path: 'services/jobs', port: 8090, kind: 'worker' },
  },
});
const target: KubeTarget = {
  platform: 'shop',
  namespace: 'shop-prod',
  registry: 'ghcr.io/acme',
  mesh: 'istio',
  gateway: 'shop-gateway',
};
const MODEL: Record<string, string> = {
  Deployment: 'V1Deployment',
  Service: 'V1Service',
  ServiceAccount: 'V1ServiceAccount',
};

describe('kubernetes manifests', () => {
  it('use only fields the Kubernetes API defines', () => {
    const objects = Object.entries(config.services).flatMap(([name, spec]) => [
      ...baseObjects(target, name, spec),
      ...versionObjects(target, name, spec, '1.4.2', 3),
    ]);
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'ServiceAccount/web',
      'Service/web',
      'Deployment/web-1-4-2',
      'Service/web-1-4-2',
      'ServiceAccount/jobs',
      'Deployment/jobs-1-4-2',
    ]);
    for (const o of objects)
      expect(unknownFields(o, MODEL[o.kind] as string), `${o.kind}/${o.metadata.name}`).toEqual([]);
    // A version deployed by the provider reads the backends ConfigMap and Secret GitOps renders.
    const web = objects[2] as unknown as {
      spec: { template: { spec: { containers: { envFrom?: unknown }[] } } };
    };
    expect(web.spec.template.spec.containers[0]?.envFrom).toEqual([
      { configMapRef: { name: 'web-backends', optional: true } },
      { secretRef: { name: 'web-secrets', optional: true } },
    ]);
    // The check does catch a typo.
    const typo = structuredClone(objects[2]) as Record<string, unknown>;
    (typo.spec as Record<string, unknown>).replicaz = 1;
    const container = (typo as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } })
      .spec.template.spec.containers[0] as Record<string, unknown>;
    container.readinesProbe = {};
    expect(unknownFields(typo, 'V1Deployment')).toEqual([
      '.spec.template.spec.containers[0].readinesProbe',
      '.spec.replicaz',
    ]);
  });

  it('names versions as DNS labels and keeps the exact version in a label', () => {
    expect(versionSlug('1.4.2')).toBe('1-4-2');
    expect(versionSlug('Release_7+build')).toBe('release-7-build');
    expect(versionName('content', 'a'.repeat(80)).length).toBeLessThanOrEqual(63);
    const [dep] = versionObjects(target, 'web', config.services.web as never, '1.4.2', 1);
    expect(dep?.metadata.labels?.['platformctl.dev/version']).toBe('1.4.2');
    expect(JSON.stringify(dep)).toContain('"image":"ghcr.io/acme/web:1.4.2"');
  });

  it('Istio namespaces get STRICT mTLS', () => {
    const [pa, dr] = namespaceObjects(target);
    expect(pa).toMatchObject({ kind: 'PeerAuthentication', spec: { mtls: { mode: 'STRICT' } } });
    expect(dr).toMatchObject({
      kind: 'DestinationRule',
      spec: { trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } },
    });
    expect(namespaceObjects({ ...target, mesh: 'gateway-api' })).toEqual([]);
  });
});
