/**
 * Synthesizes the platform's stacks in-process: builds a CDKTF App from platform.yaml, writes
 * `<out>/stacks/<stack>/cdk.tf.json`, and replaces CDKTF's manifest with one that also says what
 * each stack is (env, cloud, region, role, resource count). Output is byte-identical for the same
 * input: CDKTF sorts keys, stack traces are off, and nothing records a time.
 */

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvironmentSpec, PlatformConfig } from '../core/config/schema.ts';
import { PlatformError } from '../core/errors.ts';
import {
  BROKER_USER,
  DATABASE_USER,
  generatedSecretNames,
  managedSecretNames,
} from '../data/managed-backends.ts';
import { targetOf } from '../providers/kubernetes/manifests.ts';
import { externalSecretsAccount, storeKey, storeKeyPrefix } from '../secrets/store-names.ts';
import { App, TerraformOutput } from './cdk.ts';
import { broker } from './constructs/broker.ts';
import { cluster, workloadAccountId } from './constructs/cluster.ts';
import { database } from './constructs/database.ts';
import { edge } from './constructs/edge.ts';
import { encryptionKey } from './constructs/keys.ts';
import { lakeCatalog } from './constructs/lake-catalog.ts';
import { type Network, network } from './constructs/network.ts';
import { PLATFORM_SECRETS, secrets } from './constructs/secrets.ts';
import { type Bucket, buckets } from './constructs/storage.ts';
import { interconnect } from './constructs/vpn.ts';
import { contentBucketAccess, workloadAccess } from './constructs/workload-access.ts';
import { STACK_OUTPUTS } from './outputs.ts';
import { type PlanOptions, planStacks, type StackSpec } from './plan.ts';
import { PlatformStack } from './platform-stack.ts';
import { siteOf } from './site.ts';

export interface SynthOptions extends PlanOptions {
  outdir: string;
  /** Called as each stack is built (progress on stderr). */
  onStack?: (spec: StackSpec) => void;
}

export interface SynthesizedStack {
  name: string;
  env: string;
  tier: string;
  cloud: string;
  region: string;
  role: string;
  protected: boolean;
  dependsOn: string[];
  resources: number;
  /** Relative to the output directory. */
  file: string;
}

export interface SynthResult {
  outdir: string;
  platform: string;
  stacks: SynthesizedStack[];
}

export const MANIFEST_VERSION = 1;

function brokerWanted(env: EnvironmentSpec): boolean {
  return env.provider === 'kubernetes' || env.backends.bus === 'rabbitmq';
}

/**
 * Clears what a new synth makes stale: the manifest and the saved plans of the stacks being
 * rewritten. Stack directories stay (their `.terraform/` provider cache is expensive to refill);
 * the manifest alone says which stacks are current.
 */
function clean(outdir: string, specs: StackSpec[]): void {
  rmSync(join(outdir, 'manifest.json'), { force: true });
  for (const spec of specs) rmSync(join(outdir, 'stacks', spec.name, 'plan.tfplan'), { force: true });
}

function countResources(file: string): number {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    resource?: Record<string, Record<string, unknown>>;
  };
  let n = 0;
  for (const byName of Object.values(doc.resource ?? {})) n += Object.keys(byName).length;
  return n;
}

