import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planStacks } from '../../src/stacks/plan.ts';
import { translateRegion } from '../../src/stacks/regions.ts';
import { synthesize } from '../../src/stacks/synth.ts';
import { loadFixture, tempDir } from './fixture.ts';

const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});

function files(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

function synthInto(): string {
  const t = tempDir();
  disposers.push(t.dispose);
  synthesize(loadFixture(), { outdir: t.dir, clouds: ['aws', 'azure', 'gcp'] });
  return t.dir;
}

describe('synth output', () => {
  it('is byte-identical for the same input', () => {
    const a = files(synthInto());
    const b = files(synthInto());
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [name, content] of a) expect(content.equals(b.get(name) as Buffer), name).toBe(true);
    // Nothing that changes from run to run (times, absolute paths) leaks into the files.
    for (const [name, content] of a)
      expect(content.toString(), name).not.toMatch(/\d{4}-\d\d-\d\dT\d\d:|platformctl-synth-/);
  });

  it('matches the snapshot of a small stack', async () => {
    const t = tempDir();
    disposers.push(t.dispose);
    synthesize(loadFixture(), { outdir: t.dir, envs: ['dev'], clouds: ['aws'] });
    const edge = readFileSync(join(t.dir, 'stacks', 'dev-aws-global-edge', 'cdk.tf.json'), 'utf8');
    await expect(edge).toMatchFileSnapshot('__snapshots__/dev-aws-global-edge.tf.json.snap');
  });

  it('rewrites only the selected stacks and keeps other stack directories', () => {
    const t = tempDir();
    disposers.push(t.dispose);
    const config = loadFixture();
    synthesize(config, { outdir: t.dir, envs: ['dev'] });
    const second = synthesize(config, { outdir: t.dir, envs: ['staging'] });
    expect(second.stacks.every((s) => s.env === 'staging')).toBe(true);
    const manifest = JSON.parse(readFileSync(join(t.dir, 'manifest.json'), 'utf8'));
    expect(manifest.stacks.map((s: { env: string }) => s.env)).not.toContain('dev');
    expect(readdirSync(join(t.dir, 'stacks'))).toContain('dev-aws-eu-west-1-core');
  });
});

describe('stack plan', () => {
  it("uses each environment's own cloud by default, regions translated when retargeted", () => {
    const config = loadFixture();
    expect(planStacks(config, { envs: ['prod'] }).map((s) => s.name)).toEqual([
      'prod-aws-eu-west-1-core',
      'prod-aws-eu-west-1-data',
      'prod-aws-us-east-1-core',
      'prod-aws-us-east-1-data',
      'prod-aws-global-edge',
      'prod-aws-eu-west-1-interconnect',
    ]);
    expect(planStacks(config, { envs: ['dev'], clouds: ['gcp'] }).map((s) => s.region)).toContain(
      'europe-west1',
    );
    expect(translateRegion('us-east-1', 'aws', 'azure')).toBe('eastus');
    expect(translateRegion('mars-north-1', 'aws', 'gcp')).toBeUndefined();
  });

  it('rejects unknown environments and untranslatable regions with a hint', () => {
    const config = loadFixture();
    expect(() => planStacks(config, { envs: ['qa'] })).toThrow(/unknown environment "qa"/);
    const odd = loadFixture(
      'name: x\nenvironments:\n  dev: { cloud: aws, region: mars-north-1, provider: local }\nservices: {}\n',
    );
    expect(() => planStacks(odd, { clouds: ['gcp'] })).toThrow(/no known counterpart on gcp/);
    expect(planStacks(odd).map((s) => s.region)).toContain('mars-north-1');
  });
});

describe('names with length limits', () => {
  it('keep their distinguishing suffix when a long platform name is cut', async () => {
    const { compactName } = await import('../../src/stacks/site.ts');
    const { flexibleServerStorageMb } = await import('../../src/stacks/constructs/database.ts');
    const long = 'content-analytics-platform';
    const a = compactName([long, 'prod', 'westeu', 'cnt'], 24);
    const b = compactName([long, 'prod', 'westeu', 'lake'], 24);
    expect(a).toHaveLength(24);
    expect(a).not.toBe(b);
    expect(a.endsWith('cnt') && b.endsWith('lake')).toBe(true);
    expect(compactName(['Acme_Corp', 'tfstate'], 24)).toBe('acmecorptfstate');
    expect([20, 50, 200, 5000].map(flexibleServerStorageMb)).toEqual([32768, 65536, 262144, 1048576]);
  });
});
