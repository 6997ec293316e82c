/**
 * Real `terraform validate` of synthesized AWS stacks against the AWS provider plugin this
 * machine ships in /opt/tf-plugins (5.100.0), wired in with a CLI `dev_overrides` so nothing is
 * downloaded. Azure and Google plugins are not on the machine (and the registry is unreachable),
 * so those stacks are covered by the structural tests only. Skipped where terraform or the
 * plugin is missing. `random` has no plugin here either: its password resource is replaced by a
 * placeholder string before validating.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { synthesize } from '../../src/stacks/synth.ts';
import { loadFixture, tempDir } from '../stacks/fixture.ts';

const run = promisify(execFile);
const PLUGIN_DIR = '/opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64';

function terraformBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'terraform'))) return join(dir, 'terraform');
  }
  return undefined;
}
const terraform = terraformBinary();
const available = Boolean(terraform && existsSync(PLUGIN_DIR));

const out = tempDir();
afterAll(() => out.dispose());

/** Without plugins for random, a generated password becomes a literal for validation. */
function withoutRandom(doc: Record<string, Record<string, unknown>>): string {
  delete doc.resource?.random_password;
  delete doc.provider?.random;
  delete (doc.terraform?.required_providers as Record<string, unknown> | undefined)?.random;
  return JSON.stringify(doc).replace(
    /\$\{random_password\.[A-Za-z0-9_-]+\.result\}/g,
    'validate-only-placeholder',
  );
}

describe.skipIf(!available)('terraform validate (AWS provider 5.100.0 from /opt/tf-plugins)', () => {
  it('accepts AWS core, data and edge stacks, and rejects a misspelt argument', async () => {
    const result = synthesize(loadFixture(), {
      outdir: join(out.dir, 'synth'),
      envs: ['dev', 'prod'],
      clouds: ['aws'],
    });
    // One of each construct mix: dev core/data/edge, and prod data (multi-AZ database, broker).
    const wanted = [
      'dev-aws-eu-west-1-core',
      'dev-aws-eu-west-1-data',
      'dev-aws-global-edge',
      'prod-aws-eu-west-1-data',
    ];
    const stacks = result.stacks.filter((s) => wanted.includes(s.name));
    const config = join(out.dir, 'cli.tfrc');
    writeFileSync(
      config,
      `provider_installation {\n  dev_overrides {\n    "hashicorp/aws" = "${PLUGIN_DIR}"\n  }\n  direct {}\n}\n`,
    );
    const env = {
      ...process.env,
      TF_CLI_CONFIG_FILE: config,
      TF_IN_AUTOMATION: '1',
      CHECKPOINT_DISABLE: '1',
    };
    const validate = async (name: string, file: string) => {
      const dir = join(out.dir, 'validate', name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'cdk.tf.json'), withoutRandom(JSON.parse(readFileSync(file, 'utf8'))));
      const r = await run(terraform as string, ['validate', '-json', '-no-color'], { cwd: dir, env }).catch(
        (err: { stdout?: string }) => ({ stdout: err.stdout ?? '{}' }),
      );
      const report = JSON.parse(r.stdout) as {
        valid: boolean;
        diagnostics: { severity: string; summary: string; detail: string }[];
      };
      return { name, valid: report.valid, errors: report.diagnostics.filter((d) => d.severity === 'error') };
    };
    // Two at a time: each terraform process loads a 700 MB plugin.
    const results = [];
    for (let i = 0; i < stacks.length; i += 2) {
      results.push(
        ...(await Promise.all(
          stacks.slice(i, i + 2).map((s) => validate(s.name, join(result.outdir, s.file))),
        )),
      );
    }
    expect(results.filter((r) => !r.valid)).toEqual([]);
    expect(results.map((r) => r.name)).toContain('prod-aws-eu-west-1-data');
  }, 240_000);
});
