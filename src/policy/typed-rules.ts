/**
 * Rules that the declarative matcher cannot express: an S3 bucket is private and encrypted only
 * through companion resources that reference it, and "admin port open to the internet" needs
 * port-range arithmetic across three firewall models.
 */
import { resourcesOf, type StackDoc, type TypedRule } from './types.ts';

/** Ports whose exposure to the internet is an incident: SSH, RDP, databases, Kubernetes, brokers. */
export const ADMIN_PORTS = [
  22, 3389, 5432, 3306, 1433, 6379, 27017, 6443, 2379, 2380, 10250, 5671, 5672, 15672, 9200,
];
const ANYWHERE = new Set(['0.0.0.0/0', '::/0', '*', 'Internet', 'Any', 'any']);

/** Companion resources of a bucket: those whose `bucket` argument references it. */
function companions(stack: StackDoc, type: string, bucketName: string): Record<string, unknown>[] {
  const ref = new RegExp(
    `^\\$\\{aws_s3_bucket\\.${bucketName.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}\\.(id|bucket)\\}$`,
  );
  return Object.values(stack.doc.resource?.[type] ?? {}).filter(
    (r) => typeof r.bucket === 'string' && ref.test(r.bucket),
  );
}

const awsPublicBuckets: TypedRule = {
  id: 'no-public-buckets',
  description: 'Every S3 bucket has a public access block with all four settings on, and no public ACL',
  severity: 'error',
  check(stack) {
    const out: ReturnType<TypedRule['check']> = [];
    for (const name of Object.keys(stack.doc.resource?.aws_s3_bucket ?? {})) {
      const blocks = companions(stack, 'aws_s3_bucket_public_access_block', name);
      const keys = [
        'block_public_acls',
        'block_public_policy',
        'ignore_public_acls',
        'restrict_public_buckets',
      ];
      const ok = blocks.some((b) => keys.every((k) => b[k] === true));
      if (!ok)
        out.push({
          resource: `aws_s3_bucket.${name}`,
          message: 'bucket has no public access block with all four settings true',
          fix: 'add aws_s3_bucket_public_access_block with block_public_acls, block_public_policy, ignore_public_acls, restrict_public_buckets = true',
        });
      for (const acl of companions(stack, 'aws_s3_bucket_acl', name)) {
        if (typeof acl.acl === 'string' && acl.acl.startsWith('public'))
          out.push({
            resource: `aws_s3_bucket.${name}`,
            message: `bucket ACL is ${acl.acl}`,
            fix: 'remove the public ACL; serve public content through the CDN with origin access control',
          });
      }
    }
    return out;
  },
};

const SSE = new Set(['aws:kms', 'aws:kms:dsse', 'AES256']);

const awsBucketEncryption: TypedRule = {
  id: 'storage-encrypted',
  description: 'Every S3 bucket has server-side encryption configured',
  severity: 'error',
  check(stack) {
    const out: ReturnType<TypedRule['check']> = [];
    for (const name of Object.keys(stack.doc.resource?.aws_s3_bucket ?? {})) {
      const configs = companions(stack, 'aws_s3_bucket_server_side_encryption_configuration', name);
      const ok = configs.some((c) => {
        const rules = ([] as unknown[]).concat(c.rule ?? []) as Record<string, unknown>[];
        return rules.some((r) => {
          const def = ([] as unknown[]).concat(r.apply_server_side_encryption_by_default ?? [])[0] as
            | Record<string, unknown>
            | undefined;
          return typeof def?.sse_algorithm === 'string' && SSE.has(def.sse_algorithm);
        });
      });
      if (!ok)
        out.push({
          resource: `aws_s3_bucket.${name}`,
          message: 'bucket has no server-side encryption configuration',
          fix: 'add aws_s3_bucket_server_side_encryption_configuration with sse_algorithm = "aws:kms"',
        });
    }
    return out;
  },
};

/** Whether a port spec ("22", "20-25", "*", 22, undefined = all) covers an admin port. */
function coversAdminPort(from: number, to: number): number | undefined {
  return ADMIN_PORTS.find((p) => p >= from && p <= to);
}

