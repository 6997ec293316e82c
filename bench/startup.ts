/**
 * bench:startup — median wall time of real commands against `node -e 0`, interleaved in one run so
 * machine noise hits all alike: `--version` and `--help` (target ratio <= 1.5), and
 * `config validate`, `status` with the platform stopped and `deploy --help` (target <= 2). The
 * last three run in a temporary directory holding a copy of the repository's platform.yaml and no
 * `.platform/` state, as in a fresh checkout. The load average is printed with the figures.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, printTable, writeResult } from './harness.ts';

const RUNS = Number(process.env.RUNS ?? 40);
const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'platformctl');
const project = mkdtempSync(join(tmpdir(), 'bench-startup-'));
copyFileSync(join(ROOT, 'platform.yaml'), join(project, 'platform.yaml'));
process.on('exit', () => rmSync(project, { recursive: true, force: true }));
const commands: Record<string, string[]> = {
  'node -e 0': ['-e', '0'],
  'platformctl --version': [BIN, '--version'],
  'platformctl --help': [BIN, '--help'],
  'platformctl config validate': [BIN, 'config', 'validate'],
  'platformctl config validate (edited file)': [BIN, 'config', 'validate'],
  'platformctl status (stopped)': [BIN, 'status'],
  'platformctl deploy --help': [BIN, 'deploy', '--help'],
};
const TARGETS: Record<string, number> = {
  'platformctl --version': 1.5,
  'platformctl --help': 1.5,
  'platformctl config validate': 2,
  'platformctl status (stopped)': 2,
  'platformctl deploy --help': 2,
};

const EDITED = 'platformctl config validate (edited file)';

/**
 * CPU time (user + system, ms) of this process's waited-for children so far, from /proc: wall
 * times inflate with the machine's load, the CPU a command needs much less.
 */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
}

const cpu: Record<string, number> = {};

function timeOnce(name: string, args: string[], edited = false): number {
  if (edited) rmSync(join(project, '.platform', 'cache'), { recursive: true, force: true });
  const cpuBefore = childrenCpuMs();
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: 'ignore', cwd: project });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  const wall = Number(process.hrtime.bigint() - start) / 1e6;
  cpu[name] = (cpu[name] ?? 0) + childrenCpuMs() - cpuBefore;
  return wall;
}

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
const loadBefore = loadavg()[0]!;
for (const [name, args] of Object.entries(commands)) timeOnce(name, args, name === EDITED); // warm the caches
for (const name of Object.keys(commands)) cpu[name] = 0;
for (let i = 0; i < RUNS; i++)
  for (const [name, args] of Object.entries(commands))
    samples[name]?.push(timeOnce(name, args, name === EDITED));
const loadAfter = loadavg()[0]!;

const baseline = median(samples['node -e 0'] ?? []);
const ratios = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, median(s) / baseline]));
const cpuMs = Object.fromEntries(Object.keys(samples).map((name) => [name, (cpu[name] ?? 0) / RUNS]));
const rows = Object.entries(samples).map(([name, s]) => [
  name,
  median(s).toFixed(1),
  ratios[name]!.toFixed(2),
  TARGETS[name] ? `<= ${TARGETS[name]}` : '',
  cpuMs[name]!.toFixed(0),
  (cpuMs[name]! / cpuMs['node -e 0']!).toFixed(2),
]);
printTable(['command', 'median ms', 'ratio vs node -e 0', 'target', 'CPU ms (mean)', 'CPU ratio'], rows);
const missed = Object.entries(TARGETS).filter(([name, target]) => ratios[name]! > target);
const file = writeResult('startup', {
  runs: RUNS,
  loadAverage: { before: loadBefore, after: loadAfter },
  medianMs: Object.fromEntries(rows.map((r) => [r[0], Number(r[1])])),
  cpuMs,
  ratios,
  targets: TARGETS,
  missed: missed.map(([name]) => name),
});
console.log(
  `\nload average ${loadBefore.toFixed(1)} -> ${loadAfter.toFixed(1)}; ` +
    (missed.length === 0 ? 'all targets met' : `missed: ${missed.map(([n]) => n).join(', ')}`) +
    ` — ${file}`,
);
process.exitCode = missed.length === 0 ? 0 : 1;
