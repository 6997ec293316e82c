/**
 * A service's environment from platform.yaml reaches its pods the same way on every path: the
 * Deployments `gitops render` writes (built with the real kustomize), the ones `deploy` applies,
 * and the local supervisor's plan. `gitops render` once dropped a service's `env` entirely, and
 * analytics' V8 heap sizing reached only local processes.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ANALYTICS_NODE_OPTIONS } from '../../runtime/analytics/src/node-options.ts';
import { loadPlatform } from '../../src/core/config/load.ts';
import { runCli, workspace } from '../helpers/cli.ts';
import { manifestEnv } from '../helpers/image-run.ts';
import { kustomize } from '../helpers/kustomize.ts';

const PLATFORM = `name: acme
owner: ops
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
  staging: { cloud: aws, region: eu-west-1, provider: kubernetes }
services:
  gateway: { path: builtin:gateway, port: 8080, kind: gateway, dependsOn: [auth] }
  auth: { path: builtin:auth, port: 8081, routes: [/auth] }
  content: { path: builtin:content, port: 8082, routes: [/content], env: { CONTENT_MAX_UPLOAD_MB: "64" } }
  analytics: { path: builtin:analytics, port: 8083, routes: [/analytics], env: { LOG_LEVEL: warn } }
`;

const tool = kustomize();
const ws = workspace({ 'platform.yaml': PLATFORM });
afterAll(() => ws.dispose());

type EnvVar = { name: string; value?: string };

/** Each service's container env (plain values) in the Deployments `gitops render` writes. */
async function renderedEnv(): Promise<Record<string, Record<string, string>>> {
  const r = await runCli(
    ['gitops', 'render', '--env', 'staging', '--repo-url', 'https://github.com/acme/p.git'],
    {
      cwd: ws.dir,
    },
  );
  expect(r.exitCode, r.stderr).toBe(0);
  const out: Record<string, Record<string, string>> = {};
  for (const service of ['content', 'analytics', 'auth']) {
    const text = tool?.build(join(ws.dir, 'gitops', 'services', service, 'overlays', 'staging')) ?? '';
    const deployment = parseAllDocuments(text)
      .map(
        (d) =>
          d.toJS() as { kind: string; spec: { template: { spec: { containers: { env?: EnvVar[] }[] } } } },
      )
      .find((d) => d.kind === 'Deployment');
    const env: Record<string, string> = {};
    for (const v of deployment?.spec.template.spec.containers[0]?.env ?? [])
      if (v.value !== undefined) env[v.name] = v.value;
    out[service] = env;
  }
  return out;
}

describe.skipIf(!tool)(`a service's env on every path (${tool?.describe})`, () => {
  it('gitops render, deploy and up give each service the env platform.yaml and its built-in defaults give it', async () => {
    const gitops = await renderedEnv();
    const platform = loadPlatform(ws.dir, undefined, {});
    const wanted: Record<string, Record<string, string>> = {
      content: { CONTENT_MAX_UPLOAD_MB: '64' },
      analytics: { LOG_LEVEL: 'warn', NODE_OPTIONS: ANALYTICS_NODE_OPTIONS },
      auth: {},
    };
    for (const [service, env] of Object.entries(wanted)) {
      expect(gitops[service], `gitops render: ${service}`).toMatchObject(env);
      expect(manifestEnv(platform, 'staging', service), `deploy: ${service}`).toMatchObject(env);
    }
    // Nothing but what the service is given: auth has no NODE_OPTIONS of analytics'.
    expect(gitops.auth?.NODE_OPTIONS).toBeUndefined();
  }, 120_000);
});
