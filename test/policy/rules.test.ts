/** Each built-in rule with a failing and a passing fixture, per cloud it covers. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.ts';
import { evaluate, loadRules } from '../../src/policy/engine.ts';
import { check, globMatch, valuesAt } from '../../src/policy/matcher.ts';
import type { StackDoc } from '../../src/policy/types.ts';
import { tempDir } from '../stacks/fixture.ts';

const TAGS = { platform: 'acme', env: 'prod', owner: 'team', 'managed-by': 'platformctl' };
const builtin = loadRules(undefined);

type Resources = Record<string, Record<string, Record<string, unknown>>>;

function stack(resource: Resources, tier = 'dev', cloud = 'aws'): StackDoc {
  return { name: `${tier}-${cloud}-test`, env: tier, tier, cloud, doc: { resource } };
}

/** Violations of one rule id. */
function violations(rule: string, s: StackDoc) {
  return evaluate([s], builtin).filter((v) => v.rule === rule);
}

function expectRule(rule: string, failing: StackDoc, passing: StackDoc, resource: string) {
  const bad = violations(rule, failing);
  expect(bad.map((v) => v.resource)).toContain(resource);
  expect(bad[0]?.fix).toBeTruthy();
  expect(violations(rule, passing)).toEqual([]);
}

const s3 = (bucket: Record<string, unknown>, companions: Resources = {}): StackDoc =>
  stack({ aws_s3_bucket: { b: { bucket: 'x', tags: TAGS, ...bucket } }, ...companions });
const ref = (type: string, name: string) => `\${${type}.${name}.id}`;
const block = (on: boolean) => ({
  aws_s3_bucket_public_access_block: {
    p: {
      bucket: ref('aws_s3_bucket', 'b'),
      block_public_acls: true,
      block_public_policy: on,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    },
  },
});
const sse = (alg: string | undefined) => ({
  aws_s3_bucket_server_side_encryption_configuration: {
    e: {
      bucket: ref('aws_s3_bucket', 'b'),
      rule: [{ apply_server_side_encryption_by_default: alg ? { sse_algorithm: alg } : {} }],
    },
  },
});

describe('no-public-buckets', () => {
  it('aws: needs a public access block with all four settings, and no public ACL', () => {
    expectRule('no-public-buckets', s3({}, block(false)), s3({}, block(true)), 'aws_s3_bucket.b');
    expect(violations('no-public-buckets', s3({}))).toHaveLength(1);
    const acl = { aws_s3_bucket_acl: { a: { bucket: ref('aws_s3_bucket', 'b'), acl: 'public-read' } } };
    expect(violations('no-public-buckets', s3({}, { ...block(true), ...acl }))[0]?.message).toMatch(
      /public-read/,
    );
    // A block that belongs to another bucket does not count.
    const other = block(true);
    (other.aws_s3_bucket_public_access_block.p as Record<string, unknown>).bucket = ref(
      'aws_s3_bucket',
      'other',
    );
    expect(violations('no-public-buckets', s3({}, other))).toHaveLength(1);
  });
  it('azure: accounts without anonymous access, private containers', () => {
    const acct = (pub: boolean) =>
      stack({ azurerm_storage_account: { a: { allow_nested_items_to_be_public: pub } } }, 'dev', 'azure');
    expectRule('no-public-buckets', acct(true), acct(false), 'azurerm_storage_account.a');
    const cont = (t: string) => stack({ azurerm_storage_container: { c: { container_access_type: t } } });
    expectRule('no-public-buckets', cont('blob'), cont('private'), 'azurerm_storage_container.c');
  });
  it('gcp: enforced public access prevention, uniform access, no allUsers grants', () => {
    const bucket = (pap: string) =>
      stack({
        google_storage_bucket: { g: { public_access_prevention: pap, uniform_bucket_level_access: true } },
      });
    expectRule('no-public-buckets', bucket('inherited'), bucket('enforced'), 'google_storage_bucket.g');
    const iam = (member: string) =>
      stack({ google_storage_bucket_iam_member: { m: { bucket: 'x', member } } });
    expectRule(
      'no-public-buckets',
      iam('allUsers'),
      iam('serviceAccount:cdn@x.iam.gserviceaccount.com'),
      'google_storage_bucket_iam_member.m',
    );
  });
});

