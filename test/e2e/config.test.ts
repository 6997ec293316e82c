import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'config');
const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});

function project(fixture: string): string {
  const ws = workspace();
  disposers.push(ws.dispose);
  copyFileSync(join(FIXTURES, fixture), join(ws.dir, 'platform.yaml'));
  return ws.dir;
}

describe('config validate on malformed files', () => {
  const cases: [string, RegExp, RegExp][] = [
    [
      'wrong-type.yaml',
      /^error: platform\.yaml:7:11: services\.gateway\.port: .*expected number/m,
      /hint: use a number here/,
    ],
    [
      'not-whole.yaml',
      /^error: platform\.yaml:8:15: services\.gateway\.replicas: /m,
      /hint: use a whole number here/,
    ],
    [
      'unknown-key.yaml',
      /^error: platform\.yaml:8:5: unknown key "replica" in services\.gateway/m,
      /did you mean "replicas"\?/,
    ],
    ['bad-yaml.yaml', /^error: platform\.yaml:\d+:\d+: invalid YAML: /m, /hint: check indentation/],
    [
      'duplicate-port.yaml',
      /^error: platform\.yaml:6:37: services\.auth\.port: port 8080 is already used by service "gateway"/m,
      /give "auth" a free port/,
    ],
    [
      'missing-env.yaml',
      /^error: platform\.yaml:1:1: missing required key "environments"/m,
      /add "environments:" with a mapping value/,
    ],
    [
      'bad-cloud.yaml',
      /^error: platform\.yaml:3:17: environments\.dev\.cloud: /m,
      /use one of: "aws", "azure", "gcp"/,
    ],
    [
      'unknown-dependency.yaml',
      /^error: platform\.yaml:5:\d+: services\.gateway\.dependsOn: depends on unknown service "billing"/m,
      /declare "billing"/,
    ],
  ];
  for (const [fixture, message, fix] of cases) {
    it(`${fixture}: exit 2 with file:line:column and a fix`, async () => {
      const r = await runCli(['config', 'validate'], { cwd: project(fixture) });
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(fix);
    });
  }

  it('lists every problem of a file at once', async () => {
    const ws = workspace({
      'platform.yaml':
        'name: Acme\nenvironments:\n  dev: { cloud: aws, region: x, provider: local, protect: true }\nservices:\n  gw: { path: p, port: 1, rutes: [] }\n',
    });
    disposers.push(ws.dispose);
    const r = await runCli(['config', 'validate'], { cwd: ws.dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/platform\.yaml:1:7: name: must be lowercase/);
    expect(r.stderr).toMatch(/platform\.yaml:3:\d+: unknown key "protect".*\n.*did you mean "protected"/);
    expect(r.stderr).toMatch(/platform\.yaml:5:\d+: unknown key "rutes".*\n.*did you mean "routes"/);
    expect(r.stderr).toMatch(/3 problems/);
  });

  it('accepts a valid file and reports its contents', async () => {
    const r = await runCli(['config', 'validate'], { cwd: project('valid.yaml') });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('2 services (gateway, auth)');
  });

  it('fails with exit 2 and a hint when there is no platform.yaml', async () => {
    const ws = workspace();
    disposers.push(ws.dispose);
    const r = await runCli(['config', 'validate'], { cwd: ws.dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/no platform\.yaml in .* or its parents/);
    expect(r.stderr).toMatch(/hint: run `platformctl init`/);
  });
});

describe('environment overrides', () => {
  it('PLATFORMCTL_A__B overrides a key, typed as YAML', async () => {
    const r = await runCli(['--json', 'config', 'show'], {
      cwd: project('valid.yaml'),
      env: { PLATFORMCTL_SERVICES__GATEWAY__PORT: '9090', PLATFORMCTL_ENVIRONMENTS__DEV__PROTECTED: 'true' },
    });
    expect(r.exitCode).toBe(0);
    const config = JSON.parse(r.stdout);
    expect(config.services.gateway.port).toBe(9090);
    expect(config.environments.dev.protected).toBe(true);
  });

  it('blames the variable, not the file, for a bad override', async () => {
    const r = await runCli(['config', 'validate'], {
      cwd: project('valid.yaml'),
      env: { PLATFORMCTL_SERVICES__GATEWAY__PORT: 'abc' },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^error: \$PLATFORMCTL_SERVICES__GATEWAY__PORT:1:1: services\.gateway\.port/m);
  });
});

describe('--json and colour', () => {
  it('--json prints exactly one JSON document on stdout', async () => {
    const cwd = project('valid.yaml');
    for (const args of [
      ['config', 'show'],
      ['config', 'validate'],
      ['doctor'],
      ['audit', 'verify'],
      ['audit', 'list'],
    ]) {
      const r = await runCli(['--json', ...args], { cwd });
      expect(() => JSON.parse(r.stdout), `${args.join(' ')} stdout: ${r.stdout}`).not.toThrow();
    }
  });

  it('--json errors are JSON on stdout too, with the code', async () => {
    const r = await runCli(['--json', 'config', 'validate'], { cwd: project('duplicate-port.yaml') });
    expect(r.exitCode).toBe(2);
    const doc = JSON.parse(r.stdout);
    expect(doc.error.code).toBe('CONFIG_INVALID');
    expect(doc.error.details.problems[0]).toMatchObject({ line: 6, column: 37, path: 'services.auth.port' });
  });

  it('NO_COLOR removes escape codes that FORCE_COLOR would add', async () => {
    const cwd = project('duplicate-port.yaml');
    const colored = await runCli(['config', 'validate'], { cwd, env: { FORCE_COLOR: '1' } });
    expect(colored.stderr).toContain('\u001b[');
    const plain = await runCli(['config', 'validate'], { cwd, env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(plain.stderr).not.toContain('\u001b[');
    const flag = await runCli(['--no-color', 'config', 'validate'], { cwd, env: { FORCE_COLOR: '1' } });
    expect(flag.stderr).not.toContain('\u001b[');
  });

  it('unknown commands and options are usage errors (exit 2)', async () => {
    const cwd = project('valid.yaml');
    expect((await runCli(['deploy-everything'], { cwd })).exitCode).toBe(2);
    const r = await runCli(['config', 'validate', '--bogus'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });

  it('--help of every command shows examples', async () => {
    const cwd = project('valid.yaml');
    for (const args of [
      ['init'],
      ['config', 'validate'],
      ['config', 'show'],
      ['doctor'],
      ['audit', 'verify'],
    ]) {
      const r = await runCli([...args, '--help'], { cwd });
      expect(r.exitCode).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/Examples:\n {2}# .+\n {2}\$ platformctl /);
    }
  });

  it('--version prints the package version', async () => {
    const r = await runCli(['--version'], { cwd: REPO_ROOT });
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(r.stdout.trim()).toBe(pkg.version);
  });
});
