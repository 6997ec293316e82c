import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CONFIG_FILE } from '../core/config/load.ts';
import { CLOUDS, type Cloud } from '../core/config/schema.ts';
import { renderPlatformYaml } from '../core/config/template.ts';
import type { CommandContext } from '../core/context.ts';
import { PlatformError } from '../core/errors.ts';
import { askChoice, askText } from '../core/prompts.ts';
import { writeProjectFiles } from '../scaffold/project.ts';

interface InitOptions {
  name?: string;
  owner?: string;
  cloud?: Cloud;
  region?: string;
  force?: boolean;
}

const DEFAULT_REGION: Record<Cloud, string> = { aws: 'eu-west-1', azure: 'westeurope', gcp: 'europe-west1' };
const NAME = /^[a-z][a-z0-9-]{0,39}$/;

export async function init(ctx: CommandContext, _args: string[], opts: InitOptions) {
  const file = join(ctx.cwd, CONFIG_FILE);
  if (existsSync(file) && !opts.force) {
    throw new PlatformError('CONFIG_EXISTS', `${CONFIG_FILE} already exists in ${ctx.cwd}`, {
      hint: 'pass --force to overwrite it, or edit it and run `platformctl config validate`',
    });
  }
  const suggested = basename(ctx.cwd)
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-');
  const name = await askText(ctx, {
    flag: 'name',
    message: 'Platform name:',
    value: opts.name,
    default: ctx.interactive && NAME.test(suggested) ? suggested : undefined,
    validate: (v) => NAME.test(v) || 'lowercase letters, digits and dashes, starting with a letter',
  });
  if (!NAME.test(name)) {
    throw new PlatformError('USAGE', `--name "${name}" is not a valid platform name`, {
      hint: 'use lowercase letters, digits and dashes, starting with a letter, e.g. --name acme-media',
    });
  }
  const owner = await askText(ctx, { flag: 'owner', message: 'Owning team:', value: opts.owner });
  const cloud = await askChoice(ctx, {
    flag: 'cloud',
    message: 'Cloud:',
    value: opts.cloud,
    choices: CLOUDS,
  });
  const region = await askText(ctx, {
    flag: 'region',
    message: 'Primary region:',
    value: opts.region,
    default: ctx.interactive ? DEFAULT_REGION[cloud] : undefined,
  });

  writeFileSync(file, renderPlatformYaml({ name, owner, cloud, region }));
  const gitignore = keepOutOfGit(ctx.cwd);
  const project = writeProjectFiles(ctx.cwd, name);
  for (const w of project.warnings) ctx.out.warn(`${w.message}\nhint: ${w.hint}`);
  ctx.auditRoot = ctx.cwd;
  ctx.out.result({ file, gitignore, files: project.written, name, owner, cloud, region }, () => {
    ctx.out.success(`wrote ${[file, ...project.written].join(', ')}`);
    return `Next:\n  npm install\n  platformctl config validate\n  platformctl up`;
  });
}

/** What init keeps out of git, each with the spellings of it a user's .gitignore may already have. */
const IGNORED = [
  {
    pattern: '/.platform/',
    spellings: ['.platform', '.platform/', '/.platform', '/.platform/'],
    why: 'platformctl state: master key, secrets, audit log, local data',
  },
  {
    // init writes a package.json, so the next `npm install` makes one.
    pattern: 'node_modules/',
    spellings: ['node_modules', 'node_modules/', '/node_modules', '/node_modules/'],
    why: 'dependencies npm installs',
  },
] as const;

/**
 * Keeps `.platform/` (master key, encrypted secrets, audit log, local data) and `node_modules/`
 * out of git: adds each pattern to `.gitignore` unless a line already ignores it. Returns the file
 * it wrote, if any.
 */
function keepOutOfGit(dir: string): string | undefined {
  const file = join(dir, '.gitignore');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const lines = new Set(current.split(/\r?\n/).map((l) => l.trim()));
  const missing = IGNORED.filter((i) => !i.spellings.some((s) => lines.has(s)));
  if (missing.length === 0) return undefined;
  const separator = current === '' || current.endsWith('\n') ? '' : '\n';
  appendFileSync(file, separator + missing.map((i) => `# ${i.why}\n${i.pattern}\n`).join(''));
  return file;
}
