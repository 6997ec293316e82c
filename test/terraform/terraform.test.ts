/**
 * plan/apply through bin/platformctl with a fake terraform first on PATH: flags, environment,
 * -detailed-exitcode mapping, protected environments, and a missing terraform.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep } from '../../src/core/sleep.ts';
import { terraformApply, terraformInit, terraformPlan } from '../../src/providers/terraform.ts';
import { runCli, startCli, workspace } from '../helpers/cli.ts';
import { PLATFORM_YAML } from '../stacks/fixture.ts';
import { installFakeTerraform } from './fake-terraform.ts';

const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});

function project() {
  const ws = workspace({ 'platform.yaml': PLATFORM_YAML });
  disposers.push(ws.dispose);
  const fake = installFakeTerraform(join(ws.dir, '.fake'));
  const env = (extra: Record<string, string> = {}) => ({
    PATH: `${fake.binDir}:${process.env.PATH}`,
    FAKE_TF_LOG: fake.log,
    ...extra,
  });
  return { dir: ws.dir, fake, env };
}

describe('terraform wrapper', () => {
  it('runs init, plan and apply non-interactively and maps -detailed-exitcode', async () => {
    const ws = workspace();
    disposers.push(ws.dispose);
    const fake = installFakeTerraform(ws.dir);
    const cwd = join(ws.dir, 'stack');
    mkdirSync(cwd);
    const output: string[] = [];
    const base = {
      cwd,
      binary: join(fake.binDir, 'terraform'),
      env: { ...process.env, FAKE_TF_LOG: fake.log, FAKE_TF_PLAN_EXIT: '2' },
      onOutput: (c: string) => output.push(c),
    };
    await terraformInit(base);
    expect(await terraformPlan(base)).toEqual({ changes: true, planFile: 'plan.tfplan' });
    expect(await terraformPlan({ ...base, env: { ...base.env, FAKE_TF_PLAN_EXIT: '0' } })).toMatchObject({
      changes: false,
    });
    await expect(
      terraformPlan({ ...base, env: { ...base.env, FAKE_TF_PLAN_EXIT: '1' } }),
    ).rejects.toMatchObject({
      code: 'TERRAFORM_FAILED',
    });
    await terraformApply(base);
    const calls = fake.calls();
    expect(calls.map((c) => c.args[0])).toEqual(['init', 'plan', 'plan', 'plan', 'apply']);
    for (const c of calls) {
      expect(c).toMatchObject({ cwd, TF_IN_AUTOMATION: '1', TF_INPUT: '0' });
      expect(c.args).toContain('-input=false');
      expect(c.args).toContain('-no-color');
    }
    expect(calls[1]?.args).toEqual(expect.arrayContaining(['-out=plan.tfplan', '-detailed-exitcode']));
    expect(calls[4]?.args.at(-1)).toBe('plan.tfplan');
    expect(output.join('')).toContain('fake terraform plan');
  });

  it('explains a missing terraform', async () => {
    const ws = workspace();
    disposers.push(ws.dispose);
    await expect(terraformInit({ cwd: ws.dir, binary: join(ws.dir, 'no-terraform') })).rejects.toMatchObject({
      code: 'TERRAFORM_NOT_FOUND',
      hint: expect.stringContaining('PLATFORMCTL_TERRAFORM'),
    });
  });
});

describe('platformctl plan', () => {
  it('synthesizes, then inits and plans every stack of the environment in order; changes are exit 0', async () => {
    const p = project();
    const r = await runCli(['--json', 'plan', '--env', 'dev'], {
      cwd: p.dir,
      env: p.env({ FAKE_TF_PLAN_EXIT: '2' }),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ changes: true });
    expect(summary.stacks.map((s: { stack: string }) => s.stack)).toEqual([
      'dev-aws-eu-west-1-core',
      'dev-aws-eu-west-1-data',
      'dev-aws-global-edge',
    ]);
    const calls = p.fake.calls();
    expect(calls).toHaveLength(6);
    expect(calls[0]).toMatchObject({
      cwd: join(p.dir, 'cdktf.out', 'stacks', 'dev-aws-eu-west-1-core'),
      TF_IN_AUTOMATION: '1',
    });
    expect(calls[1]?.args).toEqual([
      'plan',
      '-no-color',
      '-input=false',
      '-out=plan.tfplan',
      '-detailed-exitcode',
    ]);
    // terraform's output streams to stderr, never into the JSON on stdout.
    expect(r.stderr).toContain('fake terraform plan');
  });

  it('reports no changes, and fails with exit 1 when terraform plan fails', async () => {
    const p = project();
    const none = await runCli(['--json', 'plan', '--env', 'dev', '--stack', 'dev-aws-eu-west-1-core'], {
      cwd: p.dir,
      env: p.env({ FAKE_TF_PLAN_EXIT: '0' }),
    });
    expect(none.exitCode).toBe(0);
    expect(JSON.parse(none.stdout)).toMatchObject({ changes: false, stacks: [{ changes: false }] });
    const broken = await runCli(['plan', '--env', 'dev'], {
      cwd: p.dir,
      env: p.env({ FAKE_TF_PLAN_EXIT: '1' }),
    });
    expect(broken.exitCode).toBe(1);
    expect(broken.stderr).toMatch(/terraform plan failed/);
  });

  it('refuses to run terraform while a policy rule fails (exit 5)', async () => {
    const p = project();
    mkdirSync(join(p.dir, 'policies'));
    writeFileSync(
      join(p.dir, 'policies', 'strict.yaml'),
      'rules:\n  - id: no-nat\n    description: d\n    resources: [aws_nat_gateway]\n    assert: { path: nope, op: exists }\n    message: NAT is not allowed here\n    fix: remove it\n',
    );
    const r = await runCli(['plan', '--env', 'dev'], { cwd: p.dir, env: p.env() });
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toMatch(/NAT is not allowed here/);
    expect(r.stderr).toMatch(/refusing to run terraform/);
    expect(p.fake.calls()).toEqual([]);
  });

  it('on Ctrl-C lets the running terraform step finish, runs no further stack, and exits 130', async () => {
    const p = project();
    const plan = startCli(['plan', '--env', 'dev'], {
      cwd: p.dir,
      env: { ...p.env({ FAKE_TF_SLEEP: '1' }), CI: 'true' },
    });
    for (let i = 0; i < 400 && p.fake.calls().length === 0; i++) await sleep(50);
    plan.child.kill('SIGINT');
    expect(await plan.exited).toBe(130);
    expect(plan.stderr()).toMatch(/error: interrupted/);
    // The init that was running completed; nothing started after it.
    expect(p.fake.calls().map((c) => c.args[0])).toEqual(['init']);
  });

  it('says how to get terraform when it is missing', async () => {
    const p = project();
    const r = await runCli(['plan', '--env', 'dev'], { cwd: p.dir, env: { PATH: join(p.dir, 'empty') } });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/terraform was not found/);
    expect(r.stderr).toMatch(/hint: install Terraform/);
  });
});

describe('platformctl apply', () => {
  it('refuses a protected environment without --allow-prod, even with --yes, before running terraform', async () => {
    const p = project();
    const r = await runCli(['apply', '--env', 'prod', '--yes'], {
      cwd: p.dir,
      env: p.env({ FAKE_TF_PLAN_EXIT: '2' }),
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/refusing to apply to protected environment "prod"/);
    expect(r.stderr).toMatch(/--allow-prod/);
    expect(p.fake.calls()).toEqual([]);
    // Only the selected stacks count: a dev stack applies without --allow-prod.
    const dev = await runCli(['apply', '--stack', 'dev-aws-eu-west-1-core', '--yes'], {
      cwd: p.dir,
      env: p.env({ FAKE_TF_PLAN_EXIT: '2' }),
    });
    expect(dev.exitCode, dev.stderr).toBe(0);
    expect(p.fake.calls().filter((c) => c.args[0] === 'apply')).toHaveLength(1);
  });

  it('needs a confirmation without a TTY (--yes), and then applies exactly the saved plans', async () => {
    const p = project();
    const env = p.env({ FAKE_TF_PLAN_EXIT: '2' });
    const refused = await runCli(['apply', '--env', 'prod', '--allow-prod'], { cwd: p.dir, env });
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toMatch(/refusing without confirmation/);
    expect(p.fake.calls().some((c) => c.args[0] === 'apply')).toBe(false);

    const ok = await runCli(['--json', 'apply', '--env', 'prod', '--allow-prod', '--yes'], {
      cwd: p.dir,
      env,
    });
    expect(ok.exitCode, ok.stderr).toBe(0);
    const applies = p.fake.calls().filter((c) => c.args[0] === 'apply');
    expect(applies).toHaveLength(6);
    for (const a of applies) expect(a.args).toEqual(['apply', '-no-color', '-input=false', 'plan.tfplan']);
    expect(JSON.parse(ok.stdout).stacks.every((s: { applied: boolean }) => s.applied)).toBe(true);
  });

  it('applies nothing when the plan has no changes, or with --dry-run', async () => {
    const p = project();
    const none = await runCli(['apply', '--env', 'dev', '--yes'], {
      cwd: p.dir,
      env: p.env({ FAKE_TF_PLAN_EXIT: '0' }),
    });
    expect(none.exitCode).toBe(0);
    const dry = await runCli(['apply', '--env', 'dev', '--dry-run'], {
      cwd: p.dir,
      env: p.env({ FAKE_TF_PLAN_EXIT: '2' }),
    });
    expect(dry.exitCode).toBe(0);
    expect(dry.stderr).toMatch(/dry run: stacks would be planned and applied in this order/);
    // The order, not a plan: a fresh environment's dependent stacks cannot plan before the others apply.
    expect(dry.stdout).toMatch(
      /1\s+dev-aws-eu-west-1-core\s+-[\s\S]*dev-aws-eu-west-1-data\s+dev-aws-eu-west-1-core/,
    );
    expect(p.fake.calls().some((c) => c.args[0] === 'apply')).toBe(false);
  });
});
