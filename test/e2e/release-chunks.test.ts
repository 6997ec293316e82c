/**
 * Releases are split: what a service imports lazily lands in `chunks/` beside `main.mjs`, read only
 * when used, so a start no longer parses every backend's client (issue 21: cold starts and the
 * restarts that wait for them). The checksum covers every file of the bundle.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, workspace } from '../helpers/cli.ts';

const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});

const LAZY = (marker: string) =>
  `export const MARKER = '${marker}';\nexport function answer(): number {\n  return 42;\n}\n`;

function project(): string {
  const ws = workspace({
    'platform.yaml': `name: chunks
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  lazy: { path: ./svc, port: 18999 }
`,
    'svc/package.json': '{ "name": "lazy", "version": "0.3.0", "type": "module" }\n',
    'svc/src/main.ts':
      "const { answer } = await import('./lazy.ts');\nprocess.stdout.write('answer ' + answer() + '\\n');\n",
    'svc/src/lazy.ts': LAZY('lazy-module-body'),
  });
  disposers.push(ws.dispose);
  return ws.dir;
}

async function build(dir: string, version: string): Promise<{ checksum: string }> {
  const r = await runCli(['release', 'build', 'lazy', '--release', version, '--json'], { cwd: dir });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { checksum: string };
}

describe('release bundles', () => {
  it('put lazily imported code in chunks that the entry loads when it runs', async () => {
    const dir = project();
    const first = await build(dir, '1.0.0');
    const release = join(dir, '.platform', 'releases', 'lazy', '1.0.0');
    expect(readFileSync(join(release, 'main.mjs'), 'utf8')).not.toContain('lazy-module-body');
    const chunks = readdirSync(join(release, 'chunks'));
    expect(
      chunks.some((c) => readFileSync(join(release, 'chunks', c), 'utf8').includes('lazy-module-body')),
    ).toBe(true);
    expect(execFileSync(process.execPath, [join(release, 'main.mjs')]).toString()).toBe('answer 42\n');

    // The checksum is the bundle's: the same sources give the same one, a changed chunk another.
    expect((await build(dir, '1.0.1')).checksum).toBe(first.checksum);
    writeFileSync(join(dir, 'svc', 'src', 'lazy.ts'), LAZY('changed-lazy-module'));
    expect((await build(dir, '1.0.2')).checksum).not.toBe(first.checksum);
  });
});
