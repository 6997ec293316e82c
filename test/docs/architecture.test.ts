import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { platformSchema } from '../../src/core/config/schema.ts';
import { renderPlatformYaml } from '../../src/core/config/template.ts';
import { renderArchitecture } from '../../src/docs/architecture.ts';
import { runCli, workspace } from '../helpers/cli.ts';

const yaml = renderPlatformYaml({ name: 'acme', owner: 'platform', cloud: 'gcp', region: 'us-central1' });

describe('architecture docs', () => {
  it('draws routes, dependencies, data stores, environments and delivery from platform.yaml', () => {
    const config = platformSchema.parse(parse(yaml));
    config.services.search = {
      ...config.services.auth!,
      path: './search',
      port: 8090,
      routes: ['/search'],
      dependsOn: ['content'],
    };
    const md = renderArchitecture(config, 'platform.yaml');
    expect(md.match(/```mermaid/g)?.length).toBeGreaterThanOrEqual(4);
    expect(md).toContain('gateway -->|"/search"| search');
    expect(md).toContain('search -.->|depends on| content');
    expect(md).toContain('content -->|"publish content.uploaded"| bus');
    expect(md).toContain('bus -->|"consume content.*"| analytics');
    expect(md).toContain('search --> search_db[("SQLite: search")]');
    expect(md).toContain('prod_main <-->|replication| prod_europe_west1');
    expect(md).toContain('dev_env -->|promote| staging_env');
    expect(md).toContain('"weight 10%"');
    // Mermaid ids never contain characters it would misparse.
    for (const line of md.split('\n').filter((l) => l.startsWith('  ') && l.includes('-->')))
      expect(line.trim().split(/\s/)[0]).toMatch(/^[A-Za-z0-9_]+$/);
  });

  it('is written by `platformctl docs generate` and checked by --check', async () => {
    const ws = workspace({ 'platform.yaml': yaml });
    try {
      const gen = await runCli(['docs', 'generate', '--out', 'out-docs'], { cwd: ws.dir });
      expect(gen.exitCode).toBe(0);
      expect(gen.stdout).toContain('wrote  out-docs/architecture.md');
      const check = await runCli(['docs', 'generate', '--out', 'out-docs', '--check'], { cwd: ws.dir });
      expect(check.exitCode).toBe(0);
      const stale = await runCli(
        ['docs', 'generate', '--out', 'out-docs', '--check', '--only', 'architecture'],
        {
          cwd: ws.dir,
          env: { PLATFORMCTL_SERVICES__AUTH__PORT: '9999' },
        },
      );
      expect(stale.exitCode).toBe(1);
      expect(stale.stdout).toContain('OUT OF DATE');
    } finally {
      ws.dispose();
    }
  });
});
