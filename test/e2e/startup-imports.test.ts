/**
 * What the everyday read-only commands load from the built CLI: `status` of a stopped local
 * platform reads the state file without the local provider (supervisor client, releases, ports,
 * logs), and neither it nor `config validate` loads the audit log and its key, which only
 * mutating commands write. Read from the bundle's source maps, so it holds for what users run.
 * Neither loads Node builtins it does not use: no ES-module facades of builtins (they read every
 * export and so run the lazy getters), no node:crypto, no stdin stream.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, REPO_ROOT } from '../helpers/cli.ts';

const project = mkdtempSync(join(tmpdir(), 'startup-imports-'));
copyFileSync(join(REPO_ROOT, 'platform.yaml'), join(project, 'platform.yaml'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

/** The source files (repository paths) of every bundle chunk `platformctl <args>` loads. */
function sourcesLoaded(args: string[]): string[] {
  const hook = `
    import module from 'node:module';
    const files = [];
    module.registerHooks({ load(url, c, next) { if (url.includes('/dist/cli/')) files.push(url); return next(url, c); } });
    process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify(files) + '\\n'));
  `;
  const r = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, BIN, ...args],
    { cwd: project, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
  );
  expect(r.status, r.stderr).toBe(0);
  const files = JSON.parse(/LOADED (.*)/.exec(r.stderr)?.[1] ?? '[]') as string[];
  return files.flatMap((url) => {
    const map = JSON.parse(readFileSync(`${new URL(url).pathname}.map`, 'utf8')) as { sources: string[] };
    return map.sources.map((s) => s.replace(/^(\.\.\/)+/, ''));
  });
}

describe('start-up imports of read-only commands', () => {
  it('status of a stopped platform loads the state reader, not the provider or the audit log', () => {
    const sources = sourcesLoaded(['status']);
    expect(sources).toContain('src/providers/local/state.ts');
    expect(sources).not.toContain('src/providers/local/local-provider.ts');
    expect(sources).not.toContain('src/providers/local/releases.ts');
    expect(sources).not.toContain('src/core/audit.ts');
    // No drill is on: the drill timeline's modules stay unloaded.
    expect(sources).not.toContain('src/drills/diagnosis.ts');
    expect(sources).not.toContain('src/drills/state.ts');
  });

  it('config validate loads neither the audit log nor its key', () => {
    sourcesLoaded(['config', 'validate']); // fills the validated-config cache
    const sources = sourcesLoaded(['config', 'validate']);
    expect(sources).toContain('src/core/config/validated-cache.ts');
    expect(sources).not.toContain('src/core/audit.ts');
    expect(sources).not.toContain('src/core/audit-key.ts');
  });

  // Each of these was loaded on every start before: crypto by the cache key's SHA-256 and json-file's
  // temp names, fs/promises by the ES-module facade of node:fs and by touching process.stdin (here
  // /dev/null, as in the benchmark), parseArgs by node:util's facade, the diagnostic report by
  // node:process's facade.
  const UNUSED_BUILTINS = [
    'NativeModule crypto',
    'NativeModule internal/fs/promises',
    'NativeModule internal/util/parse_args/parse_args',
    'NativeModule internal/process/report',
  ];

  it.each([[['status']], [['config', 'validate']]])('%j loads no builtin it does not use', (args) => {
    sourcesLoaded(['config', 'validate']); // fills the validated-config cache
    const hook = `process.on('exit', () => process.stderr.write('\\nBUILTINS ' + JSON.stringify(process.moduleLoadList) + '\\n'));`;
    const r = spawnSync(
      process.execPath,
      ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, BIN, ...args],
      {
        cwd: project,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const loaded = JSON.parse(/BUILTINS (.*)/.exec(r.stderr)?.[1] ?? '[]') as string[];
    expect(loaded).toContain('NativeModule fs'); // the list is Node's module record
    expect(loaded.filter((m) => UNUSED_BUILTINS.includes(m))).toEqual([]);
  });

  it('the build leaves no empty chunk to load (type-only modules became chunks of nothing)', () => {
    const dir = join(REPO_ROOT, 'dist', 'cli');
    // What is left of a chunk without the build's banner (require for CommonJS) and its map comment.
    const code = (name: string) =>
      readFileSync(join(dir, name), 'utf8')
        .replace(/^import \{ createRequire as __platformctlRequire \}.*$/m, '')
        .replace(/^\/\/# sourceMappingURL=.*$/m, '')
        .trim();
    const empty = readdirSync(dir).filter((name) => name.endsWith('.js') && code(name) === '');
    expect(empty).toEqual([]);
  });

  it("the launcher's entry chunk holds the CLI itself, not a re-export of a shared chunk", () => {
    const map = JSON.parse(readFileSync(join(REPO_ROOT, 'dist', 'cli', 'cli.js.map'), 'utf8')) as {
      sources: string[];
    };
    expect(map.sources.map((s) => s.replace(/^(\.\.\/)+/, ''))).toContain('src/cli.ts');
  });
});
