/**
 * A stack of the platform: one Terraform state, with its remote backend (locking on), its
 * providers (default tags/labels) and the required tags every taggable resource receives.
 */
import type { Cloud } from '../core/config/schema.ts';
import { type App, AzurermBackend, GcsBackend, S3Backend, TerraformStack } from './cdk.ts';
import type { StackSpec } from './plan.ts';
import { compactName, type Site } from './site.ts';
import { Provider, type TaggedStack, toLabelValue } from './tf.ts';

/** Provider sources and version constraints; argument names in resources/ follow these majors. */
export const PROVIDER_VERSIONS = {
  // >= 5.100: `terraform validate` runs against 5.100.0 in tests (the provider this machine has).
  aws: ['hashicorp/aws', '>= 5.100, < 7.0'],
  azurerm: ['hashicorp/azurerm', '~> 4.0'],
  google: ['hashicorp/google', '~> 6.0'],
  random: ['hashicorp/random', '~> 3.6'],
} as const;

/** The tags every resource carries (the `required-tags` policy checks them). */
export function requiredTags(platform: string, env: string, owner: string): Record<string, string> {
  return { platform, env, owner, 'managed-by': 'platformctl' };
}

/** Where a stack's state lives: one state file per environment, region and stack role. */
export function stateLocation(
  spec: StackSpec,
  platform: string,
): { cloud: Cloud; config: Record<string, unknown> } {
  const key = `${spec.env}/${spec.region}/${spec.role}`;
  if (spec.cloud === 'aws') {
    return {
      cloud: 'aws',
      config: {
        bucket: `${platform}-tfstate-${spec.env}`,
        key: `${key}/terraform.tfstate`,
        region: spec.primaryRegion,
        encrypt: true,
        // S3 native locking (Terraform >= 1.10): a lock object beside the state, no DynamoDB table.
        use_lockfile: true,
      },
    };
  }
  if (spec.cloud === 'azure') {
    return {
      cloud: 'azure',
      config: {
        resource_group_name: `${platform}-tfstate`,
        storage_account_name: compactName([platform, 'tfstate'], 24),
        container_name: spec.env,
        key: `${key}.tfstate`,
        use_azuread_auth: true,
      },
    };
  }
  return { cloud: 'gcp', config: { bucket: `${platform}-tfstate-${spec.env}`, prefix: key } };
}

export class PlatformStack extends TerraformStack implements TaggedStack {
  readonly spec: StackSpec;
  readonly site: Site;
  readonly requiredTags: Record<string, string>;
  private readonly providers = new Set<string>();

  constructor(app: App, spec: StackSpec, site: Site) {
    super(app, spec.name);
    this.spec = spec;
    this.site = site;
    this.requiredTags = requiredTags(site.platform, spec.env, site.owner);
    this.backend(spec);
    this.useCloud(site);
  }

  private backend(spec: StackSpec): void {
    const { config } = stateLocation(spec, this.site.platform);
    const c = (k: string) => String(config[k]);
    if (spec.cloud === 'aws') {
      const backend = new S3Backend(this, {
        bucket: c('bucket'),
        key: c('key'),
        region: c('region'),
        encrypt: true,
      });
      // cdktf 0.21 predates `use_lockfile`; the override writes it into the backend block.
      backend.addOverride('use_lockfile', true);
    } else if (spec.cloud === 'azure') {
      new AzurermBackend(this, {
        resourceGroupName: c('resource_group_name'),
        storageAccountName: c('storage_account_name'),
        containerName: c('container_name'),
        key: c('key'),
        useAzureadAuth: true,
      });
    } else {
      new GcsBackend(this, { bucket: c('bucket'), prefix: c('prefix') });
    }
  }

  /** Adds the provider of a site's cloud (once per stack). */
  useCloud(site: Site): void {
    if (site.cloud === 'aws' && this.once('aws')) {
      const [source, version] = PROVIDER_VERSIONS.aws;
      new Provider(this, 'aws', source, version, {
        region: site.region,
        default_tags: { tags: this.requiredTags },
      });
    } else if (site.cloud === 'azure' && this.once('azurerm')) {
      const [source, version] = PROVIDER_VERSIONS.azurerm;
      // The subscription comes from ARM_SUBSCRIPTION_ID, never from the code.
      new Provider(this, 'azurerm', source, version, { features: {}, storage_use_azuread: true });
    } else if (site.cloud === 'gcp' && this.once('google')) {
      const [source, version] = PROVIDER_VERSIONS.google;
      const labels = Object.fromEntries(
        Object.entries(this.requiredTags).map(([k, v]) => [toLabelValue(k), toLabelValue(v)]),
      );
      new Provider(this, 'google', source, version, {
        project: site.project,
        region: site.region,
        default_labels: labels,
      });
    }
  }

  /** Adds hashicorp/random (generated passwords and keys). */
  useRandom(): void {
    if (this.once('random')) {
      const [source, version] = PROVIDER_VERSIONS.random;
      new Provider(this, 'random', source, version, {});
    }
  }

  private once(name: string): boolean {
    if (this.providers.has(name)) return false;
    this.providers.add(name);
    return true;
  }
}