describe('storage-encrypted', () => {
  it('aws: a server-side encryption configuration with a known algorithm', () => {
    expectRule('storage-encrypted', s3({}, sse(undefined)), s3({}, sse('aws:kms')), 'aws_s3_bucket.b');
    expect(violations('storage-encrypted', s3({}))).toHaveLength(1);
  });
  it('azure: infrastructure encryption, HTTPS only, TLS 1.2', () => {
    const acct = (enc: boolean) =>
      stack({
        azurerm_storage_account: {
          a: {
            infrastructure_encryption_enabled: enc,
            https_traffic_only_enabled: true,
            min_tls_version: 'TLS1_2',
          },
        },
      });
    expectRule('storage-encrypted', acct(false), acct(true), 'azurerm_storage_account.a');
  });
  it('gcp: a customer-managed key', () => {
    const bucket = (key?: string) =>
      stack({ google_storage_bucket: { g: key ? { encryption: { default_kms_key_name: key } } : {} } });
    expectRule('storage-encrypted', bucket(), bucket('projects/p/keys/k'), 'google_storage_bucket.g');
  });
});

describe('database-encrypted and database-private', () => {
  it('aws RDS', () => {
    const rds = (enc: boolean, pub: boolean) =>
      stack({ aws_db_instance: { d: { storage_encrypted: enc, publicly_accessible: pub } } });
    expectRule('database-encrypted', rds(false, false), rds(true, false), 'aws_db_instance.d');
    expectRule('database-private', rds(true, true), rds(true, false), 'aws_db_instance.d');
  });
  it('azure flexible server', () => {
    const pg = (pub: boolean) =>
      stack({ azurerm_postgresql_flexible_server: { d: { public_network_access_enabled: pub } } });
    expectRule('database-private', pg(true), pg(false), 'azurerm_postgresql_flexible_server.d');
  });
  it('gcp Cloud SQL', () => {
    const sql = (key: string | undefined, ipv4: boolean) =>
      stack({
        google_sql_database_instance: {
          d: {
            ...(key ? { encryption_key_name: key } : {}),
            settings: { ip_configuration: { ipv4_enabled: ipv4 } },
          },
        },
      });
    expectRule(
      'database-encrypted',
      sql(undefined, false),
      sql('k', false),
      'google_sql_database_instance.d',
    );
    expectRule('database-private', sql('k', true), sql('k', false), 'google_sql_database_instance.d');
  });
});

describe('prod-database-backups and prod-database-multi-zone', () => {
  it('aws: retention >= 7 and multi_az, in prod only', () => {
    const rds = (tier: string, days: number, multi: boolean) =>
      stack({ aws_db_instance: { d: { backup_retention_period: days, multi_az: multi } } }, tier);
    expectRule('prod-database-backups', rds('prod', 1, true), rds('prod', 14, true), 'aws_db_instance.d');
    expectRule(
      'prod-database-multi-zone',
      rds('prod', 14, false),
      rds('prod', 14, true),
      'aws_db_instance.d',
    );
    expect(violations('prod-database-backups', rds('dev', 1, false))).toEqual([]);
    expect(violations('prod-database-multi-zone', rds('dev', 1, false))).toEqual([]);
  });
  it('azure: geo-redundant backups and zone-redundant HA', () => {
    const pg = (geo: boolean, ha?: string) =>
      stack(
        {
          azurerm_postgresql_flexible_server: {
            d: {
              backup_retention_days: 14,
              geo_redundant_backup_enabled: geo,
              ...(ha ? { high_availability: { mode: ha } } : {}),
            },
          },
        },
        'prod',
        'azure',
      );
    expectRule(
      'prod-database-backups',
      pg(false, 'ZoneRedundant'),
      pg(true, 'ZoneRedundant'),
      'azurerm_postgresql_flexible_server.d',
    );
    expectRule(
      'prod-database-multi-zone',
      pg(true),
      pg(true, 'ZoneRedundant'),
      'azurerm_postgresql_flexible_server.d',
    );
  });
  it('gcp: backups with PITR and a regional instance', () => {
    const sql = (pitr: boolean, availability: string) =>
      stack(
        {
          google_sql_database_instance: {
            d: {
              settings: {
                availability_type: availability,
                backup_configuration: { enabled: true, point_in_time_recovery_enabled: pitr },
              },
            },
          },
        },
        'prod',
        'gcp',
      );
    expectRule(
      'prod-database-backups',
      sql(false, 'REGIONAL'),
      sql(true, 'REGIONAL'),
      'google_sql_database_instance.d',
    );
    expectRule(
      'prod-database-multi-zone',
      sql(true, 'ZONAL'),
      sql(true, 'REGIONAL'),
      'google_sql_database_instance.d',
    );
  });
});

