/**
 * One platform.yaml rendered into everything production takes, exactly as a user does it with
 * the CLI: `synth` (Terraform JSON), `gitops render --terraform-outputs` built with the real
 * kustomize, and `secrets render-external` for the environment's cloud store.
 *
 * Nothing can be applied to a cloud here, so the `terraform output -json` documents the overlays
 * are rendered from are made the way the cloud would answer: each output's reference is resolved
 * to the resource it names in the synthesized stack, and the value derived from that resource's
 * own arguments (an RDS address from its identifier, a role ARN from its name, …). An output that
 * points at no resource, or at an attribute this table does not know, fails the render.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../src/providers/kubernetes/manifests.ts';
import { STACK_OUTPUTS } from '../../src/stacks/outputs.ts';
import { runCli } from './cli.ts';
import type { Kustomize } from './kustomize.ts';

export type TfDoc = {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  output?: Record<string, { value: string }>;
  provider?: Record<string, Record<string, unknown>[]>;
};

/** A Kubernetes object as kustomize prints it (the provider's object shape, specs left free-form). */
export type KubeDoc = KubeObject & {
  // biome-ignore lint/suspicious/noExplicitAny: manifests are free-form; checks read what they need.
  spec?: any;
  data?: Record<string, string>;
};

export interface ProductionRender {
  env: string;
  cloud: 'aws' | 'azure' | 'gcp';
  /** The env's primary-region core and data stacks (synth output). */
  core: TfDoc;
  data: TfDoc;
  /** The `terraform output -json` values the overlays were rendered from. */
  outputs: Record<string, string>;
  /** service -> the objects `kustomize build` of its overlay prints. */
  manifests: Record<string, KubeDoc[]>;
  /** The SecretStore and the ExternalSecrets. */
  externalSecrets: KubeDoc[];
}

const ACCOUNT = '123456789012';
const PLATFORM_OUTPUTS = new Set<string>(Object.values(STACK_OUTPUTS));

/** What the cloud answers for `<type>.<name>.<attribute>`, from the resource's arguments. */
function appliedValue(type: string, attr: string, args: Record<string, unknown>, region: string): string {
  const a = (k: string) => String(args[k]);
  const key = `${type}.${attr}`;
  switch (key) {
    case 'aws_eks_cluster.name':
    case 'azurerm_kubernetes_cluster.name':
    case 'google_container_cluster.name':
    case 'azurerm_storage_account.name':
    case 'google_storage_bucket.name':
      return a('name');
    case 'aws_s3_bucket.id':
      return a('bucket');
    case 'aws_iam_role.arn':
      return `arn:aws:iam::${ACCOUNT}:role/${a('name')}`;
    case 'aws_db_instance.address':
      return `${a('identifier')}.c1x2y3z4.${region}.rds.amazonaws.com`;
    case 'aws_mq_broker.instances[0].endpoints[0]':
      return `amqps://b-0f1e2d3c-${a('broker_name')}.mq.${region}.amazonaws.com:5671`;
    case 'azurerm_postgresql_flexible_server.fqdn':
      return `${a('name')}.postgres.database.azure.com`;
    case 'azurerm_user_assigned_identity.client_id':
      return `00000000-0000-4000-8000-${a('name').length.toString().padStart(12, '0')}`;
    case 'azurerm_client_config.tenant_id':
      return '11111111-2222-4333-8444-555555555555';
    case 'azurerm_servicebus_namespace.endpoint':
      return `https://${a('name')}.servicebus.windows.net:443/`;
    case 'google_service_account.email':
      return `${a('account_id')}@PROJECT.iam.gserviceaccount.com`;
    case 'google_sql_database_instance.private_ip_address':
      // Cloud SQL takes an address from the private services range reserved for the VPC peering.
      return 'PRIVATE_SERVICES_RANGE+3';
    default:
      throw new Error(`the test does not know what ${key} resolves to; add it to appliedValue`);
  }
}

