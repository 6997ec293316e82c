/**
 * ExternalSecrets name the stores Terraform creates: the Azure Key Vault's URL and the GKE cluster
 * and project the GCP store authenticates through come from the same platform.yaml as `synth`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderExternalSecrets } from '../../src/secrets/external.ts';
import { synthesize } from '../../src/stacks/synth.ts';
import { loadFixture } from '../stacks/fixture.ts';

const config = loadFixture(`name: acme-media-platform
owner: ops
environments:
  staging: { cloud: azure, region: westeurope, provider: kubernetes }
  qa: { cloud: gcp, region: europe-west1, provider: kubernetes }
services:
  gateway: { path: builtin:gateway, port: 8080, kind: gateway }
`);
const out = mkdtempSync(join(tmpdir(), 'platformctl-stores-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const result = synthesize(config, { outdir: out });
type Doc = {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  provider?: Record<string, { project?: string }[]>;
};
const coreDoc = (env: string): Doc => {
  const stack = result.stacks.find((s) => s.env === env && s.role === 'core');
  return JSON.parse(readFileSync(join(out, stack?.file ?? 'missing'), 'utf8')) as Doc;
};
const resources = (env: string, type: string) => Object.values(coreDoc(env).resource?.[type] ?? {});
const store = (env: string, kind: 'azure' | 'gcp') =>
  parse(renderExternalSecrets({ config, env, store: kind, names: ['gateway.ADMIN_TOKEN'] })[0]?.yaml ?? '')
    .spec.provider;

describe('ExternalSecrets stores agree with Terraform', () => {
  it('Azure: vaultUrl is the Key Vault synth creates', () => {
    const [vault] = resources('staging', 'azurerm_key_vault');
    expect(store('staging', 'azure').azurekv.vaultUrl).toBe(`https://${vault?.name}.vault.azure.net`);
  });

  it('GCP: the Workload Identity cluster and project are the GKE cluster synth creates', () => {
    const [cluster] = resources('qa', 'google_container_cluster');
    const gcpsm = store('qa', 'gcp').gcpsm;
    expect(gcpsm.auth.workloadIdentity).toMatchObject({
      clusterName: cluster?.name,
      clusterLocation: cluster?.location,
    });
    const project = coreDoc('qa').provider?.google?.[0]?.project;
    expect(project).toBeTruthy();
    expect(gcpsm.projectID).toBe(project);
    expect(gcpsm.auth.workloadIdentity.clusterProjectID).toBe(project);
  });
});
