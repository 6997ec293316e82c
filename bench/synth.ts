/**
 * bench:synth — wall time of `platformctl synth --env all --cloud all` of the repository's
 * platform.yaml (3 environments x 3 clouds, prod in two regions: 33 stacks) through bin/platformctl, median of RUNS (default 5), interleaved with references
 * measured in the same run: `node -e 0`, and `cdktf synth` of the same CDKTF app when the cdktf
 * CLI is available (CDKTF_CLI=<path to bin/cdktf>, or `--install-cdktf-cli` to install
 * cdktf-cli@0.21.0 into a temp dir first). Target: platformctl <= 2000 ms.
 * SYNTH_PLATFORM=fixture synthesizes the stacks tests' platform instead (the same plus two VPN
 * links: 37 stacks), the file earlier figures in docs/benchmarks.md were measured with.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// The platform the stacks tests synthesize: the repository's environments plus VPN links.
import { PLATFORM_YAML as FIXTURE_YAML } from '../test/stacks/fixture.ts';
import { median, printTable, writeResult } from './harness.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const TARGET_MS = 2000;
const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'platformctl');
const FIXTURE = process.env.SYNTH_PLATFORM === 'fixture';
const PLATFORM_YAML = FIXTURE ? FIXTURE_YAML : readFileSync(join(ROOT, 'platform.yaml'), 'utf8');
const EXPECTED_STACKS = FIXTURE ? 37 : 33;

const work = mkdtempSync(join(tmpdir(), 'platformctl-bench-synth-'));
writeFileSync(join(work, 'platform.yaml'), PLATFORM_YAML);

/** The cdktf CLI: from CDKTF_CLI, or installed into a cached temp dir with --install-cdktf-cli. */
function cdktfCli(): { bin?: string; why?: string } {
  if (process.env.CDKTF_CLI)
    return existsSync(process.env.CDKTF_CLI)
      ? { bin: process.env.CDKTF_CLI }
      : { why: 'CDKTF_CLI does not exist' };
  const dir = join(tmpdir(), 'platformctl-bench-cdktf-cli');
  const bin = join(dir, 'node_modules', '.bin', 'cdktf');
  if (existsSync(bin)) return { bin };
  if (!process.argv.includes('--install-cdktf-cli'))
    return { why: 'cdktf CLI not installed: set CDKTF_CLI or pass --install-cdktf-cli' };
  mkdirSync(dir, { recursive: true });
  // node-pty (a native dependency of the CLI) must build, so its install script is allowed here only.
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'bench-cdktf-cli',
      private: true,
      allowScripts: { '@cdktf/node-pty-prebuilt-multiarch': true },
    }),
  );
  const npm = (args: string[]) => spawnSync('npm', args, { cwd: dir, stdio: 'inherit', timeout: 300_000 });
  const started = Date.now();
  if (npm(['install', '--no-audit', '--no-fund', '--ignore-scripts', 'cdktf-cli@0.21.0']).status !== 0)
    return { why: 'npm install cdktf-cli@0.21.0 failed' };
  if (npm(['rebuild', '@cdktf/node-pty-prebuilt-multiarch']).status !== 0)
    return { why: 'node-pty did not build' };
  console.error(`installed cdktf-cli in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return existsSync(bin) ? { bin } : { why: 'cdktf binary missing after install' };
}

/** The same CDKTF app as `platformctl synth --env all --cloud all`, as a cdktf.json project. */
function cdktfProject(): string {
  const dir = join(work, 'cdktf-app');
  mkdirSync(dir);
  writeFileSync(join(dir, 'platform.yaml'), PLATFORM_YAML);
  writeFileSync(
    join(dir, 'main.mjs'),
    `import { loadPlatform } from ${JSON.stringify(join(ROOT, 'src/core/config/load.ts'))};
import { buildApp } from ${JSON.stringify(join(ROOT, 'src/stacks/synth.ts'))};
const { config } = loadPlatform(process.cwd(), undefined, {});
buildApp(config, { outdir: process.env.CDKTF_OUTDIR ?? 'cdktf.out', clouds: ['aws', 'azure', 'gcp'] }).app.synth();
`,
  );
  writeFileSync(
    join(dir, 'cdktf.json'),
    JSON.stringify({
      language: 'typescript',
      app: `${process.execPath} main.mjs`,
      output: 'cdktf.out',
      terraformProviders: [],
      context: {},
    }),
  );
  return dir;
}

interface Command {
  args: string[];
  cwd: string;
  out?: string;
  bin?: string;
}

const commands: Record<string, Command> = {
  'node -e 0': { args: ['-e', '0'], cwd: work },
  'platformctl synth --env all --cloud all': {
    args: [BIN, 'synth', '--env', 'all', '--cloud', 'all', '--out', join(work, 'out-policy')],
    cwd: work,
    out: join(work, 'out-policy'),
  },
  'platformctl synth ... --no-policy': {
    args: [BIN, 'synth', '--env', 'all', '--cloud', 'all', '--no-policy', '--out', join(work, 'out')],
    cwd: work,
    out: join(work, 'out'),
  },
};
const cli = cdktfCli();
if (cli.bin) {
  const dir = cdktfProject();
  commands['cdktf synth (same app)'] = {
    args: ['synth'],
    cwd: dir,
    out: join(dir, 'cdktf.out'),
    bin: cli.bin,
  };
}

const env = { ...process.env, CHECKPOINT_DISABLE: '1', CI: '1', NO_COLOR: '1' };
function timeOnce(name: string, c: Command): number {
  if (c.out) rmSync(c.out, { recursive: true, force: true });
  const start = process.hrtime.bigint();
  const r = c.bin
    ? spawnSync(c.bin, c.args, { cwd: c.cwd, env, stdio: 'ignore' })
    : spawnSync(process.execPath, c.args, { cwd: c.cwd, env, stdio: 'ignore' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${name} exited ${r.status}`);
  if (c.out) {
    const stacks = readdirSync(join(c.out, 'stacks')).length;
    if (stacks !== EXPECTED_STACKS)
      throw new Error(`${name} wrote ${stacks} stacks, expected ${EXPECTED_STACKS}`);
  }
  return ms;
}

