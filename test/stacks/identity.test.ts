/**
 * One platform.yaml, one production: the workload identities Terraform creates on every cloud
 * trust exactly the service accounts `gitops render` gives the services, in the namespace the
 * manifests use (IRSA `sub` conditions, Azure federated credentials, GKE Workload Identity members).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadPlatform } from '../../src/core/config/load.ts';
import { renderGitops } from '../../src/gitops/render.ts';
import { externalSecretsAccount } from '../../src/secrets/store-names.ts';
import { synthesize } from '../../src/stacks/synth.ts';
import { PLATFORM_YAML } from './fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'platformctl-identity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'platform.yaml'), PLATFORM_YAML);
const platform = loadPlatform(dir, undefined, {});
const out = join(dir, 'cdktf.out');
const result = synthesize(platform.config, { outdir: out, clouds: ['aws', 'azure', 'gcp'] });

type Doc = { resource?: Record<string, Record<string, Record<string, unknown>>> };
const docOf = (name: string): Doc => {
  const stack = result.stacks.find((s) => s.name === name);
  if (!stack) throw new Error(`no stack ${name}`);
  return JSON.parse(readFileSync(join(out, stack.file), 'utf8')) as Doc;
};
const all = (d: Doc, type: string) => Object.values(d.resource?.[type] ?? {});

/** `system:serviceaccount:<ns>:<name>` of every ServiceAccount the environment's manifests create. */
function manifestSubjects(env: string): string[] {
  const { files } = renderGitops(platform, {
    environment: env,
    outDir: join(dir, 'gitops'),
    repoPath: 'gitops',
    repoUrl: 'https://github.com/acme/p.git',
    revision: 'main',
  });
  const namespace = (files.get(`services/gateway/overlays/${env}/kustomization.yaml`) ?? '').match(
    /^namespace: (\S+)$/m,
  )?.[1];
  const subjects: string[] = [];
  for (const [path, text] of files) {
    if (!/^services\/[^/]+\/base\/serviceaccount\.yaml$/.test(path)) continue;
    for (const d of parseAllDocuments(text)) {
      const sa = d.toJS() as { kind: string; metadata: { name: string } };
      if (sa.kind === 'ServiceAccount')
        subjects.push(`system:serviceaccount:${namespace}:${sa.metadata.name}`);
    }
  }
  // The account the ExternalSecrets' SecretStore signs in as (secrets render-external) is trusted too.
  const store = `system:serviceaccount:${namespace}:${externalSecretsAccount(platform.config)}`;
  return [...subjects, store].sort();
}

describe.each(['staging', 'prod'])('%s: cloud trust = the manifests’ service accounts', (env) => {
  const expected = manifestSubjects(env);
  const region = 'eu-west-1';

  it('has one service account per service, in the environment namespace', () => {
    expect(expected).toHaveLength(3);
    expect(expected[0]).toMatch(new RegExp(`^system:serviceaccount:acme-${env}:`));
  });

  it('AWS: the IRSA role trusts exactly those subjects, for STS', () => {
    const [role] = all(docOf(`${env}-aws-${region}-core`), 'aws_iam_role').filter((r) =>
      String(r.name).endsWith('-platform-services'),
    );
    // Terraform interpolations (the issuer host) may hold quotes: stand them in before parsing.
    const policy = JSON.parse(String(role?.assume_role_policy).replace(/\$\{[^}]*\}/g, 'ISSUER'));
    const cond = policy.Statement[0].Condition.StringEquals as Record<string, string | string[]>;
    const sub = Object.entries(cond).find(([k]) => k.endsWith(':sub'))?.[1];
    expect([sub].flat().sort()).toEqual(expected);
    expect(Object.entries(cond).find(([k]) => k.endsWith(':aud'))?.[1]).toBe('sts.amazonaws.com');
  });

  it('Azure: one federated credential per service account', () => {
    const creds = all(docOf(`${env}-azure-westeurope-core`), 'azurerm_federated_identity_credential');
    expect(creds.map((c) => c.subject).sort()).toEqual(expected);
  });

  it('GCP: one Workload Identity member per service account', () => {
    const members = all(docOf(`${env}-gcp-europe-west1-core`), 'google_service_account_iam_member')
      .filter((m) => m.role === 'roles/iam.workloadIdentityUser')
      .map((m) => /\[(.+)\/(.+)\]$/.exec(String(m.member)))
      .map((m) => `system:serviceaccount:${m?.[1]}:${m?.[2]}`);
    expect(members.sort()).toEqual(expected);
  });
});