describe('no-admin-ingress-from-internet', () => {
  const RULE = 'no-admin-ingress-from-internet';
  it('aws security groups and ingress rules', () => {
    const sg = (cidr: string, from: number, to: number) =>
      stack({
        aws_security_group: {
          s: { ingress: [{ protocol: 'tcp', from_port: from, to_port: to, cidr_blocks: [cidr] }] },
        },
      });
    expectRule(RULE, sg('0.0.0.0/0', 22, 22), sg('10.0.0.0/16', 22, 22), 'aws_security_group.s');
    expect(violations(RULE, sg('0.0.0.0/0', 443, 443))).toEqual([]);
    expect(violations(RULE, sg('0.0.0.0/0', 5000, 6000))[0]?.message).toMatch(/5432/);
    const rule = (cidr: string, proto = 'tcp') =>
      stack({
        aws_vpc_security_group_ingress_rule: {
          r: { ip_protocol: proto, from_port: 3389, to_port: 3389, cidr_ipv4: cidr },
        },
      });
    expectRule(RULE, rule('0.0.0.0/0'), rule('10.1.0.0/16'), 'aws_vpc_security_group_ingress_rule.r');
    expect(
      violations(
        RULE,
        stack({ aws_security_group_rule: { r: { type: 'ingress', protocol: '-1', cidr_blocks: ['::/0'] } } }),
      ),
    ).toHaveLength(1);
  });
  it('azure network security groups', () => {
    const nsg = (source: string, port: string) =>
      stack({
        azurerm_network_security_group: {
          n: {
            security_rule: [
              {
                name: 'r',
                direction: 'Inbound',
                access: 'Allow',
                source_address_prefix: source,
                destination_port_range: port,
              },
            ],
          },
        },
      });
    expectRule(
      RULE,
      nsg('Internet', '6443'),
      nsg('VirtualNetwork', '6443'),
      'azurerm_network_security_group.n',
    );
    expect(violations(RULE, nsg('*', '*'))).toHaveLength(1);
    expect(violations(RULE, nsg('*', '443'))).toEqual([]);
  });
  it('gcp firewalls', () => {
    const fw = (source: string, ports?: string[]) =>
      stack({
        google_compute_firewall: {
          f: {
            direction: 'INGRESS',
            source_ranges: [source],
            allow: [{ protocol: 'tcp', ...(ports ? { ports } : {}) }],
          },
        },
      });
    expectRule(RULE, fw('0.0.0.0/0', ['20-30']), fw('10.0.0.0/8', ['22']), 'google_compute_firewall.f');
    expect(violations(RULE, fw('0.0.0.0/0'))).toHaveLength(1);
    expect(violations(RULE, fw('0.0.0.0/0', ['80', '443']))).toEqual([]);
  });
});

describe('required-tags', () => {
  it('aws tags, azure tags, gcp labels in their places', () => {
    const { owner: _owner, ...partial } = TAGS;
    expectRule(
      'required-tags',
      stack({ aws_vpc: { v: { tags: partial } } }),
      stack({ aws_vpc: { v: { tags: TAGS } } }),
      'aws_vpc.v',
    );
    expectRule(
      'required-tags',
      stack({ azurerm_key_vault: { k: {} } }),
      stack({ azurerm_key_vault: { k: { tags: TAGS } } }),
      'azurerm_key_vault.k',
    );
    expectRule(
      'required-tags',
      stack({ google_container_cluster: { c: { resource_labels: partial } } }),
      stack({ google_container_cluster: { c: { resource_labels: TAGS } } }),
      'google_container_cluster.c',
    );
    expectRule(
      'required-tags',
      stack({ google_sql_database_instance: { d: { settings: {} } } }),
      stack({
        google_sql_database_instance: { d: { encryption_key_name: 'k', settings: { user_labels: TAGS } } },
      }),
      'google_sql_database_instance.d',
    );
  });
});

