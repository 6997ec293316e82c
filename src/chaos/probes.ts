/** Steady-state probes: an HTTP call through the gateway, a metric condition, or instance health. */
import { randomUUID } from 'node:crypto';
import { PlatformError } from '../core/errors.ts';
import { evaluateCondition, parseCondition } from '../delivery/conditions.ts';
import type { VersionMetrics } from '../providers/metrics/source.ts';
import type { Provider } from '../providers/provider.ts';
import type { Probe } from './experiment.ts';

export interface ProbeResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ProbeTarget {
  provider: Provider;
  gatewayUrl: string;
  /** Bearer token for probes with `auth: true`. */
  token?: string;
}

/** Signs up a throw-away user through the gateway and returns its access token (for `auth` probes). */
export async function probeToken(gatewayUrl: string): Promise<string> {
  const email = `chaos-probe-${randomUUID().slice(0, 8)}@example.com`;
  const password = `probe-${randomUUID()}`;
  const post = (path: string) =>
    fetch(`${gatewayUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
      signal: AbortSignal.timeout(10_000),
    });
  await post('/auth/signup');
  const login = await post('/auth/login');
  const body = (await login.json().catch(() => ({}))) as { accessToken?: string };
  if (!login.ok || !body.accessToken) {
    throw new PlatformError(
      'CHAOS_PROBE_AUTH',
      `cannot sign in a probe user (login answered ${login.status})`,
      {
        hint: 'probes with `auth: true` need the auth service behind the gateway: platformctl up',
      },
    );
  }
  return body.accessToken;
}

/** Metrics of a whole service (all versions): counts summed, the worst version's latency. */
export async function serviceMetrics(
  provider: Provider,
  service: string,
  windowMs: number,
): Promise<VersionMetrics> {
  const status = await provider.status();
  const versions = status.services.find((s) => s.name === service)?.versions ?? [];
  // With PLATFORMCTL_PROMETHEUS_URL the steady state is read through PromQL, like canary analysis.
  const promUrl = process.env.PLATFORMCTL_PROMETHEUS_URL;
  const prometheus = promUrl
    ? new (await import('../providers/metrics/prometheus.ts')).PrometheusMetricSource({ url: promUrl })
    : undefined;
  const all: VersionMetrics[] = await Promise.all(
    versions.map((v) =>
      prometheus ? prometheus.query(service, v, windowMs) : provider.metrics(service, v, windowMs),
    ),
  );
  const requests = all.reduce((n, m) => n + m.requests, 0);
  const errors = all.reduce((n, m) => n + m.errors, 0);
  if (requests === 0) return { requests: 0, errors: 0 };
  // A version without a latency figure (no histogram data) is missing data, not a fast version.
  const worst = (k: 'p50' | 'p95' | 'p99') => {
    const known = all.filter((m) => m.requests > 0 && m[k] !== undefined).map((m) => m[k] as number);
    return known.length > 0 ? Math.max(...known) : undefined;
  };
  return {
    requests,
    errors,
    errorRate: errors / requests,
    p50: worst('p50'),
    p95: worst('p95'),
    p99: worst('p99'),
  };
}

export async function runProbe(probe: Probe, target: ProbeTarget): Promise<ProbeResult> {
  try {
    if ('http' in probe) {
      const repeat = probe.http.repeat ?? 1;
      let failed = 0;
      let last = '';
      let firstBad = '';
      for (let i = 0; i < repeat; i++) {
        const started = performance.now();
        const response = await fetch(`${target.gatewayUrl}${probe.http.path}`, {
          method: probe.http.method,
          ...(probe.http.auth && target.token
            ? { headers: { authorization: `Bearer ${target.token}` } }
            : {}),
          signal: AbortSignal.timeout(probe.http.maxLatency),
        });
        await response.arrayBuffer();
        const ms = Math.round(performance.now() - started);
        last = `${response.status} in ${ms}ms`;
        if (!(probe.http.status.includes(response.status) && ms <= probe.http.maxLatency)) {
          failed++;
          firstBad ||= last;
        }
      }
      const what = `${probe.http.method} ${probe.http.path}`;
      return {
        name: probe.name,
        ok: failed === 0,
        detail:
          repeat === 1
            ? `${what} -> ${last}`
            : failed === 0
              ? `${what}: ${repeat}/${repeat} passed (last ${last})`
              : `${what}: ${failed}/${repeat} failed (e.g. ${firstBad})`,
      };
    }
    if ('metric' in probe) {
      const m = await serviceMetrics(target.provider, probe.metric.service, probe.metric.window);
      if (m.requests < probe.metric.minRequests) {
        return {
          name: probe.name,
          ok: true,
          detail: `${m.requests} requests in the window: too few to judge, passes`,
        };
      }
      const result = evaluateCondition(
        parseCondition(probe.metric.condition),
        { stable: m, canary: m },
        { minSampleSize: 1 },
      );
      return {
        name: probe.name,
        ok: result.verdict === 'pass',
        detail: `${probe.metric.service}: ${result.reason}`,
      };
    }
    const status = await target.provider.status();
    const wanted = probe.healthy.services;
    const services = status.services.filter((s) => !wanted || wanted.includes(s.name));
    const sick = services.filter((s) => !s.healthy).map((s) => s.name);
    const missing = (wanted ?? []).filter((w) => !services.some((s) => s.name === w));
    const ok = status.running && sick.length === 0 && missing.length === 0;
    return {
      name: probe.name,
      ok,
      detail: ok
        ? `${services.length} services healthy`
        : `unhealthy: ${[...sick, ...missing.map((m) => `${m} (absent)`)].join(', ') || 'platform not running'}`,
    };
  } catch (err) {
    return { name: probe.name, ok: false, detail: (err as Error).message };
  }
}

export async function runProbes(probes: Probe[], target: ProbeTarget): Promise<ProbeResult[]> {
  return Promise.all(probes.map((p) => runProbe(p, target)));
}
