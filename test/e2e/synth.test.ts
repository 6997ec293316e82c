/** synth, policy check and graph through bin/platformctl, as a user or CI job runs them. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, workspace } from '../helpers/cli.ts';
import { PLATFORM_YAML } from '../stacks/fixture.ts';

const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});

function project(files: Record<string, string> = {}): string {
  const ws = workspace({ 'platform.yaml': PLATFORM_YAML, ...files });
  disposers.push(ws.dispose);
  return ws.dir;
}

describe('platformctl synth', () => {
  it('--json lists stacks with resource counts and the policy result; files and manifest are written', async () => {
    const cwd = project();
    const r = await runCli(['--json', 'synth', '--env', 'dev,prod'], { cwd });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.stacks.map((s: { name: string }) => s.name)).toEqual([
      'dev-aws-eu-west-1-core',
      'dev-aws-eu-west-1-data',
      'dev-aws-global-edge',
      'prod-aws-eu-west-1-core',
      'prod-aws-eu-west-1-data',
      'prod-aws-us-east-1-core',
      'prod-aws-us-east-1-data',
      'prod-aws-global-edge',
      'prod-aws-eu-west-1-interconnect',
    ]);
    for (const s of out.stacks) {
      expect(s.resources).toBeGreaterThan(0);
      expect(existsSync(s.file)).toBe(true);
    }
    expect(out.totals.stacks).toBe(9);
    expect(out.policy).toMatchObject({ errors: 0, violations: [] });
    expect(existsSync(join(cwd, 'cdktf.out', 'manifest.json'))).toBe(true);
    // Progress went to stderr; stdout is only the JSON document.
    expect(r.stderr).toMatch(/synthesized 9 stacks/);
  });

  it('retargets clouds with --cloud and writes to --out; rejects unknown values with exit 2', async () => {
    const cwd = project();
    const r = await runCli(['synth', '--env', 'staging', '--cloud', 'azure,gcp', '--out', 'build/tf'], {
      cwd,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/staging-azure-westeurope-core/);
    expect(r.stdout).toMatch(/staging-gcp-europe-west1-data/);
    expect(r.stdout).toMatch(/no violations/);
    expect(existsSync(join(cwd, 'build', 'tf', 'stacks', 'staging-azure-global-edge', 'cdk.tf.json'))).toBe(
      true,
    );
    expect((await runCli(['synth', '--cloud', 'ibm'], { cwd })).exitCode).toBe(2);
    const unknown = await runCli(['synth', '--env', 'qa'], { cwd });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/unknown environment "qa"/);
  });

  it('exits 5 when a user policy fails, and 0 with --no-policy', async () => {
    const cwd = project({
      'policies/cost.yaml': `rules:
  - id: cost-center-tag
    description: Every bucket names who pays
    resources: [aws_s3_bucket]
    assert: { path: tags.cost-center, op: exists }
    message: bucket has no cost-center tag
    fix: add a cost-center tag
`,
    });
    const r = await runCli(['synth', '--env', 'dev'], { cwd });
    expect(r.exitCode).toBe(5);
    expect(r.stdout).toMatch(/cost-center-tag\s+aws_s3_bucket\.content-bucket\s+dev-aws-eu-west-1-data/);
    expect((await runCli(['synth', '--env', 'dev', '--no-policy'], { cwd })).exitCode).toBe(0);
  });
});

describe('platformctl policy check', () => {
  it('exits 0 on clean output and 5 with a table of violations after tampering', async () => {
    const cwd = project();
    expect((await runCli(['synth', '--env', 'prod', '--no-policy'], { cwd })).exitCode).toBe(0);
    const clean = await runCli(['policy', 'check'], { cwd });
    expect(clean.exitCode, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/no violations/);

    const file = join(cwd, 'cdktf.out', 'stacks', 'prod-aws-eu-west-1-data', 'cdk.tf.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    const db = Object.values(doc.resource.aws_db_instance)[0] as Record<string, unknown>;
    db.multi_az = false;
    db.storage_encrypted = false;
    const sg = Object.values(doc.resource.aws_security_group)[0] as { ingress: { cidr_blocks: string[] }[] };
    (sg.ingress[0] as { cidr_blocks: string[] }).cidr_blocks = ['0.0.0.0/0'];
    writeFileSync(file, JSON.stringify(doc));

    const human = await runCli(['policy', 'check'], { cwd });
    expect(human.exitCode).toBe(5);
    expect(human.stdout).toMatch(/RULE\s+RESOURCE\s+STACK\s+MESSAGE\s+FIX/);
    expect(human.stdout).toMatch(/prod-database-multi-zone/);

    const json = await runCli(['--json', 'policy', 'check'], { cwd });
    expect(json.exitCode).toBe(5);
    const rules = JSON.parse(json.stdout).violations.map((v: { rule: string }) => v.rule);
    expect(rules).toEqual(
      expect.arrayContaining([
        'database-encrypted',
        'prod-database-multi-zone',
        'no-admin-ingress-from-internet',
      ]),
    );
  });

  it('explains when there is nothing to check', async () => {
    const cwd = project();
    mkdirSync(join(cwd, 'empty'));
    const r = await runCli(['policy', 'check', '--dir', 'empty'], { cwd });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/run `platformctl synth` first/);
  });
});

describe('platformctl graph', () => {
  it('prints a Mermaid flowchart of environments, clouds, regions, clusters, services and data stores', async () => {
    const cwd = project();
    const r = await runCli(['graph', '--env', 'prod'], { cwd });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.startsWith('flowchart LR\n')).toBe(true);
    for (const text of [
      'prod (protected)',
      'eu-west-1',
      'us-east-1',
      'EKS cluster',
      '"content"',
      'RDS PostgreSQL',
      'CloudFront',
      'site-to-site VPN',
    ])
      expect(r.stdout).toContain(text);
    const json = JSON.parse((await runCli(['--json', 'graph'], { cwd })).stdout);
    expect(json).toMatchObject({ format: 'mermaid', diagram: expect.stringContaining('flowchart LR') });
  });
});
