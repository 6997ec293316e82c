/**
 * bench:startup — median wall time of `platformctl --help` and `--version` against `node -e 0`,
 * interleaved in one run so machine noise hits all three alike. Target: ratio <= 1.5.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { median, printTable, writeResult } from './harness.ts';

const RUNS = Number(process.env.RUNS ?? 40);
const BIN = join(import.meta.dirname, '..', 'bin', 'platformctl');
const commands: Record<string, string[]> = {
  'node -e 0': ['-e', '0'],
  'platformctl --version': [BIN, '--version'],
  'platformctl --help': [BIN, '--help'],
};

function timeOnce(args: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
for (const args of Object.values(commands)) timeOnce(args); // warm the file cache
for (let i = 0; i < RUNS; i++)
  for (const [name, args] of Object.entries(commands)) samples[name]?.push(timeOnce(args));

const baseline = median(samples['node -e 0'] ?? []);
const rows = Object.entries(samples).map(([name, s]) => [
  name,
  median(s).toFixed(1),
  (median(s) / baseline).toFixed(2),
]);
printTable(['command', 'median ms', 'ratio vs node -e 0'], rows);
const worst = Math.max(...Object.values(samples).map((s) => median(s) / baseline));
const file = writeResult('startup', {
  runs: RUNS,
  medianMs: Object.fromEntries(rows.map((r) => [r[0], Number(r[1])])),
  worstRatio: worst,
  target: 1.5,
});
console.log(`\nworst ratio ${worst.toFixed(2)} (target <= 1.5) — ${file}`);
process.exitCode = worst <= 1.5 ? 0 : 1;
