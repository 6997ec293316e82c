/**
 * A throw-away project running the real runtime on the local provider, on free ports, for e2e
 * tests that need the whole platform (chaos, drills). `runtimeDir` lets a test run a modified copy
 * of the runtime (e.g. with a bug planted) instead of the built-in services.
 */
import { cpSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/core/ports.ts';
import { REPO_ROOT, runCli, workspace } from './cli.ts';

export interface RuntimePlatform {
  dir: string;
  gatewayUrl: string;
  stop(): Promise<void>;
}

export async function startRuntimePlatform(
  opts: { patch?: (runtimeDir: string) => void } = {},
): Promise<RuntimePlatform> {
  const [g, a, c, an] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const ws = workspace();
  let path = (name: string) => `"builtin:${name}"`;
  if (opts.patch) {
    cpSync(join(REPO_ROOT, 'runtime'), join(ws.dir, 'runtime'), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(ws.dir, 'node_modules'));
    opts.patch(join(ws.dir, 'runtime'));
    path = (name: string) => `runtime/${name}`;
  }
  const yaml = `apiVersion: platformctl/v1
name: e2e
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway: { path: ${path('gateway')}, port: ${g}, kind: gateway, dependsOn: [auth, content, analytics] }
  auth: { path: ${path('auth')}, port: ${a}, routes: [/auth, /.well-known] }
  content: { path: ${path('content')}, port: ${c}, routes: [/content] }
  analytics: { path: ${path('analytics')}, port: ${an}, routes: [/analytics] }
`;
  writeFileSync(join(ws.dir, 'platform.yaml'), yaml);
  const up = await runCli(['up', '--detach'], { cwd: ws.dir, timeoutMs: 180_000 });
  if (up.exitCode !== 0) {
    await runCli(['down'], { cwd: ws.dir, timeoutMs: 60_000 });
    ws.dispose();
    throw new Error(`platformctl up failed (${up.exitCode}):\n${up.stderr}`);
  }
  return {
    dir: ws.dir,
    gatewayUrl: `http://127.0.0.1:${g}`,
    stop: async () => {
      await runCli(['down'], { cwd: ws.dir, timeoutMs: 60_000 });
      ws.dispose();
    },
  };
}
