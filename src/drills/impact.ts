/**
 * The drill's impact from the gateway's own counters (`gateway_requests_total` on its /metrics):
 * a snapshot when the drill starts and one when it ends, so the figures cover the whole drill
 * however long it ran (the admin stats window stops at 5 minutes). If the gateway restarted in
 * between (counters went down) the later counters alone are used and the impact says so.
 */
export interface ServiceImpact {
  service: string;
  requests: number;
  errors: number;
  errorRate: number;
  /** 429 answers: requests refused by a rate limit. */
  throttled: number;
}

export interface Impact {
  services: ServiceImpact[];
  requests: number;
  errors: number;
  throttled: number;
  /** Counters reset during the drill (gateway restart): figures are a lower bound. */
  partial: boolean;
  /** Why there are no figures, when there are none. */
  unavailable?: string;
}

export type Counters = Record<string, { requests: number; errors: number; throttled?: number }>;

const LINE = /^gateway_requests_total\{([^}]*)\}\s+([0-9.eE+-]+)/;

/** Per-service totals from Prometheus text. Errors are 5xx answers (502/503/504 included). */
export function parseCounters(text: string): Counters {
  const out: Counters = {};
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...(m[1] as string).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    const service = labels.service;
    // `none`: requests no route matched (scanners, typos); not a service's traffic.
    if (!service || service === 'none') continue;
    const value = Number(m[2]);
    const slot = out[service] ?? { requests: 0, errors: 0, throttled: 0 };
    slot.requests += value;
    if (/^5\d\d$/.test(labels.code ?? '')) slot.errors += value;
    if (labels.code === '429') slot.throttled = (slot.throttled ?? 0) + value;
    out[service] = slot;
  }
  return out;
}

export async function snapshotCounters(gatewayUrl: string): Promise<Counters> {
  const res = await fetch(`${gatewayUrl.replace(/\/$/, '')}/metrics`, { signal: AbortSignal.timeout(3000) });
  if (!res.ok) throw new Error(`gateway /metrics answered ${res.status}`);
  return parseCounters(await res.text());
}

export function diffCounters(before: Counters, after: Counters): Impact {
  let partial = false;
  const services: ServiceImpact[] = [];
  for (const [service, now] of Object.entries(after)) {
    const then = before[service] ?? { requests: 0, errors: 0, throttled: 0 };
    let requests = now.requests - then.requests;
    let errors = now.errors - then.errors;
    let throttled = (now.throttled ?? 0) - (then.throttled ?? 0);
    if (requests < 0 || errors < 0 || throttled < 0) {
      partial = true;
      requests = now.requests;
      errors = now.errors;
      throttled = now.throttled ?? 0;
    }
    if (requests === 0) continue;
    services.push({ service, requests, errors, errorRate: errors / requests, throttled });
  }
  services.sort((a, b) => a.service.localeCompare(b.service));
  return {
    services,
    requests: services.reduce((n, s) => n + s.requests, 0),
    errors: services.reduce((n, s) => n + s.errors, 0),
    throttled: services.reduce((n, s) => n + s.throttled, 0),
    partial,
  };
}
