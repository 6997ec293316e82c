/**
 * Synth for every cloud x environment (in-process, one App): structural assertions on the JSON.
 * Real `terraform validate` needs provider plugins from the Terraform registry, which this network
 * cannot reach, so references, backends, encryption and tags are checked here instead.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRules, readStacks, report } from '../../src/policy/engine.ts';
import { type SynthResult, synthesize } from '../../src/stacks/synth.ts';
import { loadFixture, tempDir } from './fixture.ts';

type Doc = {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  output?: Record<string, unknown>;
  terraform: {
    backend: Record<string, Record<string, unknown>>;
    required_providers: Record<string, unknown>;
  };
  provider: Record<string, unknown>;
};

/** A Terraform interpolation as it appears in the JSON. */
const tf = (expr: string) => `\${${expr}}`;
const REQUIRED_TAGS = ['platform', 'env', 'owner', 'managed-by'];
const out = tempDir();
let result: SynthResult;
const docs = new Map<string, Doc>();

beforeAll(() => {
  result = synthesize(loadFixture(), { outdir: out.dir, clouds: ['aws', 'azure', 'gcp'] });
  for (const s of result.stacks) docs.set(s.name, JSON.parse(readFileSync(join(out.dir, s.file), 'utf8')));
});
afterAll(() => out.dispose());

function doc(name: string): Doc {
  const d = docs.get(name);
  if (!d) throw new Error(`no stack ${name}; have ${[...docs.keys()].join(', ')}`);
  return d;
}

function types(d: Doc): string[] {
  return Object.keys(d.resource ?? {});
}

function all(d: Doc, type: string): Record<string, unknown>[] {
  return Object.values(d.resource?.[type] ?? {});
}

