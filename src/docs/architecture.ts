/**
 * Renders docs/architecture.md from platform.yaml: Mermaid diagrams of the request path (routes),
 * service dependencies, data stores per environment, environments and the delivery pipeline.
 * Data-store edges of the built-in services come from what their runtime does (see DESIGN.md);
 * services you add get a database edge only, since platform.yaml does not say more.
 */
import type { PlatformConfig, StepSpec } from '../core/config/schema.ts';
import { dataOf } from '../data/service-data.ts';

export const ARCHITECTURE_COMMAND = 'platformctl docs generate --only architecture';

// `end` is a Mermaid keyword; any other service name is a valid id once dashes become underscores.
const id = (name: string) => (name === 'end' ? 'end_' : name.replace(/[^A-Za-z0-9_]/g, '_'));
// Mermaid labels: quoted, line breaks as <br/> (literal newlines render differently across versions).
const label = (text: string) => `"${text.replace(/"/g, '#quot;').replace(/\n/g, '<br/>')}"`;

function requestPath(config: PlatformConfig): string[] {
  const lines = ['flowchart LR', '  client(["Client"])'];
  const gateways = Object.entries(config.services).filter(([, s]) => s.kind === 'gateway');
  for (const [name, s] of Object.entries(config.services))
    lines.push(`  ${id(name)}[${label(`${name}\n:${s.port}${s.replicas > 1 ? ` ×${s.replicas}` : ''}`)}]`);
  for (const [g] of gateways) lines.push(`  client -->|HTTPS| ${id(g)}`);
  for (const [name, s] of Object.entries(config.services)) {
    if (s.kind === 'gateway' || s.routes.length === 0) continue;
    for (const [g] of gateways) lines.push(`  ${id(g)} -->|${label(s.routes.join(' '))}| ${id(name)}`);
  }
  for (const [name, s] of Object.entries(config.services)) {
    if (s.kind === 'gateway') continue;
    for (const dep of s.dependsOn) lines.push(`  ${id(name)} -.->|depends on| ${id(dep)}`);
  }
  return lines;
}

function dataStores(config: PlatformConfig, env: string): string[] {
  const backends = config.environments[env]?.backends ?? {
    database: 'sqlite',
    bus: 'embedded',
    blobs: 'file',
  };
  const dbKind = backends.database === 'postgres' ? 'PostgreSQL' : 'SQLite';
  const busKind = backends.bus === 'rabbitmq' ? 'RabbitMQ' : 'embedded bus (SQLite log)';
  const blobKind = backends.blobs === 's3' ? 'S3' : 'filesystem blobs';
  const lines = ['flowchart LR'];
  let bus = false;
  for (const [name, s] of Object.entries(config.services)) {
    const d = dataOf(s.path);
    if (!d.db && !d.blobs && !d.publishes && !d.consumes) continue;
    lines.push(`  ${id(name)}[${label(name)}]`);
    if (d.db) lines.push(`  ${id(name)} --> ${id(name)}_db[(${label(`${dbKind}: ${name}`)})]`);
    if (d.blobs) lines.push(`  ${id(name)} --> ${id(name)}_blobs[(${label(`${blobKind}: ${name}`)})]`);
    for (const t of d.publishes ?? []) {
      bus = true;
      lines.push(`  ${id(name)} -->|${label(`publish ${t}`)}| bus`);
    }
    for (const t of d.consumes ?? []) {
      bus = true;
      lines.push(`  bus -->|${label(`consume ${t}`)}| ${id(name)}`);
    }
  }
  if (bus) lines.splice(1, 0, `  bus{{${label(busKind)}}}`);
  return lines;
}

function environments(config: PlatformConfig): string[] {
  const lines = ['flowchart TB'];
  for (const [name, e] of Object.entries(config.environments)) {
    lines.push(`  subgraph ${id(name)}_env[${label(`${name}${e.protected ? ' (protected)' : ''}`)}]`);
    lines.push(
      `    ${id(name)}_main[${label(`${e.cloud} ${e.region}\n${e.provider}${e.namespace ? ` ns ${e.namespace}` : ''}`)}]`,
    );
    for (const r of e.extraRegions) lines.push(`    ${id(name)}_${id(r)}[${label(`${e.cloud} ${r}`)}]`);
    if (e.secondary)
      lines.push(`    ${id(name)}_secondary[${label(`${e.secondary.cloud} ${e.secondary.region}`)}]`);
    lines.push('  end');
    for (const r of e.extraRegions) lines.push(`  ${id(name)}_main <-->|replication| ${id(name)}_${id(r)}`);
    if (e.secondary) lines.push(`  ${id(name)}_main <-->|site-to-site VPN| ${id(name)}_secondary`);
  }
  const names = Object.keys(config.environments);
  for (let i = 1; i < names.length; i++)
    lines.push(`  ${id(names[i - 1] as string)}_env -->|promote| ${id(names[i] as string)}_env`);
  return lines;
}

