/**
 * Which stacks exist for a platform.yaml: one `core` (network, cluster, secrets) and one `data`
 * (database, storage, broker) stack per environment and region, one `edge` stack (DNS zone, CDN)
 * per environment, and an `interconnect` stack (site-to-site VPN) when an environment has a
 * secondary cloud. Pure data: no CDKTF here, so `graph`, `plan` and `apply` can use it cheaply.
 */
import type { Cloud, EnvironmentSpec, PlatformConfig } from '../core/config/schema.ts';
import { CLOUDS } from '../core/config/schema.ts';
import { UsageError } from '../core/errors.ts';
import { translateRegion } from './regions.ts';

export type StackRole = 'core' | 'data' | 'edge' | 'interconnect';
export type Tier = 'dev' | 'staging' | 'prod';

export interface StackSpec {
  /** e.g. `prod-aws-eu-west-1-core`; also the directory under `cdktf.out/stacks/`. */
  name: string;
  env: string;
  tier: Tier;
  cloud: Cloud;
  region: string;
  /** The environment's primary region (edge and interconnect attach there). */
  primaryRegion: string;
  role: StackRole;
  /** Position of the environment in platform.yaml; with regionIndex it picks the address space. */
  envIndex: number;
  regionIndex: number;
  protected: boolean;
  /** The linked cloud for interconnect stacks. */
  secondary?: { cloud: Cloud; region: string };
  /** Stacks whose outputs this one reads (applied first). */
  dependsOn: string[];
}

export interface PlanOptions {
  /** Environment names; all when empty. */
  envs?: string[];
  /** Target clouds; the environment's configured cloud when empty. */
  clouds?: Cloud[];
}

/** Production-like sizing and safety applies to protected environments and ones called prod. */
export function tierOf(name: string, env: EnvironmentSpec): Tier {
  if (env.protected || name === 'prod' || name === 'production') return 'prod';
  if (name === 'staging' || name === 'stage') return 'staging';
  return 'dev';
}

function regionFor(region: string, from: Cloud, to: Cloud, env: string): string {
  const translated = translateRegion(region, from, to);
  if (!translated)
    throw new UsageError(
      `environment "${env}": region "${region}" has no known counterpart on ${to}`,
      `synthesize it on its own cloud (--cloud ${from}) or use a region listed in docs/guides/synth.md`,
    );
  return translated;
}

/** The stacks for the selected environments and clouds, in a stable order. */
export function planStacks(config: PlatformConfig, options: PlanOptions = {}): StackSpec[] {
  const envNames = Object.keys(config.environments);
  const selected = options.envs?.length ? options.envs : envNames;
  for (const name of selected) {
    if (!(name in config.environments))
      throw new UsageError(
        `unknown environment "${name}"`,
        `use one of: ${envNames.join(', ')} (or all)`,
        'UNKNOWN_ENVIRONMENT',
      );
  }
  const stacks: StackSpec[] = [];
  for (const envName of selected) {
    const env = config.environments[envName] as EnvironmentSpec;
    const envIndex = envNames.indexOf(envName);
    const tier = tierOf(envName, env);
    const clouds = options.clouds?.length ? options.clouds : [env.cloud];
    for (const cloud of CLOUDS.filter((c) => clouds.includes(c))) {
      const regions = [env.region, ...env.extraRegions].map((r) => regionFor(r, env.cloud, cloud, envName));
      const primaryRegion = regions[0] as string;
      const base = { env: envName, tier, cloud, primaryRegion, envIndex, protected: env.protected };
      regions.forEach((region, regionIndex) => {
        const prefix = `${envName}-${cloud}-${region}`;
        stacks.push({ ...base, name: `${prefix}-core`, region, role: 'core', regionIndex, dependsOn: [] });
        stacks.push({
          ...base,
          name: `${prefix}-data`,
          region,
          role: 'data',
          regionIndex,
          dependsOn: [`${prefix}-core`],
        });
      });
      stacks.push({
        ...base,
        name: `${envName}-${cloud}-global-edge`,
        region: primaryRegion,
        role: 'edge',
        regionIndex: 0,
        dependsOn: [`${envName}-${cloud}-${primaryRegion}-data`],
      });
      if (env.secondary && env.secondary.cloud !== cloud) {
        const secondaryRegion = regionFor(
          env.secondary.region,
          env.secondary.cloud,
          env.secondary.cloud,
          envName,
        );
        stacks.push({
          ...base,
          name: `${envName}-${cloud}-${primaryRegion}-interconnect`,
          region: primaryRegion,
          role: 'interconnect',
          regionIndex: 0,
          secondary: { cloud: env.secondary.cloud, region: secondaryRegion },
          dependsOn: [`${envName}-${cloud}-${primaryRegion}-core`],
        });
      }
    }
  }
  return stacks;
}