describe('stack plan', () => {
  it('makes core and data per region, edge per environment, interconnect per secondary cloud', () => {
    const names = result.stacks.map((s) => s.name);
    expect(names).toContain('prod-aws-eu-west-1-core');
    expect(names).toContain('prod-aws-us-east-1-data');
    expect(names).toContain('prod-azure-eastus-core');
    expect(names).toContain('prod-gcp-us-east1-data');
    expect(names).toContain('dev-gcp-global-edge');
    expect(names).toContain('staging-aws-eu-west-1-interconnect');
    expect(names).toContain('prod-gcp-europe-west1-interconnect');
    // No VPN from a cloud to itself.
    expect(names).not.toContain('staging-gcp-europe-west1-interconnect');
    expect(new Set(names).size).toBe(names.length);
    // 3 envs x 3 clouds: dev 3 + staging 4 (gcp has no link) + prod 6 (2 regions) per cloud, minus self-links.
    expect(result.stacks.length).toBe(37);
    for (const s of result.stacks) expect(s.resources).toBeGreaterThan(0);
  });

  it('writes a manifest listing every stack with its file and resource count', () => {
    const manifest = JSON.parse(readFileSync(join(out.dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ generator: 'platformctl', platform: 'acme', manifestVersion: 1 });
    expect(manifest.stacks).toHaveLength(result.stacks.length);
    expect(readdirSync(join(out.dir, 'stacks')).sort()).toEqual(result.stacks.map((s) => s.name).sort());
  });
});

describe.each(['dev', 'staging', 'prod'])('environment %s', (env) => {
  describe.each(['aws', 'azure', 'gcp'] as const)('on %s', (cloud) => {
    const stacksOf = () => result.stacks.filter((s) => s.env === env && s.cloud === cloud);

    it('has a remote backend with locking and one state per env/region/stack', () => {
      const keys = new Set<string>();
      for (const s of stacksOf()) {
        const backend = doc(s.name).terraform.backend;
        if (cloud === 'aws') {
          expect(backend.s3).toMatchObject({
            encrypt: true,
            use_lockfile: true,
            bucket: `acme-tfstate-${env}`,
          });
          expect(backend).not.toHaveProperty('s3.dynamodb_table');
          keys.add(String(backend.s3?.key));
        } else if (cloud === 'azure') {
          expect(backend.azurerm).toMatchObject({ use_azuread_auth: true, container_name: env });
          keys.add(String(backend.azurerm?.key));
        } else {
          expect(backend.gcs).toMatchObject({ bucket: `acme-tfstate-${env}` });
          keys.add(String(backend.gcs?.prefix));
        }
      }
      expect(keys.size).toBe(stacksOf().length);
    });

    it('core: network with public and private subnets across zones, NAT, cluster with autoscaling and workload identity, secrets', () => {
      for (const s of stacksOf().filter((x) => x.role === 'core')) {
        const d = doc(s.name);
        if (cloud === 'aws') {
          expect(types(d)).toEqual(
            expect.arrayContaining(['aws_vpc', 'aws_nat_gateway', 'aws_internet_gateway']),
          );
          const subnets = all(d, 'aws_subnet');
          expect(subnets).toHaveLength(6);
          expect(new Set(subnets.map((x) => x.availability_zone)).size).toBe(3);
          expect(all(d, 'aws_nat_gateway')).toHaveLength(env === 'prod' ? 3 : 1);
          const [eks] = all(d, 'aws_eks_cluster');
          expect(eks).toMatchObject({ encryption_config: { resources: ['secrets'] } });
          expect(all(d, 'aws_eks_node_group')[0]).toMatchObject({
            scaling_config: { min_size: expect.any(Number) },
          });
          expect(types(d)).toContain('aws_iam_openid_connect_provider');
          expect(JSON.stringify(all(d, 'aws_iam_role'))).toContain('sts:AssumeRoleWithWebIdentity');
          expect(all(d, 'aws_secretsmanager_secret').length).toBeGreaterThan(0);
        } else if (cloud === 'azure') {
          expect(types(d)).toEqual(
            expect.arrayContaining(['azurerm_virtual_network', 'azurerm_nat_gateway', 'azurerm_key_vault']),
          );
          const [aks] = all(d, 'azurerm_kubernetes_cluster');
          expect(aks).toMatchObject({
            oidc_issuer_enabled: true,
            workload_identity_enabled: true,
            default_node_pool: { auto_scaling_enabled: true, zones: ['1', '2', '3'] },
          });
          expect(all(d, 'azurerm_kubernetes_cluster_node_pool')[0]).toMatchObject({
            auto_scaling_enabled: true,
          });
          expect(types(d)).toContain('azurerm_federated_identity_credential');
        } else {
          expect(types(d)).toEqual(
            expect.arrayContaining(['google_compute_network', 'google_compute_router_nat']),
          );
          expect(all(d, 'google_compute_subnetwork')).toHaveLength(2);
          const [gke] = all(d, 'google_container_cluster');
          expect(gke).toMatchObject({
            workload_identity_config: { workload_pool: `acme-${env}.svc.id.goog` },
            private_cluster_config: { enable_private_nodes: true },
            database_encryption: { state: 'ENCRYPTED' },
          });
          expect(all(d, 'google_container_node_pool')[0]).toMatchObject({
            autoscaling: { min_node_count: expect.any(Number) },
            node_config: { workload_metadata_config: { mode: 'GKE_METADATA' } },
          });
        }
      }
      // Secret Manager is one per project: the primary region's core stack alone declares the secrets.
      if (cloud === 'gcp') {
        const declaring = stacksOf().filter(
          (s) => s.role === 'core' && all(doc(s.name), 'google_secret_manager_secret').length > 0,
        );
        expect(declaring.map((s) => s.region)).toEqual([stacksOf().find((s) => s.role === 'core')?.region]);
      }
    });

    it('data: private encrypted PostgreSQL with backups, two private encrypted versioned buckets, broker when on Kubernetes', () => {
      const prod = env === 'prod';
      for (const s of stacksOf().filter((x) => x.role === 'data')) {
        const d = doc(s.name);
        if (cloud === 'aws') {
          const [db] = all(d, 'aws_db_instance');
          expect(db).toMatchObject({ storage_encrypted: true, publicly_accessible: false, multi_az: prod });
          expect(Number(db?.backup_retention_period)).toBeGreaterThanOrEqual(prod ? 7 : 1);
          expect(all(d, 'aws_s3_bucket')).toHaveLength(2);
          expect(all(d, 'aws_s3_bucket_versioning')).toHaveLength(2);
          expect(all(d, 'aws_s3_bucket_lifecycle_configuration')).toHaveLength(2);
          for (const b of all(d, 'aws_s3_bucket_public_access_block'))
            expect(b).toMatchObject({ block_public_acls: true, restrict_public_buckets: true });
          expect(types(d).includes('aws_mq_broker')).toBe(env !== 'dev');
        } else if (cloud === 'azure') {
          const [db] = all(d, 'azurerm_postgresql_flexible_server');
          expect(db).toMatchObject({
            public_network_access_enabled: false,
            geo_redundant_backup_enabled: prod,
          });
          if (prod) expect(db).toMatchObject({ high_availability: { mode: 'ZoneRedundant' } });
          const accounts = all(d, 'azurerm_storage_account');
          // Content and lake keep versions; the Synapse workspace's own metadata account cannot
          // (a hierarchical namespace excludes versioning) and is closed to every network instead.
          const hns = accounts.filter((a) => a.is_hns_enabled === true);
          expect(hns).toHaveLength(1);
          expect(hns[0]).toMatchObject({
            public_network_access_enabled: false,
            shared_access_key_enabled: false,
          });
          expect(accounts).toHaveLength(3);
          for (const a of accounts)
            expect(a).toMatchObject({
              allow_nested_items_to_be_public: false,
              infrastructure_encryption_enabled: true,
              shared_access_key_enabled: false,
              blob_properties: { versioning_enabled: a.is_hns_enabled !== true },
            });
          expect(all(d, 'azurerm_storage_management_policy')).toHaveLength(2);
          expect(types(d).includes('azurerm_servicebus_namespace')).toBe(env !== 'dev');
        } else {
          const [db] = all(d, 'google_sql_database_instance');
          expect(db).toMatchObject({
            settings: {
              ip_configuration: { ipv4_enabled: false },
              backup_configuration: { enabled: true },
              availability_type: prod ? 'REGIONAL' : 'ZONAL',
            },
          });
          expect(db?.encryption_key_name).toBeTruthy();
          for (const b of all(d, 'google_storage_bucket'))
            expect(b).toMatchObject({ public_access_prevention: 'enforced', versioning: { enabled: true } });
          expect(types(d).includes('google_pubsub_topic')).toBe(env !== 'dev');
        }
      }
    });

    it('edge: DNS zone and a CDN in front of the content bucket', () => {
      const d = doc(`${env}-${cloud}-global-edge`);
      const expected = {
        aws: ['aws_route53_zone', 'aws_cloudfront_distribution', 'aws_cloudfront_origin_access_control'],
        azure: ['azurerm_dns_zone', 'azurerm_cdn_frontdoor_profile', 'azurerm_cdn_frontdoor_route'],
        gcp: [
          'google_dns_managed_zone',
          'google_compute_backend_bucket',
          'google_compute_global_forwarding_rule',
        ],
      }[cloud];
      expect(types(d)).toEqual(expect.arrayContaining(expected));
      // The origin is the data stack's bucket, read through cross-stack outputs.
      expect(JSON.stringify(d)).toContain(`cross-stack-reference-input-${env}-${cloud}-`);
    });

    it('every resource carries the required tags or labels where it has them', () => {
      for (const s of stacksOf()) {
        for (const [type, byName] of Object.entries(doc(s.name).resource ?? {})) {
          for (const r of Object.values(byName)) {
            const tags = (r.tags ?? r.labels ?? r.resource_labels) as Record<string, string> | undefined;
            if (!tags) continue;
            expect(Object.keys(tags), `${s.name} ${type}`).toEqual(expect.arrayContaining(REQUIRED_TAGS));
            expect(tags.env).toBe(env);
          }
        }
      }
    });
  });
});

describe('references', () => {
  const REF = /\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([^}]*)\}/g;

  it('every type.name.attr interpolation points at a resource or data source declared in the same stack', () => {
    let checked = 0;
    for (const s of result.stacks) {
      const d = doc(s.name);
      const text = JSON.stringify({
        resource: d.resource,
        data: d.data,
        output: d.output,
        provider: d.provider,
      });
      for (const m of text.matchAll(REF)) {
        const [, data, type, name] = m;
        if (!data && (type === 'terraform' || type === 'var' || type === 'local')) continue;
        const table = data ? d.data : d.resource;
        expect(table?.[type as string]?.[name as string], `${s.name}: ${m[0]}`).toBeDefined();
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
  });

  it('cross-stack reads name an output the producing stack declares, and that stack is a dependency', () => {
    let checked = 0;
    for (const s of result.stacks) {
      const d = doc(s.name);
      for (const [id, remote] of Object.entries(d.data?.terraform_remote_state ?? {})) {
        const producer = id.replace('cross-stack-reference-input-', '');
        expect(s.dependsOn, `${s.name} reads ${producer}`).toContain(producer);
        const producerDoc = doc(producer);
        // The remote state is read from the producer's own backend.
        expect(Object.values(producerDoc.terraform.backend)[0]).toMatchObject(remote.config as object);
        for (const m of JSON.stringify(d.resource).matchAll(
          new RegExp(`data\\.terraform_remote_state\\.${id}\\.outputs\\.([A-Za-z0-9_-]+)`, 'g'),
        )) {
          expect(producerDoc.output?.[m[1] as string], `${producer} output ${m[1]}`).toBeDefined();
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('pins each provider it uses', () => {
    for (const s of result.stacks) {
      const d = doc(s.name);
      for (const p of Object.keys(d.provider)) expect(d.terraform.required_providers).toHaveProperty(p);
    }
    expect(doc('prod-aws-eu-west-1-interconnect').terraform.required_providers).toMatchObject({
      aws: { source: 'hashicorp/aws' },
      azurerm: { source: 'hashicorp/azurerm' },
      random: { source: 'hashicorp/random' },
    });
  });
});

describe('interconnect', () => {
  it('wires both VPN sides to each other with one generated key', () => {
    const d = doc('prod-aws-eu-west-1-interconnect');
    expect(all(d, 'aws_customer_gateway')[0]?.ip_address).toBe(
      tf('azurerm_public_ip.vpn-azure-ip.ip_address'),
    );
    expect(all(d, 'azurerm_local_network_gateway')[0]?.gateway_address).toBe(
      tf('aws_vpn_connection.vpn-aws-connection.tunnel1_address'),
    );
    const key = `k${tf('random_password.vpn-psk.result')}`;
    expect(all(d, 'azurerm_virtual_network_gateway_connection')[0]?.shared_key).toBe(key);
    expect(all(d, 'aws_vpn_connection')[0]).toMatchObject({
      tunnel1_preshared_key: key,
      tunnel2_preshared_key: key,
    });
    // AWS: 8-64 of [A-Za-z0-9._], never starting with 0; random_password cannot promise the first
    // character, so the key must begin with a literal that satisfies it.
    expect(key).toMatch(/^[A-Za-z1-9._]/);
    expect(all(d, 'random_password')[0]).toMatchObject({ length: 47, special: false });
    // Address spaces of the two sides never overlap.
    const vpc = String(all(doc('prod-aws-eu-west-1-core'), 'aws_vpc')[0]?.cidr_block);
    const vnet = (all(d, 'azurerm_virtual_network')[0]?.address_space as string[] | undefined)?.[0];
    expect(vpc).not.toBe(vnet);
    expect(all(d, 'aws_vpn_connection_route')[0]?.destination_cidr_block).toBe(vnet);
  });
});

describe('interconnect without AWS', () => {
  it('links GCP and Azure gateways by their static addresses', () => {
    const d = doc('prod-gcp-europe-west1-interconnect');
    expect(all(d, 'google_compute_vpn_tunnel')[0]).toMatchObject({
      peer_ip: tf('azurerm_public_ip.vpn-azure-ip.ip_address'),
      ike_version: 2,
    });
    expect(all(d, 'azurerm_local_network_gateway')[0]?.gateway_address).toBe(
      tf('google_compute_address.vpn-gcp-ip.address'),
    );
    // ESP and IKE (UDP 500/4500) reach the classic VPN gateway.
    expect(
      all(d, 'google_compute_forwarding_rule')
        .map((r) => r.ip_protocol)
        .sort(),
    ).toEqual(['ESP', 'UDP', 'UDP']);
  });
});

describe('policy on our own output', () => {
  it('has no violations', () => {
    const r = report(readStacks(out.dir), loadRules(undefined));
    expect(r.violations).toEqual([]);
    expect(r.resources).toBeGreaterThan(500);
  });
});
