/**
 * A release carries the protos it needs at run time beside its bundle: a gRPC service its own
 * (analytics: analytics.proto), a client those of the services it calls (content calls auth:
 * auth.proto), and nothing else.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, workspace } from '../helpers/cli.ts';
import { freePorts, runtimePlatformYaml } from '../helpers/runtime-platform.ts';

describe('release protos', () => {
  it("content's release has auth.proto, analytics' its own, the gateway none", async () => {
    const ws = workspace({ 'platform.yaml': runtimePlatformYaml('protos', await freePorts(4)) });
    try {
      const protos: Record<string, string[]> = {};
      for (const service of ['content', 'analytics', 'gateway']) {
        const built = await runCli(['release', 'build', service, '--release', '1.0.0'], {
          cwd: ws.dir,
          timeoutMs: 120_000,
        });
        expect(built.exitCode, built.stderr).toBe(0);
        const dir = join(ws.dir, '.platform', 'releases', service, '1.0.0');
        protos[service] = readdirSync(dir).includes('proto') ? readdirSync(join(dir, 'proto')) : [];
      }
      expect(protos).toEqual({ content: ['auth.proto'], analytics: ['analytics.proto'], gateway: [] });
    } finally {
      ws.dispose();
    }
  }, 300_000);
});
