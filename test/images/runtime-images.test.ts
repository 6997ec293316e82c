/**
 * Every runtime image starts: each `runtime/<service>/Dockerfile` is built the way it says
 * (test/helpers/dockerfile.ts: same commands, same bundle, dev dependencies pruned) and its CMD is
 * started with the image's ENV plus the environment the Kubernetes manifests give the container,
 * until `/healthz` and `/readyz` answer 200.
 */

import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { targetOf, versionObjects } from '../../src/providers/kubernetes/manifests.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { type BuiltImage, buildDockerfile, type StartedImage, startImage } from '../helpers/dockerfile.ts';
import { waitFor } from '../helpers/poll.ts';

const platform = loadPlatform(REPO_ROOT, undefined, {});
const ENVIRONMENT = 'staging';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

type EnvVar = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } };

/** The container env of the service's Deployment, with the downward API answered as a pod would. */
function manifestEnv(service: string): Record<string, string> {
  const spec = platform.config.services[service];
  if (!spec) throw new Error(`no service ${service}`);
  const objects = versionObjects(targetOf(platform.config, ENVIRONMENT), service, spec, 'v1', 1);
  const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
    metadata: { name: string };
    spec: { template: { spec: { containers: { env: EnvVar[] }[] } } };
  };
  const env: Record<string, string> = {};
  for (const v of deployment.spec.template.spec.containers[0]?.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value;
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.name')
      env[v.name] = `${deployment.metadata.name}-0`;
    else
      throw new Error(
        `${service}: env ${v.name} comes from ${JSON.stringify(v.valueFrom)}, which this test cannot answer`,
      );
  }
  return env;
}

const running: { image: BuiltImage; started?: StartedImage }[] = [];
afterAll(async () => {
  for (const r of running) {
    await r.started?.stop();
    r.image.dispose();
  }
});

describe.each(['gateway', 'auth', 'content', 'analytics'])('runtime/%s/Dockerfile', (service) => {
  it("builds as written and its CMD answers /healthz and /readyz with the manifests' env", async () => {
    const steps: string[] = [];
    const image = buildDockerfile(join(REPO_ROOT, 'runtime', service, 'Dockerfile'), REPO_ROOT, {
      log: (l) => steps.push(l),
    });
    const entry: { image: BuiltImage; started?: StartedImage } = { image };
    running.push(entry);
    expect(steps.some((s) => s.includes('npm prune --omit=dev'))).toBe(true);
    const env = manifestEnv(service);
    // The manifests' port may be taken on a shared machine; everything else is as the pod gets it.
    env.PORT = String(await freePort());
    env.HOST = '127.0.0.1';
    env.DATA_DIR = image.hostPath(image.runtime, env.DATA_DIR ?? '/data');
    const started = startImage(image, env);
    entry.started = started;
    const answers = async () => {
      const codes = await Promise.all(
        ['/healthz', '/readyz'].map((p) =>
          fetch(started.url + p).then(
            (r) => r.status,
            () => 0,
          ),
        ),
      );
      return codes.every((c) => c === 200) ? true : undefined;
    };
    const ok = await waitFor(`${service} /healthz and /readyz`, answers, 120, 250).then(
      () => true,
      () => false,
    );
    expect(ok, `${service} did not become ready; its output:\n${started.logs()}`).toBe(true);
  }, 180_000);
});