function stepText(step: StepSpec): string {
  if ('setWeight' in step) return `weight ${step.setWeight}%`;
  if ('analysis' in step) return 'analysis';
  const p = step.pause;
  return typeof p === 'number' ? `pause ${Math.round(p / 1000)}s` : 'pause until promoted';
}

function delivery(config: PlatformConfig): string[] {
  const d = config.delivery;
  const lines = ['flowchart LR', `  start([${label(`${d.strategy} starts`)}])`];
  let prev = 'start';
  d.steps.forEach((step, i) => {
    lines.push(`  s${i}[${label(stepText(step))}]`, `  ${prev} --> s${i}`);
    if ('analysis' in step) lines.push(`  s${i} -->|fails| rollback([${label('roll back to stable')}])`);
    prev = `s${i}`;
  });
  lines.push(`  ${prev} --> done([${label('promoted')}])`);
  return lines;
}

function mermaid(lines: string[]): string {
  return ['```mermaid', ...lines, '```'].join('\n');
}

export function renderArchitecture(config: PlatformConfig, source: string): string {
  const envs = Object.keys(config.environments);
  const serviceRows = Object.entries(config.services).map(
    ([n, s]) =>
      `| ${n} | ${s.kind} | ${s.port} | ${s.routes.map((r) => `\`${r}\``).join(' ') || '-'} | ${s.dependsOn.join(', ') || '-'} | ${s.replicas} | ${s.slo.availability}% / p99 ${s.slo.latencyP99Ms} ms |`,
  );
  const envRows = Object.entries(config.environments).map(
    ([n, e]) =>
      `| ${n} | ${e.cloud} | ${[e.region, ...e.extraRegions].join(', ')}${e.secondary ? ` + ${e.secondary.cloud} ${e.secondary.region}` : ''} | ${e.provider} | ${e.backends.database}, ${e.backends.bus}, ${e.backends.blobs} | ${e.protected ? 'yes' : 'no'} |`,
  );
  const parts = [
    `# Architecture of ${config.name}`,
    '',
    `<!-- Generated from ${source} by \`${ARCHITECTURE_COMMAND}\`. Do not edit by hand. -->`,
    '',
    'How a request travels, what each service stores, where each environment runs and how a release',
    'reaches users. The diagrams are generated from platform.yaml, so they show what is configured.',
    '',
    '## Request path',
    '',
    'Clients reach the gateway, which verifies JWTs, rate-limits, routes by path prefix and picks an',
    'upstream version by weight (canaries). Dotted edges are declared `dependsOn` relations.',
    '',
    mermaid(requestPath(config)),
    '',
    '| Service | Kind | Port | Routes | Depends on | Replicas | SLO |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...serviceRows,
    '',
    '## Data stores',
    '',
    'Each service owns its database; content keeps uploads in a blob store and publishes events',
    'through a transactional outbox; analytics consumes them idempotently (events carry ids).',
    '',
  ];
  const byBackends = new Map<string, string[]>();
  for (const env of envs) {
    const b = config.environments[env]?.backends;
    const key = JSON.stringify(b);
    byBackends.set(key, [...(byBackends.get(key) ?? []), env]);
  }
  for (const group of byBackends.values()) {
    parts.push(`### ${group.join(', ')}`, '', mermaid(dataStores(config, group[0] as string)), '');
  }
  parts.push(
    '## Environments',
    '',
    mermaid(environments(config)),
    '',
    '| Environment | Cloud | Regions | Provider | Database, bus, blobs | Protected |',
    '| --- | --- | --- | --- | --- | --- |',
    ...envRows,
    '',
    '## Delivery',
    '',
    `Default strategy \`${config.delivery.strategy}\`; every analysis step checks: ${config.delivery.analysis.conditions.map((c) => `\`${c}\``).join(', ')}.`,
    '',
    mermaid(delivery(config)),
    '',
  );
  return `${parts.join('\n').trimEnd()}\n`;
}