describe('matcher', () => {
  it('walks paths through blocks given as objects or lists', () => {
    const r = { a: [{ b: { c: 1 } }, { b: { c: 2 } }], d: { e: [5] } };
    expect(valuesAt(r, 'a.b.c')).toEqual([1, 2]);
    expect(valuesAt(r, 'a[1].b.c')).toEqual([2]);
    expect(valuesAt(r, 'd.e')).toEqual([[5]]);
    expect(valuesAt(r, 'x.y')).toEqual([]);
    expect(check(r, { path: 'a.b.c', op: 'gte', value: 1 })).toBe(true);
    expect(check(r, { path: 'a.b.c', op: 'gte', value: 2 })).toBe(false);
    expect(check(r, { path: 'missing', op: 'notEquals', value: true })).toBe(true);
    expect(check(r, { path: 'missing', op: 'equals', value: true })).toBe(false);
    expect(globMatch('aws_s3_*', 'aws_s3_bucket')).toBe(true);
    expect(globMatch('aws_s3_*', 'aws_sqs_queue')).toBe(false);
  });
});

describe('user policies', () => {
  const disposers: (() => void)[] = [];
  afterEach(() => {
    for (const d of disposers.splice(0)) d();
  });

  function root(files: Record<string, string>): string {
    const t = tempDir();
    disposers.push(t.dispose);
    mkdirSync(join(t.dir, 'policies'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(t.dir, 'policies', name), text);
    return t.dir;
  }

  it('adds rules from policies/*.yaml and disables built-ins by id', () => {
    const rules = loadRules(
      root({
        'cost.yaml': `rules:
  - id: cost-center-tag
    description: Buckets say who pays
    severity: warning
    resources: ["aws_s3_*"]
    assert: { path: tags.cost-center, op: exists }
    message: no cost-center tag
    fix: add tags.cost-center
disable: [required-tags]
`,
      }),
    );
    const s = stack({ aws_s3_bucket: { b: { tags: {} } } });
    const found = evaluate([s], rules);
    expect(found.find((v) => v.rule === 'cost-center-tag')).toMatchObject({
      severity: 'warning',
      resource: 'aws_s3_bucket.b',
    });
    expect(found.some((v) => v.rule === 'required-tags')).toBe(false);
    expect(rules.files).toEqual([join('policies', 'cost.yaml')]);
  });

  it('reads JSON policy files too', () => {
    const rules = loadRules(root({ 'off.json': JSON.stringify({ disable: ['no-public-buckets'] }) }));
    expect(rules.disabled).toEqual(['no-public-buckets']);
    expect(
      evaluate([stack({ azurerm_storage_container: { c: { container_access_type: 'blob' } } })], rules),
    ).toEqual([]);
  });

  it('reports a malformed policy file at file:line with the problem', () => {
    const dir = root({
      'bad.yaml':
        'rules:\n  - id: x\n    description: d\n    resources: [aws_vpc]\n    assert: { path: a, op: sortOf }\n    message: m\n    fix: f\n',
    });
    expect(() => loadRules(dir)).toThrow(ConfigError);
    try {
      loadRules(dir);
    } catch (err) {
      expect((err as ConfigError).problems[0]).toMatchObject({ file: join('policies', 'bad.yaml'), line: 5 });
    }
  });
});

describe('lake-catalog-private', () => {
  it('gcp: BigQuery datasets with a customer-managed key', () => {
    const dataset = (key?: string) =>
      stack({
        google_bigquery_dataset: {
          d: key ? { default_encryption_configuration: { kms_key_name: key } } : {},
        },
      });
    expectRule('lake-catalog-private', dataset(), dataset('projects/p/keys/k'), 'google_bigquery_dataset.d');
  });
  it('azure: Synapse Entra-only, private, without exfiltration', () => {
    const workspace = (open: boolean) =>
      stack({
        azurerm_synapse_workspace: {
          w: {
            azuread_authentication_only: true,
            public_network_access_enabled: open,
            data_exfiltration_protection_enabled: true,
          },
        },
      });
    expectRule('lake-catalog-private', workspace(true), workspace(false), 'azurerm_synapse_workspace.w');
  });
});
