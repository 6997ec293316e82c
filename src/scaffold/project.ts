/**
 * The files a platform repository needs beside platform.yaml so the services `service new` adds
 * build, test and lint there the way their Dockerfile and workflow say: a package.json that
 * depends on platformctl (the runtime kit the services bundle against), the Node version the
 * workflow reads from `.nvmrc`, and a `.dockerignore` that keeps `node_modules` and the state
 * directory (master key, secrets) out of the build context.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../providers/local/releases.ts';

interface PackageJson {
  name?: string;
  version?: string;
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const PLATFORMCTL = 'platformctl';
/** What the generated workflow runs in each service: `npx biome check .` and `npx vitest run`. */
const SERVICE_TOOLS = ['@biomejs/biome', 'vitest'];
const DOCKERIGNORE = `# Kept out of image builds: installed dependencies (the Dockerfile runs npm ci) and platformctl's
# state directory (master key, encrypted secrets, audit log).
node_modules
.platform
.git
cdktf.out
coverage
`;

function readPackage(file: string): PackageJson | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/**
 * The package.json of a new platform repository. platformctl is a production dependency: the
 * service images prune dev dependencies, and the runtime kit's native addons (better-sqlite3,
 * argon2, sharp) must stay in them.
 */
export function platformPackageJson(name: string): string {
  const own = readPackage(join(packageRoot(), 'package.json')) ?? {};
  const devDependencies = Object.fromEntries(
    SERVICE_TOOLS.flatMap((tool) => {
      const range = own.devDependencies?.[tool];
      return range ? [[tool, range]] : [];
    }),
  );
  const pkg = {
    name,
    private: true,
    type: 'module',
    ...(own.engines ? { engines: own.engines } : {}),
    dependencies: { [PLATFORMCTL]: `^${own.version ?? '0.0.0'}` },
    devDependencies,
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

export interface ProjectFiles {
  /** Files written because they were missing. */
  written: string[];
  /** Problems with files the user already has, each with what to do. */
  warnings: { message: string; hint: string }[];
}

/** Writes the missing project files into `dir`; files the user already has are left alone. */
export function writeProjectFiles(dir: string, name: string): ProjectFiles {
  const written: string[] = [];
  const warnings: ProjectFiles['warnings'] = [];
  const writeMissing = (file: string, text: () => string) => {
    const path = join(dir, file);
    if (existsSync(path)) return;
    writeFileSync(path, text());
    written.push(path);
  };
  const existing = readPackage(join(dir, 'package.json'));
  writeMissing('package.json', () => platformPackageJson(name));
  if (existing?.devDependencies?.[PLATFORMCTL] && !existing.dependencies?.[PLATFORMCTL])
    warnings.push({
      message:
        'platformctl is a devDependency in package.json: the service images prune dev dependencies and lose the runtime they run on',
      hint: 'run `npm install --save-prod platformctl`',
    });
  writeMissing('.nvmrc', () => readFileSync(join(packageRoot(), '.nvmrc'), 'utf8'));
  writeMissing('.dockerignore', () => DOCKERIGNORE);
  return { written, warnings };
}

/**
 * Where a service in `root` imports the runtime kit from: the platformctl package the repository
 * depends on (what its Dockerfile's `npm ci` installs), or `undefined` when the repository does not
 * declare one (platformctl's own repository, or a project without package.json).
 */
export function runtimeLibPackage(root: string): string | undefined {
  const pkg = readPackage(join(root, 'package.json'));
  if (!pkg || pkg.name === PLATFORMCTL) return undefined;
  return pkg.dependencies?.[PLATFORMCTL] || pkg.devDependencies?.[PLATFORMCTL]
    ? `${PLATFORMCTL}/runtime/lib`
    : undefined;
}
