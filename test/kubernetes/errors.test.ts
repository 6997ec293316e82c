/**
 * What the kubernetes provider says when the cluster or the kubeconfig is not as it should be, on a
 * real control plane without any CRDs: a missing CRD, a namespace it may not create, a verb RBAC
 * forbids (as a service account bound to a narrow Role), an expired token or certificate, a
 * server whose certificate the kubeconfig does not trust, a server that is down. Each is one
 * line naming the fix, with the documented exit code, and never a stack or "a bug".
 */

import { execFileSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { KubernetesProvider } from '../../src/providers/kubernetes/kubernetes-provider.ts';
import { runCli } from '../helpers/cli.ts';
import {
  type ControlPlane,
  controlPlaneBinary,
  controlPlaneUnavailable,
  kubeApi,
  startControlPlane,
} from '../helpers/kube-controlplane.ts';

const unavailable = controlPlaneUnavailable();
let cp: ControlPlane;
let api: Awaited<ReturnType<typeof kubeApi>>;
let dir: string;
let deployerToken: string;

function workspace(ns: string): string {
  const root = mkdtempSync(join(dir, 'ws-'));
  writeFileSync(
    join(root, 'platform.yaml'),
    `name: shop
environments:
  staging: { cloud: aws, region: eu-west-1, provider: kubernetes, namespace: ${ns} }
services:
  web: { path: services/web, port: 8080, routes: [/web] }
  jobs: { path: services/jobs, port: 8090, kind: worker }
`,
  );
  return root;
}

function provider(ns: string, kubeconfig: string): KubernetesProvider {
  return new KubernetesProvider(loadPlatform(workspace(ns)), 'staging', { kubeconfig, pollMs: 100 });
}

beforeAll(async () => {
  if (unavailable) return;
  dir = mkdtempSync(join(tmpdir(), 'kube-errors-'));
  cp = await startControlPlane({ crds: false });
  api = await kubeApi(cp.kubeconfig);
  // A deployer confined to namespace shop-rbac: it may read namespaces, deployments and pods, nothing more.
  await api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop-rbac' } });
  await api.create({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'deployer', namespace: 'shop-rbac' },
  });
  await api.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: 'read-only', namespace: 'shop-rbac' },
    rules: [
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
    ],
  });
  await api.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: 'deployer-read-only', namespace: 'shop-rbac' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-only' },
    subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'shop-rbac' }],
  });
  await api.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'namespace-reader' },
    rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'] }],
  });
  await api.create({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'deployer-namespace-reader' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'namespace-reader' },
    subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: 'shop-rbac' }],
  });
  const token = (await api.rest.send('POST', '/api/v1/namespaces/shop-rbac/serviceaccounts/deployer/token', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  })) as { status: { token: string } };
  deployerToken = token.status.token;
}, 1_200_000);
afterAll(async () => {
  await cp?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(unavailable)('kubernetes errors on a real control plane', () => {
  it('a missing CRD names the CRDs to install (CLI: one error line, one hint, exit 1)', async () => {
    const root = workspace('shop-crd');
    const r = await runCli(['deploy', 'web', '--release', 'v1', '--env', 'staging', '--wait'], {
      cwd: root,
      env: { KUBECONFIG: cp.kubeconfig },
      timeoutMs: 60_000,
    });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toContain(
      'the cluster does not serve HTTPRoute (gateway.networking.k8s.io/v1): its CustomResourceDefinition is not installed',
    );
    expect(r.stderr).toMatch(/hint: install the Gateway API CRDs \(standard channel\)/);
    expect(r.stderr).not.toMatch(/\n\s+at |a bug in platformctl/);
    const p = provider('shop-crd', cp.kubeconfig);
    await expect(p.injectFault({ service: 'web', delayMs: 10 })).rejects.toMatchObject({
      code: 'KUBE_CRD_MISSING',
      hint: expect.stringContaining('install Chaos Mesh'),
    });
  });

  it('a verb RBAC forbids names the verb, the resource and who lacks it', async () => {
    const kubeconfig = cp.kubeconfigFor('deployer', { token: deployerToken });
    const err = await provider('shop-rbac', kubeconfig)
      .deploy('jobs', { service: 'jobs', version: 'v1' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'KUBE_FORBIDDEN',
      exitCode: 1,
      details: {
        status: 403,
        user: 'system:serviceaccount:shop-rbac:deployer',
        verb: 'patch',
        resource: 'serviceaccounts',
      },
    });
    expect((err as { hint: string }).hint).toBe(
      'grant system:serviceaccount:shop-rbac:deployer the "patch" verb on serviceaccounts in namespace shop-rbac (a Role + RoleBinding); check with kubectl auth can-i patch serviceaccounts -n shop-rbac --as system:serviceaccount:shop-rbac:deployer',
    );
    // What it may do still works: status reads the (empty) namespace.
    const status = await provider('shop-rbac', kubeconfig).status();
    expect(status.running).toBe(false);
  });

  it('a namespace it may not create is named, with who can fix it', async () => {
    const kubeconfig = cp.kubeconfigFor('deployer', { token: deployerToken });
    await expect(
      provider('shop-absent', kubeconfig).deploy('jobs', { service: 'jobs', version: 'v1' }),
    ).rejects.toMatchObject({
      code: 'KUBE_NAMESPACE_MISSING',
      exitCode: 1,
      message: 'namespace "shop-absent" does not exist and these credentials may not create it',
      hint: expect.stringContaining('kubectl create namespace shop-absent'),
    });
    expect(await api.get('v1', 'Namespace', 'shop-absent')).toBeUndefined();
  });

  it('an expired token and an expired client certificate say so (exit 2)', async () => {
    const key = createPrivateKey(readFileSync(join(cp.dir, 'pki', 'sa.key')));
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await new SignJWT({
      'kubernetes.io': { namespace: 'shop-rbac', serviceaccount: { name: 'deployer', uid: 'x' } },
    })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('https://kubernetes.default.svc.cluster.local')
      .setAudience('https://kubernetes.default.svc.cluster.local')
      .setSubject('system:serviceaccount:shop-rbac:deployer')
      .setIssuedAt(past - 3600)
      .setNotBefore(past - 3600)
      .setExpirationTime(past)
      .sign(key);
    const err = await provider('shop-rbac', cp.kubeconfigFor('old-token', { token: expired }))
      .status()
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KUBE_CREDENTIALS_EXPIRED', exitCode: 2, details: { status: 401 } });
    expect((err as Error).message).toContain(`its token expired at ${new Date(past * 1000).toISOString()}`);

    const certUser = {
      cert: readFileSync(join(cp.dir, 'pki', 'expired.crt'), 'utf8'),
      key: readFileSync(join(cp.dir, 'pki', 'expired.key'), 'utf8'),
    };
    await expect(
      provider('shop-rbac', cp.kubeconfigFor('old-cert', certUser)).status(),
    ).rejects.toMatchObject({
      code: 'KUBE_CREDENTIALS_EXPIRED',
      message: expect.stringContaining('its client certificate expired at'),
    });
    await expect(
      provider('shop-rbac', cp.kubeconfigFor('wrong-token', { token: 'not-a-token' })).status(),
    ).rejects.toMatchObject({ code: 'KUBE_UNAUTHORIZED', exitCode: 2 });
  });

  it('a server certificate from another CA is a TLS error (exit 2); a server that is down is unreachable', async () => {
    const other = join(dir, 'other-pki');
    execFileSync(controlPlaneBinary(), ['pki', other]);
    const admin = {
      cert: readFileSync(join(cp.dir, 'pki', 'admin.crt'), 'utf8'),
      key: readFileSync(join(cp.dir, 'pki', 'admin.key'), 'utf8'),
    };
    const wrongCa = cp.kubeconfigFor('wrong-ca', admin, { ca: readFileSync(join(other, 'ca.crt'), 'utf8') });
    const tls = await provider('shop-rbac', wrongCa)
      .status()
      .catch((e: unknown) => e);
    expect(tls).toMatchObject({ code: 'KUBE_TLS', exitCode: 2 });
    expect((tls as Error).message).toContain(
      `${cp.server} presented a certificate the kubeconfig does not trust`,
    );

    const closed = await new Promise<number>((res) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as AddressInfo;
        srv.close(() => res(port));
      });
    });
    const down = cp.kubeconfigFor('down', admin, { server: `https://127.0.0.1:${closed}` });
    const r = await runCli(['deploy', 'web', '--release', 'v1', '--env', 'staging', '--wait'], {
      cwd: workspace('shop-rbac'),
      env: { KUBECONFIG: down },
      timeoutMs: 60_000,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(
      `cannot reach the Kubernetes API at https://127.0.0.1:${closed} to list deployments: connection refused`,
    );
    expect(r.stderr).toMatch(/hint: is the cluster up\?/);
    expect(r.stderr).not.toMatch(/\n\s+at |a bug in platformctl/);
  });

  it('a 429 (storage re-initializing, as the API server answers after CRD changes) is retried, not fatal', async () => {
    // A proxy in front of the real API server answers the first two lists of Deployments with the
    // API server's own 429 Status; everything else goes through with the admin's certificate.
    let refused = 0;
    const proxy = createHttpServer((req, res) => {
      if (req.url?.includes('/deployments') && refused < 2) {
        refused++;
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(
          JSON.stringify({
            kind: 'Status',
            apiVersion: 'v1',
            status: 'Failure',
            message: 'storage is (re)initializing',
            reason: 'TooManyRequests',
            details: { retryAfterSeconds: 1 },
            code: 429,
          }),
        );
        return;
      }
      const { authorization: _none, ...headers } = req.headers;
      const upstream = httpsRequest(
        `${cp.server}${req.url}`,
        {
          method: req.method,
          headers: { ...headers, host: new URL(cp.server).host },
          ca: cp.ca,
          cert: readFileSync(join(cp.dir, 'pki', 'admin.crt')),
          key: readFileSync(join(cp.dir, 'pki', 'admin.key')),
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const kubeconfig = cp.kubeconfigFor(
        'via-proxy',
        {},
        {
          server: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
          ca: null,
        },
      );
      const status = await provider('shop-rbac', kubeconfig).status();
      expect(status.provider).toBe('kubernetes');
      expect(refused).toBe(2);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});
