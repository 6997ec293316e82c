/**
 * Prometheus artefacts generated from platform.yaml: the scrape configuration, recording rules for
 * each service's error ratio over the SLO windows, and SLO burn-rate and latency alerts. SLIs are
 * measured at the gateway, where users meet the platform.
 */
import type { PlatformConfig } from '../core/config/schema.ts';
import { BURN_TIERS, errorBudget, RECORDED_WINDOWS } from './slo.ts';

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Record<string, unknown>[];
}

/** Where an alert's runbook lives: an absolute URL (Alertmanager and Grafana link it as is). */
export type RunbookUrl = (file: string) => string;

/** The runbooks the alert rules link, as files under platformctl's `docs/runbooks/`. */
export const ALERT_RUNBOOKS = [
  'slo-burn-rate-fast.md',
  'slo-burn-rate-slow.md',
  'high-latency.md',
  'crash-loop.md',
  'gateway-5xx.md',
  'dependency-down.md',
  'analytics-projection-lag.md',
] as const;

function pascal(name: string): string {
  return name.replace(/(^|-)([a-z0-9])/g, (_, __, c: string) => c.toUpperCase());
}

/** Recording rules: request rate and error ratio per service for every SLO window. */
export function recordingRules(config: PlatformConfig): RuleGroup[] {
  return [
    {
      name: 'platform-sli',
      interval: '30s',
      rules: RECORDED_WINDOWS.flatMap((w) => [
        {
          record: `service:gateway_requests:rate${w}`,
          expr: `sum by (service) (rate(gateway_requests_total[${w}]))`,
        },
        {
          record: `service:gateway_errors:ratio_rate${w}`,
          expr: `sum by (service) (rate(gateway_requests_total{code=~"5.."}[${w}])) / sum by (service) (rate(gateway_requests_total[${w}]))`,
        },
      ]).concat([
        {
          record: 'service_version:gateway_request_duration_seconds:p99_5m',
          expr: 'histogram_quantile(0.99, sum by (service, version, le) (rate(gateway_request_duration_seconds_bucket[5m])))',
        },
      ]),
    },
  ].filter(() => Object.keys(config.services).length > 0);
}

