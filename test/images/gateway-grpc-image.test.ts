/**
 * The gateway image carries the platform's protos and can answer gRPC reflection from them when
 * GRPC_REFLECTION=true (it is off in production by default): its bundle keeps @grpc/* external, as
 * those packages read their own protos from beside their code.
 */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.ts';
import { type BuiltImage, buildDockerfile, type StartedImage, startImage } from '../helpers/dockerfile.ts';
import { reflectionServices } from '../helpers/grpc.ts';
import { freePort, probesAnswer } from '../helpers/image-run.ts';

let image: BuiltImage | undefined;
let started: StartedImage | undefined;
afterAll(async () => {
  await started?.stop();
  image?.dispose();
});

it('the gateway image lists the platform services over reflection when it is turned on', async () => {
  image = buildDockerfile(join(REPO_ROOT, 'runtime', 'gateway', 'Dockerfile'), REPO_ROOT);
  const runtime = image.runtime;
  const port = await freePort();
  // The image's own proto directories, where this build put them.
  const protoDirs = (runtime.env.GRPC_PROTO_DIRS ?? '')
    .split(',')
    .map((dir) => (image as BuiltImage).hostPath(runtime, dir));
  expect(protoDirs.length).toBeGreaterThan(0);
  started = startImage(image, {
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: image.hostPath(runtime, '/data'),
    GRPC_PROTO_DIRS: protoDirs.join(','),
    GRPC_REFLECTION: 'true',
  });
  expect(await probesAnswer(started.url), started.logs()).toBe(true);
  const listed = await reflectionServices(`127.0.0.1:${port}`, 'v1');
  expect(listed.error, started.logs()).toBeUndefined();
  expect(listed.services).toEqual(
    expect.arrayContaining(['platform.analytics.v1.Analytics', 'platform.auth.v1.Auth']),
  );
}, 180_000);
