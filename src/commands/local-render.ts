/** Human renderings shared by up, status, top and logs (the local provider's commands). */

import { formatDuration } from '../core/duration.ts';
import type { Output } from '../core/output.ts';
import type {
  InstanceStatus,
  LogEntry,
  PlatformStatus,
  ProviderEvent,
  ServiceStatus,
} from '../providers/provider.ts';

const PALETTE = [
  'cyan',
  'magenta',
  'yellow',
  'green',
  'blue',
  'redBright',
  'cyanBright',
  'magentaBright',
] as const;
const assigned = new Map<string, (typeof PALETTE)[number]>();

/** A stable colour per service, so interleaved logs stay readable. */
export function serviceColor(out: Output, service: string): (s: string) => string {
  let c = assigned.get(service);
  if (!c) {
    c = PALETTE[assigned.size % PALETTE.length] as (typeof PALETTE)[number];
    assigned.set(service, c);
  }
  return out.style[c];
}

function stateText(out: Output, state: InstanceStatus['state']): string {
  const s = out.style;
  switch (state) {
    case 'ready':
      return s.green(state);
    case 'starting':
    case 'stopping':
    case 'backoff':
      return s.yellow(state);
    case 'unhealthy':
    case 'crash-loop':
      return s.red(state);
    case 'paused':
      return s.red('paused (SIGSTOP)');
    default:
      return s.dim(state);
  }
}

export function uptime(i: InstanceStatus, now = Date.now()): string {
  return i.startedAt && i.pid ? formatDuration(now - Date.parse(i.startedAt)) : '-';
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x > 0 && x < 0.001 ? 3 : 1)}%`;
}

/** The one-screen status: one row per instance, then RED per service when the gateway answers. */
export function renderStatus(out: Output, st: PlatformStatus): string {
  const s = out.style;
  const lines: string[] = [];
  if (!st.running) {
    lines.push(
      `${s.yellow('●')} the platform is not running locally — start it with ${s.bold('platformctl up --detach')}`,
    );
    const orphans = st.services.flatMap((x) => x.instances).filter((i) => i.pid);
    if (orphans.length > 0) {
      lines.push(
        `${s.yellow('warning:')} ${orphans.length} process(es) outlived their supervisor (${orphans.map((i) => i.id).join(', ')}); \`platformctl up\` or \`platformctl down\` stops them`,
      );
    }
  } else {
    const sup = st.supervisor;
    lines.push(
      `${s.green('●')} running${sup ? ` (supervisor pid ${sup.pid}, ${sup.detached ? 'detached' : 'foreground'}, up ${formatDuration(Date.now() - Date.parse(sup.startedAt))})` : ''}${st.gatewayUrl ? ` — gateway ${s.bold(st.gatewayUrl)}` : ''}`,
    );
  }
  const rows: (string | number)[][] = [];
  for (const svc of st.services) {
    if (svc.instances.length === 0) {
      rows.push([serviceColor(out, svc.name)(svc.name), '-', '-', '-', '-', s.dim('not running'), '-', '-']);
      continue;
    }
    for (const i of svc.instances) {
      rows.push([
        serviceColor(out, svc.name)(svc.name),
        i.id,
        i.version,
        i.pid ?? '-',
        i.port,
        stateText(out, i.state),
        i.restarts,
        uptime(i),
      ]);
    }
  }
  lines.push(
    '',
    out.table(['SERVICE', 'INSTANCE', 'VERSION', 'PID', 'PORT', 'STATE', 'RESTARTS', 'UPTIME'], rows),
  );
  const withMetrics = st.services.filter((x) => x.metrics);
  if (withMetrics.length > 0) {
    lines.push(
      '',
      out.table(
        ['SERVICE', 'RPS', 'ERRORS', 'P50', 'P99', 'TRAFFIC'],
        withMetrics.map((x) => {
          const m = x.metrics as NonNullable<typeof x.metrics>;
          const traffic = x.traffic
            ? Object.entries(x.traffic.weights)
                .map(([v, w]) => `${v}:${w}%`)
                .join(' ')
            : '';
          return [
            x.name,
            m.rps.toFixed(1),
            m.errorRate > 0.01 ? s.red(pct(m.errorRate)) : pct(m.errorRate),
            `${m.p50.toFixed(0)}ms`,
            `${m.p99.toFixed(0)}ms`,
            traffic,
          ];
        }),
      ),
      s.dim(
        `(gateway statistics over the last ${formatDuration(withMetrics[0]?.metrics?.windowMs ?? 10_000)})`,
      ),
    );
  } else if (st.running && !st.metricsAvailable) {
    lines.push('', s.dim('request metrics unavailable (the gateway is not answering its admin API)'));
  }
  const outages = dependencyLines(out, st.services);
  if (outages.length > 0) lines.push('', ...outages);
  for (const svc of st.services) {
    for (const i of svc.instances) {
      if (i.state === 'crash-loop' && i.lastLogLines?.length) {
        lines.push(
          '',
          s.red(`${i.id} is crash-looping; its last log lines:`),
          ...i.lastLogLines.map((l) => `  ${l}`),
        );
      }
    }
  }
  return lines.join('\n');
}

const LEVEL_STYLE: Record<string, 'dim' | 'white' | 'yellow' | 'red'> = {
  trace: 'dim',
  debug: 'dim',
  info: 'white',
  warn: 'yellow',
  error: 'red',
  fatal: 'red',
};

const SKIP = new Set(['level', 'time', 'msg', 'service', 'version', 'instance', 'pid', 'hostname', 'v']);

/** `12:00:01.123 content-1 INFO  message key=value …` */
export function renderLog(out: Output, e: LogEntry): string {
  const s = out.style;
  const time = new Date(e.time).toISOString().slice(11, 23);
  const extras = Object.entries(e.fields)
    .filter(([k, v]) => !SKIP.has(k) && v !== undefined)
    .map(([k, v]) => `${s.dim(`${k}=`)}${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const level = s[LEVEL_STYLE[e.level] ?? 'white'](e.level.toUpperCase().padEnd(5));
  return `${s.dim(time)} ${serviceColor(out, e.service)(e.instance.padEnd(12))} ${level} ${e.msg}${extras ? ` ${extras}` : ''}`;
}

/** Supervisor events worth a line on stderr while `up` runs. */
export function renderEvent(out: Output, e: ProviderEvent): string | undefined {
  const s = out.style;
  switch (e.type) {
    case 'release.built':
      return `${s.dim('built release')} ${e.service}@${e.version}`;
    case 'instance.restarting':
      return `${s.yellow('↻')} ${e.instance} exited; restart #${e.restarts}${e.delayMs ? ` in ${formatDuration(e.delayMs)}` : ' now'}`;
    case 'instance.crash-loop':
      return `${s.red('✗')} ${e.instance} is crash-looping; no more restarts`;
    case 'info':
      return e.message;
    default:
      return undefined;
  }
}

/**
 * One line per backend a service cannot reach: requests that need it answer 503, so the error
 * column alone would not say why.
 */
export function dependencyLines(out: Output, services: readonly ServiceStatus[]): string[] {
  const s = out.style;
  return services.flatMap((svc) =>
    (svc.dependenciesDown ?? []).map(
      (d) =>
        `${s.red('●')} ${svc.name}: ${d.dependency} down since ${new Date(d.since).toLocaleTimeString()} (${formatDuration(Date.now() - Date.parse(d.since))})${d.error ? ` — ${d.error}` : ''}; routes that need it answer 503`,
    ),
  );
}
