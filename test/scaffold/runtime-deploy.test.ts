/**
 * The runtime's own services carry the same deploy artefacts as scaffolded ones (adopted with
 * `platformctl service adopt`): workflows that validate, overlays that render into valid objects,
 * and nothing out of step with the template.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateWorkflow } from '@action-validator/core';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, runCli } from '../helpers/cli.ts';

const hasKubectl = spawnSync('kubectl', ['version', '--client=true']).status === 0;
const SERVICES = ['gateway', 'auth', 'content', 'analytics'];

describe.each(SERVICES)('runtime/%s deploy artefacts', (name) => {
  it('has a workflow at the repository root that validates', () => {
    const text = readFileSync(join(REPO_ROOT, '.github', 'workflows', `${name}.yml`), 'utf8');
    expect((validateWorkflow(text) as { errors: unknown[] }).errors).toEqual([]);
    expect(text).toContain(`file: runtime/${name}/Dockerfile`);
  });

  it.runIf(hasKubectl || Boolean(process.env.CI))('renders every overlay', async () => {
    for (const env of ['dev', 'staging', 'prod']) {
      const out = execFileSync(
        'kubectl',
        ['kustomize', join(REPO_ROOT, 'runtime', name, 'k8s', 'overlays', env)],
        { encoding: 'utf8' },
      );
      const objects = parseAllDocuments(out).map((d) => d.toJS());
      const deployment = objects.find((o) => o.kind === 'Deployment');
      expect(deployment.metadata.namespace).toBe(`globalcontent-${env}`);
      const { Deployment } = await import('kubernetes-models/apps/v1/Deployment');
      new Deployment(deployment).validate();
    }
  });
});

it('the adopted files are in step with the current template', async () => {
  for (const name of SERVICES) {
    const r = await runCli(['--json', 'service', 'upgrade', name, '--dry-run'], { cwd: REPO_ROOT });
    expect(r.exitCode, r.stderr).toBe(0);
    const changed = JSON.parse(r.stdout).changes.filter((c: { action: string }) => c.action !== 'unchanged');
    expect(changed, `${name}: run \`platformctl service upgrade ${name}\``).toEqual([]);
  }
});
