/**
 * What starting an image needs, whichever way it was built (test/helpers/dockerfile.ts step by
 * step, or a real OCI image): the environment the Kubernetes manifests give the container, a free
 * port on the shared machine, and a wait until `/healthz` and `/readyz` both answer 200.
 */
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import type { LoadedPlatform } from '../../src/core/config/load.ts';
import { targetOf, versionObjects } from '../../src/providers/kubernetes/manifests.ts';
import { waitFor } from './poll.ts';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

type EnvVar = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } };

/**
 * The container env of `service`'s Deployment in `environment`, with the downward API answered as a
 * pod would.
 */
export function manifestEnv(
  platform: LoadedPlatform,
  environment: string,
  service: string,
): Record<string, string> {
  const spec = platform.config.services[service];
  if (!spec) throw new Error(`no service ${service}`);
  const objects = versionObjects(targetOf(platform.config, environment), service, spec, 'v1', 1);
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

/** True once `/healthz` and `/readyz` under `url` both answer 200; false after `seconds`. */
export async function probesAnswer(url: string, seconds = 30): Promise<boolean> {
  const answers = async () => {
    const codes = await Promise.all(
      ['/healthz', '/readyz'].map((p) =>
        fetch(url + p).then(
          (r) => r.status,
          () => 0,
        ),
      ),
    );
    return codes.every((c) => c === 200) ? true : undefined;
  };
  return waitFor(`${url} /healthz and /readyz`, answers, seconds * 4, 250).then(
    () => true,
    () => false,
  );
}
