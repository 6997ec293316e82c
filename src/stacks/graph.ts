/**
 * The platform as a Mermaid flowchart: environments, then clouds and regions, each region with
 * its cluster (running the services), database, buckets and broker; the CDN and DNS per
 * environment; VPN links to secondary clouds. Built from platform.yaml and the stack plan only
 * (no CDKTF), so it is instant and matches what synth would create.
 */
import type { EnvironmentSpec, PlatformConfig } from '../core/config/schema.ts';
import { type PlanOptions, planStacks } from './plan.ts';

const CLUSTER = { aws: 'EKS', azure: 'AKS', gcp: 'GKE' } as const;
const DATABASE = {
  aws: 'RDS PostgreSQL',
  azure: 'PostgreSQL Flexible Server',
  gcp: 'Cloud SQL PostgreSQL',
} as const;
const BUCKETS = { aws: 'S3', azure: 'Blob Storage', gcp: 'Cloud Storage' } as const;
const BROKER = { aws: 'Amazon MQ RabbitMQ', azure: 'Service Bus', gcp: 'Pub/Sub' } as const;
const CDN = { aws: 'CloudFront', azure: 'Front Door', gcp: 'Cloud CDN' } as const;
const DNS = { aws: 'Route 53', azure: 'Azure DNS', gcp: 'Cloud DNS' } as const;

/** Which data stores a built-in runtime service uses; other services get the database. */
const USES: Record<string, ('db' | 'content' | 'lake' | 'bus')[]> = {
  'builtin:gateway': [],
  'builtin:auth': ['db'],
  'builtin:content': ['db', 'content', 'bus'],
  'builtin:analytics': ['db', 'lake', 'bus'],
};

function id(...parts: string[]): string {
  return parts.join('_').replace(/[^A-Za-z0-9_]/g, '_');
}

function label(text: string): string {
  return text.replace(/"/g, "'");
}

export function mermaid(config: PlatformConfig, options: PlanOptions = {}): string {
  const stacks = planStacks(config, options);
  const lines = ['flowchart LR', `  users(["users"])`];
  const envs = [...new Set(stacks.map((s) => s.env))];
  for (const envName of envs) {
    const env = config.environments[envName] as EnvironmentSpec;
    const envStacks = stacks.filter((s) => s.env === envName);
    const tag = env.protected ? ' (protected)' : '';
    lines.push(`  subgraph ${id('env', envName)}["${label(`${envName}${tag}`)}"]`);
    const busWanted = env.provider === 'kubernetes' || env.backends.bus === 'rabbitmq';
    for (const cloud of [...new Set(envStacks.map((s) => s.cloud))]) {
      const regions = envStacks.filter((s) => s.cloud === cloud && s.role === 'core');
      lines.push(`    subgraph ${id(envName, cloud)}["${cloud}"]`);
      const edgeId = id(envName, cloud, 'cdn');
      lines.push(`      ${id(envName, cloud, 'dns')}{{"${DNS[cloud]}"}}`);
      lines.push(`      ${edgeId}[/"${CDN[cloud]}"/]`);
      for (const core of regions) {
        const r = core.region;
        const k8s = id(envName, cloud, r, 'k8s');
        lines.push(`      subgraph ${id(envName, cloud, r)}["${r}"]`);
        lines.push(`        subgraph ${k8s}["${CLUSTER[cloud]} cluster"]`);
        for (const name of Object.keys(config.services)) lines.push(`          ${id(k8s, name)}("${name}")`);
        lines.push('        end');
        lines.push(`        ${id(envName, cloud, r, 'db')}[("${DATABASE[cloud]}")]`);
        lines.push(`        ${id(envName, cloud, r, 'content')}[("${BUCKETS[cloud]}: content")]`);
        lines.push(`        ${id(envName, cloud, r, 'lake')}[("${BUCKETS[cloud]}: data lake")]`);
        if (busWanted) lines.push(`        ${id(envName, cloud, r, 'bus')}[["${BROKER[cloud]}"]]`);
        lines.push('      end');
      }
      lines.push('    end');
      const secondary = envStacks.find((s) => s.cloud === cloud && s.role === 'interconnect')?.secondary;
      if (secondary) {
        lines.push(`    ${id(envName, cloud, 'peer')}["${secondary.cloud} ${secondary.region} network"]`);
      }
    }
    lines.push('  end');
  }
  // Edges after all nodes, so subgraph membership stays as declared.
  for (const s of stacks.filter((st) => st.role === 'core')) {
    const k8s = id(s.env, s.cloud, s.region, 'k8s');
    const env = config.environments[s.env] as EnvironmentSpec;
    const busWanted = env.provider === 'kubernetes' || env.backends.bus === 'rabbitmq';
    if (s.regionIndex === 0) {
      lines.push(`  users --> ${id(s.env, s.cloud, 'dns')}`);
      lines.push(`  ${id(s.env, s.cloud, 'dns')} --> ${id(s.env, s.cloud, 'cdn')}`);
      lines.push(`  ${id(s.env, s.cloud, 'cdn')} --> ${id(s.env, s.cloud, s.region, 'content')}`);
    }
    for (const [name, svc] of Object.entries(config.services)) {
      for (const dep of svc.dependsOn) lines.push(`  ${id(k8s, name)} --> ${id(k8s, dep)}`);
      for (const use of USES[svc.path] ?? ['db']) {
        if (use === 'bus' && !busWanted) continue;
        lines.push(`  ${id(k8s, name)} -.-> ${id(s.env, s.cloud, s.region, use)}`);
      }
    }
  }
  for (const s of stacks.filter((st) => st.role === 'interconnect')) {
    lines.push(`  ${id(s.env, s.cloud, s.region)} <-->|site-to-site VPN| ${id(s.env, s.cloud, 'peer')}`);
  }
  return `${lines.join('\n')}\n`;
}
