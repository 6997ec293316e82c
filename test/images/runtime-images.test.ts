/**
 * Every runtime image starts: each `runtime/<service>/Dockerfile` is built the way it says
 * (test/helpers/dockerfile.ts: same commands, same bundle, dev dependencies pruned) and its CMD is
 * started with the image's ENV plus the environment the Kubernetes manifests give the container,
 * until `/healthz` and `/readyz` answer 200.
 */

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPlatform } from '../../src/core/config/load.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { type BuiltImage, buildDockerfile, type StartedImage, startImage } from '../helpers/dockerfile.ts';
import { freePort, manifestEnv, probesAnswer } from '../helpers/image-run.ts';

const platform = loadPlatform(REPO_ROOT, undefined, {});
const ENVIRONMENT = 'staging';

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
    const env = manifestEnv(platform, ENVIRONMENT, service);
    // The manifests' port may be taken on a shared machine; everything else is as the pod gets it.
    env.PORT = String(await freePort());
    env.HOST = '127.0.0.1';
    env.DATA_DIR = image.hostPath(image.runtime, env.DATA_DIR ?? '/data');
    const started = startImage(image, env);
    entry.started = started;
    const ok = await probesAnswer(started.url);
    expect(ok, `${service} did not become ready; its output:\n${started.logs()}`).toBe(true);
  }, 180_000);
});