try {
  for (const [name, c] of Object.entries(commands)) timeOnce(name, c); // warm caches
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (let i = 0; i < RUNS; i++)
    for (const [name, c] of Object.entries(commands)) samples[name]?.push(timeOnce(name, c));
  const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  const cdktf = medians['cdktf synth (same app)'];
  const ours = medians['platformctl synth --env all --cloud all'] as number;
  const resources = JSON.parse(readFileSync(join(work, 'out', 'manifest.json'), 'utf8')).stacks.reduce(
    (n: number, s: { resources: number }) => n + s.resources,
    0,
  );
  printTable(
    ['command', 'median ms', 'ratio vs cdktf synth'],
    Object.entries(medians).map(([k, v]) => [k, v.toFixed(0), cdktf ? (v / cdktf).toFixed(2) : 'n/a']),
  );
  const file = writeResult('synth', {
    runs: RUNS,
    platformYaml: FIXTURE ? 'test/stacks/fixture.ts' : 'platform.yaml',
    stacks: EXPECTED_STACKS,
    resources,
    medianMs: medians,
    ratioVsCdktfSynth: cdktf ? ours / cdktf : null,
    cdktf: cli.bin ? 'cdktf-cli@0.21.0' : cli.why,
    targetMs: TARGET_MS,
  });
  console.log(
    `\n${EXPECTED_STACKS} stacks, ${resources} resources; platformctl ${ours.toFixed(0)} ms (target <= ${TARGET_MS})` +
      (cdktf
        ? `, ${(ours / cdktf).toFixed(2)}x the time of cdktf synth`
        : `; cdktf synth not measured: ${cli.why}`) +
      ` — ${file}`,
  );
  process.exitCode = ours <= TARGET_MS ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
