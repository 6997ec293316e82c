/**
 * A throw-away project running the real runtime on the local provider, on free ports, for e2e
 * tests that need the whole platform (chaos, drills). `runtimeDir` lets a test run a modified copy
 * of the runtime (e.g. with a bug planted) instead of the built-in services.
 */
import { cpSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../src/core/ports.ts';
import { gatewayAdminUrl } from '../../src/providers/local/edge-defaults.ts';
import { REPO_ROOT, runCli, workspace } from './cli.ts';

export interface RuntimePlatform {
  dir: string;
  gatewayUrl: string;
  /** The gateway's admin listener (`/metrics`, `/admin/*`), apart from its public port under `up`. */
  gatewayAdminUrl: string;
  stop(): Promise<void>;
}

/** `n` distinct free ports (the OS may hand out the same free port twice in a row). */
export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < 100 * n && ports.length < n; i++) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  if (ports.length < n) throw new Error(`could not find ${n} distinct free ports`);
  return ports;
}

/** platform.yaml for the four runtime services on the given ports (gateway, auth, content, analytics). */
export function runtimePlatformYaml(
  name: string,
  [g, a, c, an]: number[],
  path: (service: string) => string = (service) => `"builtin:${service}"`,
): string {
  return `apiVersion: platformctl/v1
name: ${name}
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway: { path: ${path('gateway')}, port: ${g}, kind: gateway, dependsOn: [auth, content, analytics] }
  auth: { path: ${path('auth')}, port: ${a}, routes: [/auth, /.well-known] }
  content: { path: ${path('content')}, port: ${c}, routes: [/content] }
  analytics: { path: ${path('analytics')}, port: ${an}, routes: [/analytics] }
`;
}

export async function startRuntimePlatform(
  opts: { patch?: (runtimeDir: string) => void } = {},
): Promise<RuntimePlatform> {
  const ports = await freePorts(4);
  const ws = workspace();
  let path = (name: string) => `"builtin:${name}"`;
  if (opts.patch) {
    cpSync(join(REPO_ROOT, 'runtime'), join(ws.dir, 'runtime'), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(ws.dir, 'node_modules'));
    opts.patch(join(ws.dir, 'runtime'));
    path = (name: string) => `runtime/${name}`;
  }
  writeFileSync(join(ws.dir, 'platform.yaml'), runtimePlatformYaml('e2e', ports, path));
  const up = await runCli(['up', '--detach'], { cwd: ws.dir, timeoutMs: 180_000 });
  if (up.exitCode !== 0) {
    await runCli(['down'], { cwd: ws.dir, timeoutMs: 60_000 });
    ws.dispose();
    throw new Error(`platformctl up failed (${up.exitCode}):\n${up.stderr}`);
  }
  return {
    dir: ws.dir,
    gatewayUrl: `http://127.0.0.1:${ports[0]}`,
    gatewayAdminUrl: gatewayAdminUrl(`http://127.0.0.1:${ports[0]}`),
    stop: async () => {
      await runCli(['down'], { cwd: ws.dir, timeoutMs: 60_000 });
      ws.dispose();
    },
  };
}