/** Burn-rate alerts per service (page and ticket tiers), latency SLO alerts and process health. */
export function alertRules(config: PlatformConfig, runbook: RunbookUrl): RuleGroup[] {
  const groups: RuleGroup[] = [];
  for (const [name, svc] of Object.entries(config.services)) {
    if (svc.kind === 'gateway') continue;
    const budget = errorBudget(svc.slo.availability);
    const rules: Record<string, unknown>[] = BURN_TIERS.map((tier) => {
      const fast = tier.severity === 'page';
      return {
        alert: `${pascal(name)}ErrorBudgetBurn${fast ? 'Fast' : 'Slow'}${tier.longWindow}`,
        expr:
          `service:gateway_errors:ratio_rate${tier.longWindow}{service="${name}"} > (${tier.burnRate} * ${budget})` +
          ` and service:gateway_errors:ratio_rate${tier.shortWindow}{service="${name}"} > (${tier.burnRate} * ${budget})`,
        for: fast ? '2m' : '15m',
        labels: { severity: tier.severity, service: name, slo: 'availability' },
        annotations: {
          summary: `${name} is burning its error budget ${tier.burnRate}x too fast`,
          description: `At this rate ${tier.budgetSpent} of the 30-day budget of ${svc.slo.availability}% availability is spent. Error ratio {{ $value | humanizePercentage }}.`,
          runbook_url: runbook(`slo-burn-rate-${fast ? 'fast' : 'slow'}.md`),
        },
      };
    });
    rules.push({
      alert: `${pascal(name)}HighLatencyP99`,
      expr: `max by (service) (service_version:gateway_request_duration_seconds:p99_5m{service="${name}"}) > ${svc.slo.latencyP99Ms / 1000}`,
      for: '10m',
      labels: { severity: 'ticket', service: name, slo: 'latency' },
      annotations: {
        summary: `${name} p99 latency is above its ${svc.slo.latencyP99Ms} ms objective`,
        description: 'p99 over 5 minutes is {{ $value | humanizeDuration }}.',
        runbook_url: runbook(`high-latency.md`),
      },
    });
    groups.push({ name: `slo-${name}`, rules });
  }
  groups.push({
    name: 'platform-health',
    rules: [
      {
        alert: 'ServiceDown',
        expr: 'up{platform_service!=""} == 0',
        for: '1m',
        labels: { severity: 'page' },
        annotations: {
          summary: '{{ $labels.platform_service }} instance {{ $labels.instance }} is not answering scrapes',
          runbook_url: runbook(`crash-loop.md`),
        },
      },
      {
        // Services stay routed through a backend outage (only what needs the backend fails), so
        // the 5xx ratio alone can miss one; the services' own dependency checks cannot.
        alert: 'PlatformDependencyDown',
        expr: 'min by (platform_service, dependency) (service_dependency_up) == 0',
        for: '1m',
        labels: { severity: 'page' },
        annotations: {
          summary: '{{ $labels.platform_service }} cannot reach its {{ $labels.dependency }}',
          description:
            'Routes that need the {{ $labels.dependency }} answer 503 with Retry-After; see service_dependency_down_since_seconds for since when.',
          runbook_url: runbook('dependency-down.md'),
        },
      },
      {
        alert: 'GatewayHigh5xxRatio',
        expr: 'sum(rate(gateway_requests_total{code=~"5.."}[5m])) / sum(rate(gateway_requests_total[5m])) > 0.05',
        for: '5m',
        labels: { severity: 'page' },
        annotations: {
          summary: 'More than 5% of all requests fail at the gateway',
          runbook_url: runbook(`gateway-5xx.md`),
        },
      },
    ],
  });
  if (Object.values(config.services).some((svc) => svc.path === 'builtin:analytics')) {
    groups.push({
      name: 'analytics',
      rules: [
        {
          // The service holds ingest back at 0.5 s of lag (ANALYTICS_MAX_LAG_MS); 30 s for 5 minutes
          // means the projector is stalled or crash-looping, not merely busy.
          alert: 'AnalyticsProjectionLagging',
          expr: 'max by (instance) (analytics_projection_lag_seconds) > 30',
          for: '5m',
          labels: { severity: 'ticket', service: 'analytics' },
          annotations: {
            summary: 'Analytics read models trail acknowledged events by {{ $value | humanizeDuration }}',
            description:
              'Stats, trending and recommendations are stale on {{ $labels.instance }}; acknowledged events are safe in the ingest log.',
            runbook_url: runbook('analytics-projection-lag.md'),
          },
        },
      ],
    });
  }
  return groups;
}

export interface ScrapeTarget {
  service: string;
  targets: string[];
}

/** A prometheus.yml scraping every service, for the local provider or a static on-prem layout. */
export function scrapeConfig(
  config: PlatformConfig,
  targets: ScrapeTarget[],
  ruleFiles: string[],
): Record<string, unknown> {
  return {
    global: { scrape_interval: '5s', evaluation_interval: '15s', external_labels: { platform: config.name } },
    rule_files: ruleFiles,
    scrape_configs: targets.map((t) => ({
      job_name: t.service,
      metrics_path: '/metrics',
      static_configs: [{ targets: t.targets, labels: { platform_service: t.service } }],
    })),
  };
}

/**
 * A prometheus.yml for a real cluster: pods are discovered in the platform's namespaces through the
 * Kubernetes API (targets come and go with rollouts), kept when they belong to the platform, and
 * scraped on their `http` port. `platform_service` and `version` come from the pod labels the
 * manifests set, so the alert rules work unchanged.
 */
export function kubernetesScrapeConfig(
  config: PlatformConfig,
  namespaces: string[],
  ruleFiles: string[],
): Record<string, unknown> {
  const label = (name: string) => `__meta_kubernetes_pod_label_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;
  return {
    global: {
      scrape_interval: '15s',
      evaluation_interval: '15s',
      external_labels: { platform: config.name },
    },
    rule_files: ruleFiles,
    scrape_configs: [
      {
        job_name: `${config.name}-pods`,
        metrics_path: '/metrics',
        kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: namespaces } }],
        relabel_configs: [
          { source_labels: [label('app.kubernetes.io/part-of')], regex: config.name, action: 'keep' },
          {
            source_labels: [label('app.kubernetes.io/name')],
            regex: `(${Object.keys(config.services).join('|')})`,
            action: 'keep',
          },
          { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: 'http', action: 'keep' },
          { source_labels: [label('app.kubernetes.io/name')], target_label: 'platform_service' },
          { source_labels: [label('platformctl.dev/version')], target_label: 'version' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
        ],
      },
    ],
  };
}
