/**
 * Everything a construct needs to know about where it is: platform, environment, tier, cloud,
 * region, zones, address space, naming and sizing. Derived from a StackSpec, never from flags.
 */
import type { Cloud, PlatformConfig } from '../core/config/schema.ts';
import { planStacks, type StackSpec, type Tier } from './plan.ts';
import { regionCode, zonesOf } from './regions.ts';

export interface Sizing {
  nodeMin: number;
  nodeMax: number;
  nodeSize: Record<Cloud, string>;
  dbSize: Record<Cloud, string>;
  dbStorageGb: number;
  backupDays: number;
  natPerZone: boolean;
  brokerSize: Record<Cloud, string>;
}

const SIZING: Record<Tier, Sizing> = {
  dev: {
    nodeMin: 1,
    nodeMax: 3,
    nodeSize: { aws: 't3.large', azure: 'Standard_D2s_v5', gcp: 'e2-standard-2' },
    dbSize: { aws: 'db.t4g.medium', azure: 'B_Standard_B2s', gcp: 'db-custom-2-7680' },
    dbStorageGb: 20,
    backupDays: 1,
    natPerZone: false,
    brokerSize: { aws: 'mq.t3.micro', azure: 'Standard', gcp: '' },
  },
  staging: {
    nodeMin: 2,
    nodeMax: 6,
    nodeSize: { aws: 'm6i.large', azure: 'Standard_D4s_v5', gcp: 'e2-standard-4' },
    dbSize: { aws: 'db.m6g.large', azure: 'GP_Standard_D2ds_v5', gcp: 'db-custom-2-7680' },
    dbStorageGb: 50,
    backupDays: 7,
    natPerZone: false,
    brokerSize: { aws: 'mq.m5.large', azure: 'Standard', gcp: '' },
  },
  prod: {
    nodeMin: 3,
    nodeMax: 20,
    nodeSize: { aws: 'm6i.xlarge', azure: 'Standard_D8s_v5', gcp: 'n2-standard-4' },
    dbSize: { aws: 'db.m6g.xlarge', azure: 'GP_Standard_D4ds_v5', gcp: 'db-custom-4-15360' },
    dbStorageGb: 200,
    backupDays: 14,
    natPerZone: true,
    brokerSize: { aws: 'mq.m5.large', azure: 'Premium', gcp: '' },
  },
};

export interface Site {
  platform: string;
  owner: string;
  env: string;
  tier: Tier;
  cloud: Cloud;
  region: string;
  zones: string[];
  /** `<platform>-<env>`: the prefix of every cloud resource name. */
  prefix: string;
  /** `<platform>-<env>-<region code>`: for names that must be unique per region. */
  regional: string;
  /** The VPC/VNet address space, distinct per environment, region and cloud side. */
  cidr: string;
  /** GCP project id (convention `<platform>-<env>`). */
  project: string;
  /** Public DNS zone of the environment. */
  domain: string;
  sizing: Sizing;
  isProd: boolean;
  /** Another environment's resources can read this stack's outputs (cross-stack references). */
  spec: StackSpec;
}

/** Second octet of the 10.x.0.0/16 space: 8 per environment (4 regions x 2), +128 for a secondary cloud. */
function octet(spec: StackSpec, secondary: boolean): number {
  return (spec.envIndex * 8 + spec.regionIndex * 2 + (secondary ? 128 : 0)) % 256;
}

export function siteOf(
  spec: StackSpec,
  platform: string,
  owner: string,
  override?: { cloud: Cloud; region: string },
): Site {
  const cloud = override?.cloud ?? spec.cloud;
  const region = override?.region ?? spec.region;
  const prefix = `${platform}-${spec.env}`;
  return {
    platform,
    owner,
    env: spec.env,
    tier: spec.tier,
    cloud,
    region,
    zones: zonesOf(cloud, region),
    prefix,
    // The secondary side of a VPN gets its own names so it never collides with a stack on that cloud.
    regional: `${prefix}-${regionCode(region)}${override ? '-link' : ''}`,
    cidr: `10.${octet(spec, Boolean(override))}.0.0/16`,
    project: `${platform}-${spec.env}`.slice(0, 30),
    domain: `${spec.env}.${platform}.example.com`,
    sizing: SIZING[spec.tier],
    isProd: spec.tier === 'prod',
    spec,
  };
}

/** The n-th /20 block of a site's /16 (0-2 public, 3-5 private, 6 database, 7 gateway, 8 services). */
export function subnetCidr(site: Site, n: number): string {
  const [a, b] = site.cidr.split('.');
  return `${a}.${b}.${n * 16}.0/20`;
}

/** GKE pod range: the odd /16 next to the site's space. */
export function podsCidr(site: Site): string {
  const [a, b] = site.cidr.split('.');
  return `${a}.${Number(b) + 1}.0.0/16`;
}

/**
 * Lowercase alphanumerics only, at most `max` characters (Azure storage accounts, Key Vaults).
 * The last part (what the thing is: `cnt`, `lake`, `kv`) is always kept whole, so two names that
 * differ only there never collide when a long platform name has to be cut.
 */
export function compactName(parts: string[], max: number): string {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const last = clean(parts.at(-1) ?? '');
  return clean(parts.slice(0, -1).join('')).slice(0, Math.max(0, max - last.length)) + last;
}

/**
 * The site of an environment's primary region on its own cloud: where its cluster, vault and
 * databases are, for artefacts that must name them (manifests, ExternalSecrets, policies).
 */
export function primarySite(config: PlatformConfig, environment: string): Site | undefined {
  const env = config.environments[environment];
  if (!env) return undefined;
  const core = planStacks(config, { envs: [environment] }).find(
    (s) => s.role === 'core' && s.cloud === env.cloud && s.region === s.primaryRegion,
  );
  return core ? siteOf(core, config.name, config.owner ?? 'unassigned') : undefined;
}

/** The Azure Key Vault name the secrets construct gives a site (24 characters at most). */
export function keyVaultName(site: Site): string {
  return compactName([site.platform, site.env, regionCode(site.region), 'kv'], 24);
}
