/**
 * A Grafana dashboard (JSON model, schemaVersion 39) with one row per service: request rate,
 * error ratio and p99 latency, each split by version so a canary stands out beside stable.
 */
import type { PlatformConfig } from '../core/config/schema.ts';
import { errorBudget } from './slo.ts';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  [key: string]: unknown;
}

function timeseries(
  id: number,
  title: string,
  expr: string,
  unit: string,
  x: number,
  y: number,
  threshold?: number,
): Panel {
  return {
    id,
    type: 'timeseries',
    title,
    // A Grafana template variable, resolved by Grafana when the dashboard is imported.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana syntax, not a JS template
    datasource: { type: 'prometheus', uid: '${datasource}' },
    gridPos: { h: 8, w: 8, x, y },
    fieldConfig: {
      defaults: {
        unit,
        ...(threshold === undefined
          ? {}
          : {
              thresholds: {
                mode: 'absolute',
                steps: [
                  { color: 'green', value: null },
                  { color: 'red', value: threshold },
                ],
              },
              custom: { thresholdsStyle: { mode: 'line' } },
            }),
      },
      overrides: [],
    },
    targets: [{ refId: 'A', expr, legendFormat: '{{version}}' }],
  };
}

export function dashboard(config: PlatformConfig): Record<string, unknown> {
  const panels: Panel[] = [];
  let id = 1;
  let y = 0;
  for (const [name, svc] of Object.entries(config.services)) {
    if (svc.kind === 'gateway') continue;
    panels.push({
      id: id++,
      type: 'row',
      title: name,
      gridPos: { h: 1, w: 24, x: 0, y },
      collapsed: false,
      panels: [],
    });
    y += 1;
    const sel = `service="${name}"`;
    panels.push(
      timeseries(
        id++,
        `${name}: requests/s`,
        `sum by (version) (rate(gateway_requests_total{${sel}}[1m]))`,
        'reqps',
        0,
        y,
      ),
      timeseries(
        id++,
        `${name}: error ratio`,
        `sum by (version) (rate(gateway_requests_total{${sel},code=~"5.."}[1m])) / sum by (version) (rate(gateway_requests_total{${sel}}[1m]))`,
        'percentunit',
        8,
        y,
        errorBudget(svc.slo.availability),
      ),
      timeseries(
        id++,
        `${name}: p99 latency`,
        `histogram_quantile(0.99, sum by (version, le) (rate(gateway_request_duration_seconds_bucket{${sel}}[1m])))`,
        's',
        16,
        y,
        Number((svc.slo.latencyP99Ms / 1000).toPrecision(6)),
      ),
    );
    y += 8;
  }
  return {
    uid: `${config.name}-platform`,
    title: `${config.name} platform`,
    tags: ['platformctl', config.name],
    timezone: 'utc',
    schemaVersion: 39,
    version: 1,
    refresh: '10s',
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [{ name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus' }],
    },
    panels,
  };
}