/** Builds every selected stack on one App; returns the specs in build order. */
function build(app: App, config: PlatformConfig, options: SynthOptions): StackSpec[] {
  const owner = config.owner ?? 'unassigned';
  const specs = planStacks(config, options);
  const networks = new Map<string, Network>();
  const contentBuckets = new Map<string, Bucket>();
  for (const spec of specs) {
    options.onStack?.(spec);
    const site = siteOf(spec, config.name, owner);
    const stack = new PlatformStack(app, spec, site);
    const env = config.environments[spec.env] as EnvironmentSpec;
    const regionKey = `${spec.env}/${spec.cloud}/${spec.region}`;
    // Secret Manager (GCP) is one per project, so only the primary region declares and writes
    // there; Secrets Manager (AWS) is regional, so each region has its own copy under the same name.
    const declaresSecrets = site.cloud !== 'gcp' || spec.region === spec.primaryRegion;
    const storeName = (name: string) => storeKey(config, site.cloud, spec.env, name);
    if (spec.role === 'core') {
      const net = network(stack, site);
      networks.set(regionKey, net);
      const k8s = cluster(stack, site, net, {
        namespace: targetOf(config, spec.env).namespace,
        // The services' accounts and the one the ExternalSecrets' store signs in as.
        serviceAccounts: [...Object.keys(config.services), externalSecretsAccount(config)],
      });
      const declared = declaresSecrets
        ? [
            ...new Set([
              ...PLATFORM_SECRETS,
              ...generatedSecretNames(site.cloud, brokerWanted(env)),
              ...managedSecretNames(config, spec.env),
            ]),
          ].map((name) => ({ name, storeName: storeName(name) }))
        : [];
      const store = secrets(stack, site, net, encryptionKey(stack, site, 'secrets'), declared);
      workloadAccess(stack, site, k8s, store, {
        secretPrefix: storeKeyPrefix(config, site.cloud, spec.env),
      });
      new TerraformOutput(stack, STACK_OUTPUTS.clusterName, { value: k8s.name });
      new TerraformOutput(stack, STACK_OUTPUTS.workloadIdentity, { value: k8s.workloadIdentity });
      if (store.tenantId) new TerraformOutput(stack, STACK_OUTPUTS.tenantId, { value: store.tenantId });
    } else if (spec.role === 'data') {
      const net = networks.get(regionKey) as Network;
      if (site.cloud !== 'azure') stack.useRandom();
      const db = database(stack, site, net, {
        user: DATABASE_USER,
        secretName: storeName('*.PGPASSWORD'),
        writeSecret: declaresSecrets,
      });
      new TerraformOutput(stack, STACK_OUTPUTS.databaseHost, { value: db.endpoint });
      const key = encryptionKey(stack, site, 'data');
      const [content, lake] = buckets(stack, site, net, key);
      contentBuckets.set(regionKey, content as Bucket);
      contentBucketAccess(stack, site, (content as Bucket).name, workloadAccountId(site));
      new TerraformOutput(stack, STACK_OUTPUTS.contentBucket, { value: (content as Bucket).name });
      lakeCatalog(stack, site, lake as Bucket, net, key);
      if (brokerWanted(env)) {
        const mq = broker(stack, site, net, key, {
          user: BROKER_USER,
          secretName: storeName('*.BUS_PASSWORD'),
        });
        new TerraformOutput(stack, STACK_OUTPUTS.brokerEndpoint, { value: mq.endpoint });
      }
    } else if (spec.role === 'edge') {
      edge(stack, site, contentBuckets.get(`${spec.env}/${spec.cloud}/${spec.primaryRegion}`) as Bucket);
    } else if (spec.role === 'interconnect' && spec.secondary) {
      const remote = siteOf(spec, config.name, owner, spec.secondary);
      stack.useCloud(remote);
      stack.useRandom();
      const remoteNet = network(stack, remote);
      interconnect(
        stack,
        { site, net: networks.get(regionKey) as Network },
        { site: remote, net: remoteNet },
      );
    }
  }
  return specs;
}

/**
 * The CDKTF App with every selected stack, not yet synthesized: the entry point for running the
 * same app under the `cdktf` CLI (bench/synth.ts compares the two).
 */
export function buildApp(config: PlatformConfig, options: SynthOptions): { app: App; specs: StackSpec[] } {
  const app = new App({ outdir: options.outdir, stackTraces: false });
  return { app, specs: build(app, config, options) };
}

/** Synthesizes the selected stacks into `options.outdir`. */
export function synthesize(config: PlatformConfig, options: SynthOptions): SynthResult {
  mkdirSync(options.outdir, { recursive: true });
  const { app, specs } = buildApp(config, options);
  clean(options.outdir, specs);
  app.synth();
  const stacks: SynthesizedStack[] = specs.map((spec) => {
    const file = join('stacks', spec.name, 'cdk.tf.json');
    return {
      name: spec.name,
      env: spec.env,
      tier: spec.tier,
      cloud: spec.cloud,
      region: spec.region,
      role: spec.role,
      protected: spec.protected,
      dependsOn: spec.dependsOn,
      resources: countResources(join(options.outdir, file)),
      file,
    };
  });
  const manifest = {
    manifestVersion: MANIFEST_VERSION,
    generator: 'platformctl',
    platform: config.name,
    stacks,
  };
  writeFileSync(join(options.outdir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { outdir: options.outdir, platform: config.name, stacks };
}

/** Reads a synthesized output's manifest (for policy check, plan and apply). */
export function readManifest(outdir: string): SynthResult {
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
    generator?: string;
    platform: string;
    stacks: SynthesizedStack[];
  };
  if (manifest.generator !== 'platformctl')
    throw new PlatformError(
      'MANIFEST_INVALID',
      `${outdir}/manifest.json was not written by platformctl synth`,
      {
        hint: 'point at the output directory of `platformctl synth` (default cdktf.out), or run synth again',
      },
    );
  return { outdir, platform: manifest.platform, stacks: manifest.stacks };
}
