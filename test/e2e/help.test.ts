/**
 * Root help is rendered from the build-time verb table (not by declaring every command), and must
 * be exactly what the full program renders; verbs are found past global flags and their values.
 */
import { describe, expect, it } from 'vitest';
import { buildProgram, requestedVerb } from '../../src/cli.ts';
import { REPO_ROOT, runCli } from '../helpers/cli.ts';

function fullHelp(): string {
  const program = buildProgram();
  let out = '';
  program.configureOutput({ writeOut: (s) => (out += s), getOutHelpWidth: () => 80 });
  program.exitOverride();
  try {
    program.parse(['node', 'platformctl', '--help']);
  } catch {
    // commander ends --help by throwing under exitOverride
  }
  return out;
}

describe('root help', () => {
  it('is identical to the help of the fully declared program', async () => {
    const r = await runCli(['--help'], { cwd: REPO_ROOT });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(fullHelp());
  });

  it('lists every visible verb', async () => {
    const r = await runCli(['--help'], { cwd: REPO_ROOT });
    for (const verb of [
      'init',
      'up',
      'deploy',
      'canary',
      'load',
      'chaos',
      'drill',
      'synth',
      'service',
      'pipeline',
      'secrets',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${verb}\\b`, 'm'));
    }
    expect(r.stdout).not.toContain('__supervise');
  });
});

describe('requestedVerb', () => {
  it.each([
    [['--json', 'status'], 'status'],
    [['--config', 'x.yaml', 'config', 'show'], 'config'],
    [['-C', '/tmp', '--verbose', 'up', '--detach'], 'up'],
    [['--cwd', 'dir', '--', 'init'], 'init'],
    [['--json'], undefined],
    [[], undefined],
  ])('%j -> %s', (args, verb) => {
    expect(requestedVerb(args)).toBe(verb);
  });
});
