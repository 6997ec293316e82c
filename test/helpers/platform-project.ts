/**
 * A platform repository made the way a new user makes one, entirely from flags with no terminal:
 * `platformctl init`, `npm install` (platformctl itself from `npm pack` of this checkout, since it
 * is not on the registry; everything else from the registry), then `platformctl service new`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, runCli, workspace } from './cli.ts';

export interface PlatformProject {
  dir: string;
  /** package.json as `init` wrote it, before `npm install` touched it. */
  initPackageJson: Record<string, unknown>;
  /** What `init` reported it wrote (--json). */
  initFiles: string[];
  /** The platformctl tarball in `dir` that package.json's `file:` dependency names. */
  tarball: string;
  dispose(): void;
}

function npm(cwd: string, args: string[]): string {
  return execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 10 * 60_000,
    env: { ...process.env, CI: 'true', npm_config_audit: 'false', npm_config_fund: 'false' },
  });
}

async function cli(args: string[], cwd: string): Promise<string> {
  const r = await runCli(args, { cwd, timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new Error(`platformctl ${args.join(' ')} exited ${r.exitCode}:\n${r.stderr}`);
  return r.stdout;
}

/** init + npm install + `service new <service> --template <template>`. */
export async function platformProject(opts: {
  name: string;
  service: string;
  template: string;
  cloud?: string;
  registry?: string;
}): Promise<PlatformProject> {
  const ws = workspace();
  try {
    const { dir } = ws;
    const init = JSON.parse(
      await cli(
        ['--json', 'init', '--no-input', '--name', opts.name, '--owner', 'ops'].concat([
          '--cloud',
          opts.cloud ?? 'aws',
          '--region',
          'eu-west-1',
        ]),
        dir,
      ),
    ) as { files: string[] };
    const initPackageJson = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const [packed] = JSON.parse(
      npm(dir, ['pack', REPO_ROOT, '--ignore-scripts', '--json', '--pack-destination', dir]),
    ) as { filename: string }[];
    npm(dir, ['install', `./${packed?.filename}`]);
    await cli(
      [
        'service',
        'new',
        opts.service,
        '--template',
        opts.template,
        '--owner',
        'payments',
        '--no-input',
      ].concat(opts.registry ? ['--registry', opts.registry] : []),
      dir,
    );
    const tarball = packed?.filename as string;
    return { dir, initPackageJson, initFiles: init.files, tarball, dispose: ws.dispose };
  } catch (err) {
    ws.dispose();
    throw err;
  }
}
