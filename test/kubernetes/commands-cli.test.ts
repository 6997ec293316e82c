/**
 * The commands that drive a running platform get it through openProvider: with `--env` they
 * reach the Kubernetes provider (here a real control plane) as a user runs them, and the ones that
 * only exist locally say so with exit 2. (`logs --env` is in provider-logs.test.ts: without
 * kubelets the control plane has no container output.)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { KubernetesProvider } from '../../src/providers/kubernetes/kubernetes-provider.ts';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';
import {
  type ControlPlane,
  controlPlaneUnavailable,
  kubeApi,
  startControlPlane,
} from '../helpers/kube-controlplane.ts';

const PLATFORM = `name: shop
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
  staging: { cloud: aws, region: eu-west-1, provider: kubernetes, namespace: shop-staging, registry: ghcr.io/acme }
  prod: { cloud: aws, region: eu-west-1, provider: kubernetes, namespace: shop-prod, registry: ghcr.io/acme, protected: true }
services:
  web: { path: services/web, port: 8080, routes: [/web] }
`;

const unavailable = controlPlaneUnavailable();
let cp: ControlPlane;
let kubeconfig: string;
const ws = workspace({ 'platform.yaml': PLATFORM });
const cli = (args: string[]) =>
  runCli(args, { cwd: ws.dir, env: { KUBECONFIG: kubeconfig }, timeoutMs: 60_000 });

beforeAll(async () => {
  if (unavailable) return;
  cp = await startControlPlane();
  kubeconfig = cp.kubeconfig;
  const provider = new KubernetesProvider(loadPlatform(ws.dir), 'staging', { kubeconfig, pollMs: 100 });
  await provider.deploy('web', { service: 'web', version: 'v1' }, { replicas: 1 });
}, 1_200_000);
afterAll(async () => {
  await cp?.stop();
  ws.dispose();
});

describe.skipIf(unavailable)('commands with --env on the kubernetes provider (real control plane)', () => {
  it('status reads the cluster', async () => {
    const r = await cli(['status', '--env', 'staging', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const st = JSON.parse(r.stdout);
    expect(st.provider).toBe('kubernetes');
    expect(st.services.find((s: { name: string }) => s.name === 'web')).toMatchObject({ versions: ['v1'] });
  });

  it('scale patches the Deployment; a protected environment needs --allow-prod', async () => {
    const r = await cli(['scale', 'web', '2', '--env', 'staging', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'web', desiredReplicas: 2 });
    const api = await kubeApi(kubeconfig);
    expect((await api.get('apps/v1', 'Deployment', 'web-v1', 'shop-staging')).spec.replicas).toBe(2);
    const refused = await cli(['scale', 'web', '2', '--env', 'prod']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('environment "prod" is protected');
    expect(refused.stderr).toContain('--allow-prod');
  });

  it('traces and top say they need the local provider, with exit 2', async () => {
    for (const args of [['traces'], ['top']]) {
      const r = await cli([...args, '--env', 'staging', '--json']);
      expect(r.exitCode, r.stderr).toBe(2);
      const err = JSON.parse(r.stdout || r.stderr);
      expect(JSON.stringify(err)).toContain('PROVIDER_UNSUPPORTED');
    }
  });
});

describe('providers are opened in one place', () => {
  it('no module outside src/providers constructs a provider (commands use openProvider)', () => {
    const files = execFileSync('git', ['ls-files', 'src'], { cwd: REPO_ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f.endsWith('.ts') && !f.startsWith('src/providers/'));
    const offenders = files.filter((f) =>
      /new (Local|Kubernetes)Provider\(/.test(readFileSync(join(REPO_ROOT, f), 'utf8')),
    );
    expect(offenders, 'get the provider from openProvider(platform, opts.env) instead').toEqual([]);
  });
});