/** `${type.name.attr}` -> the applied value, from the stack that declares the resource. */
function resolveOutput(doc: TfDoc, core: TfDoc, expression: string, region: string, project: string): string {
  const m = /^\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.(.+)\}$/.exec(expression);
  if (!m) return expression;
  const [, data, type, name, attr] = m as unknown as [string, string | undefined, string, string, string];
  const args = (data ? doc.data : doc.resource)?.[type]?.[name];
  if (!args) throw new Error(`output ${expression} names no resource of the stack`);
  let value = appliedValue(type, attr, args, region).replace('PROJECT', project);
  if (value === 'PRIVATE_SERVICES_RANGE+3') {
    // The range is the core stack's (network); the instance the data stack's.
    const [range] = Object.values(core.resource?.google_compute_global_address ?? {});
    const base = String(range?.address ?? '').split('.');
    value = `${base[0]}.${base[1]}.${base[2]}.3`;
  }
  return value;
}

function docs(text: string): KubeDoc[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeDoc | null)
    .filter((d): d is KubeDoc => d !== null);
}

async function cli(args: string[], cwd: string): Promise<string> {
  const r = await runCli(args, { cwd, timeoutMs: 120_000 });
  if (r.exitCode !== 0) throw new Error(`platformctl ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Renders environment `env` of the platform.yaml in `dir` (a workspace with a git repository is
 * not needed: --repo-url is given). Writes cdktf.out/, outputs/, gitops/ under `dir`.
 */
export async function renderProduction(dir: string, env: string, tool: Kustomize): Promise<ProductionRender> {
  await cli(['synth', '--env', env], dir);
  const manifest = JSON.parse(readFileSync(join(dir, 'cdktf.out', 'manifest.json'), 'utf8')) as {
    stacks: { name: string; env: string; role: string; region: string; cloud: string; file: string }[];
  };
  const ofEnv = manifest.stacks.filter((s) => s.env === env);
  const primary = ofEnv.find((s) => s.role === 'core');
  if (!primary) throw new Error(`no core stack for ${env}`);
  const stack = (role: string) => {
    const s = ofEnv.find((x) => x.role === role && x.region === primary.region);
    return JSON.parse(readFileSync(join(dir, 'cdktf.out', s?.file ?? 'missing'), 'utf8')) as TfDoc;
  };
  const core = stack('core');
  const data = stack('data');
  const project = String(core.provider?.google?.[0]?.project ?? '');

  // `terraform output -json` of both stacks, as `apply` would leave them.
  const outputs: Record<string, string> = {};
  const files: string[] = [];
  mkdirSync(join(dir, 'outputs'), { recursive: true });
  for (const [role, doc] of [
    ['core', core],
    ['data', data],
  ] as const) {
    const json: Record<string, { value: string; type: string; sensitive: boolean }> = {};
    for (const [name, o] of Object.entries(doc.output ?? {})) {
      if (!PLATFORM_OUTPUTS.has(name)) continue;
      const value = resolveOutput(doc, core, o.value, primary.region, project);
      json[name] = { value, type: 'string', sensitive: false };
      outputs[name] = value;
    }
    const file = join(dir, 'outputs', `${env}-${role}.json`);
    writeFileSync(file, JSON.stringify(json, null, 2));
    files.push(file);
  }

  await cli(
    [
      'gitops',
      'render',
      '--env',
      env,
      '--repo-url',
      'https://github.com/acme/platform.git',
      '--terraform-outputs',
      ...files,
    ],
    dir,
  );
  const manifests: Record<string, KubeDoc[]> = {};
  for (const service of readdirSync(join(dir, 'gitops', 'services'))) {
    manifests[service] = docs(tool.build(join(dir, 'gitops', 'services', service, 'overlays', env)));
  }
  const cloud = primary.cloud as ProductionRender['cloud'];
  const externalSecrets = docs(
    await cli(
      [
        'secrets',
        'render-external',
        '--env',
        env,
        '--store',
        cloud,
        '--out',
        '-',
        '--terraform-outputs',
        ...files,
      ],
      dir,
    ),
  );
  return { env, cloud, core, data, outputs, manifests, externalSecrets };
}