function parseRange(spec: unknown): [number, number] | undefined {
  if (spec === undefined || spec === null || spec === '*' || spec === '') return [0, 65535];
  const s = String(spec);
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

function list(value: unknown): unknown[] {
  return value === undefined || value === null ? [] : Array.isArray(value) ? value : [value];
}

const adminIngress: TypedRule = {
  id: 'no-admin-ingress-from-internet',
  description: 'No firewall rule opens an administrative or data port to 0.0.0.0/0',
  severity: 'error',
  check(stack) {
    const out: ReturnType<TypedRule['check']> = [];
    const report = (resource: string, port: number, where: string) =>
      out.push({
        resource,
        message: `${where} opens port ${port} to the internet`,
        fix: 'restrict the source to the VPC/VPN ranges or a bastion, or remove the rule',
      });
    for (const [type, name, r] of resourcesOf(stack)) {
      const address = `${type}.${name}`;
      if (type === 'aws_security_group') {
        for (const rule of list(r.ingress) as Record<string, unknown>[]) {
          const sources = [...list(rule.cidr_blocks), ...list(rule.ipv6_cidr_blocks)].map(String);
          if (!sources.some((s) => ANYWHERE.has(s))) continue;
          const all = rule.protocol === '-1' || rule.protocol === 'all';
          const port = coversAdminPort(all ? 0 : Number(rule.from_port), all ? 65535 : Number(rule.to_port));
          if (port !== undefined) report(address, port, 'ingress rule');
        }
      } else if (type === 'aws_security_group_rule' || type === 'aws_vpc_security_group_ingress_rule') {
        if (type === 'aws_security_group_rule' && r.type !== 'ingress') continue;
        const sources = [
          ...list(r.cidr_blocks),
          ...list(r.cidr_ipv4),
          ...list(r.cidr_ipv6),
          ...list(r.ipv6_cidr_blocks),
        ].map(String);
        if (!sources.some((s) => ANYWHERE.has(s))) continue;
        const proto = r.protocol ?? r.ip_protocol;
        const all = proto === '-1' || proto === 'all' || r.from_port === undefined;
        const port = coversAdminPort(all ? 0 : Number(r.from_port), all ? 65535 : Number(r.to_port));
        if (port !== undefined) report(address, port, 'ingress rule');
      } else if (type === 'azurerm_network_security_group' || type === 'azurerm_network_security_rule') {
        const rules = (type === 'azurerm_network_security_rule' ? [r] : list(r.security_rule)) as Record<
          string,
          unknown
        >[];
        for (const rule of rules) {
          if (rule.direction !== 'Inbound' || rule.access !== 'Allow') continue;
          const sources = [...list(rule.source_address_prefix), ...list(rule.source_address_prefixes)].map(
            String,
          );
          if (!sources.some((s) => ANYWHERE.has(s))) continue;
          const ranges = [...list(rule.destination_port_range), ...list(rule.destination_port_ranges)];
          for (const spec of ranges.length ? ranges : ['*']) {
            const range = parseRange(spec);
            const port = range && coversAdminPort(range[0], range[1]);
            if (port !== undefined) report(address, port, `security rule ${String(rule.name ?? '')}`.trim());
          }
        }
      } else if (type === 'google_compute_firewall') {
        if ((r.direction ?? 'INGRESS') !== 'INGRESS') continue;
        if (
          !list(r.source_ranges)
            .map(String)
            .some((s) => ANYWHERE.has(s))
        )
          continue;
        for (const allow of list(r.allow) as Record<string, unknown>[]) {
          if (!['tcp', 'udp', 'all'].includes(String(allow.protocol))) continue;
          const ports = list(allow.ports);
          for (const spec of ports.length ? ports : ['*']) {
            const range = parseRange(spec);
            const port = range && coversAdminPort(range[0], range[1]);
            if (port !== undefined) report(address, port, 'firewall');
          }
        }
      }
    }
    return out;
  },
};

export const TYPED_RULES: TypedRule[] = [awsPublicBuckets, awsBucketEncryption, adminIngress];
