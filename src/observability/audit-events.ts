/**
 * Security events for a SIEM, in ECS-like shape (`@timestamp`, `event.category/action/outcome`,
 * `user.id`, `source.ip`, `service.name`), gathered from three places:
 * - the services' logs (`.platform/logs/*.log`): lines with `audit: true` — auth's login failures,
 *   refresh-token reuse, role changes…, and the gateway's admin API calls and refusals;
 * - the CLI's hash-chained audit log (`.platform/audit.log`): every mutating command;
 * - `.platform/security-events.jsonl`: events recorded by commands that are not mutating but matter
 *   to security, today `policy check` violations.
 * Field values are copied selectively (never whole log lines), and any key that looks like a secret
 * is dropped, so tokens and passwords cannot reach the SIEM even if a service logged one.
 */
import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readAudit } from '../core/audit.ts';
import { ensureDir, statePaths } from '../core/state-dir.ts';
import { parseLine } from '../providers/local/logs.ts';
import { scanLines } from './read-lines.ts';

export interface SecurityEvent {
  '@timestamp': string;
  event: {
    kind: 'event' | 'alert';
    category: string[];
    type: string[];
    action: string;
    outcome: 'success' | 'failure' | 'unknown';
    reason?: string;
    dataset: string;
  };
  service: { name: string };
  user?: { id?: string; name?: string; email?: string };
  source?: { ip: string };
  http?: { request: { method: string; id?: string }; response?: { status_code: number } };
  url?: { path: string };
  trace?: { id: string };
  labels?: Record<string, string>;
  message: string;
}

export interface EventQuery {
  /** `event.action` prefix, e.g. `auth.login_failed` or `auth` or `gateway.admin`. */
  type?: string;
  sinceMs?: number;
  service?: string;
}

const SECRET_KEY = /token|secret|password|passwd|authorization|cookie|credential|key$/i;

/** Per action: category, outcome and whether it is an alert (something to look at at once). */
const ACTIONS: Record<
  string,
  { category: string[]; type: string[]; outcome?: SecurityEvent['event']['outcome']; alert?: boolean }
> = {
  'auth.signup': { category: ['iam'], type: ['user', 'creation'], outcome: 'success' },
  'auth.login_succeeded': { category: ['authentication'], type: ['start'], outcome: 'success' },
  'auth.login_failed': { category: ['authentication'], type: ['start'], outcome: 'failure' },
  'auth.login_throttled': {
    category: ['authentication', 'intrusion_detection'],
    type: ['denied'],
    outcome: 'failure',
    alert: true,
  },
  'auth.refresh_reuse': {
    category: ['authentication', 'intrusion_detection'],
    type: ['denied'],
    outcome: 'failure',
    alert: true,
  },
  'auth.refresh_failed': { category: ['authentication'], type: ['denied'], outcome: 'failure' },
  'auth.logout': { category: ['authentication'], type: ['end'], outcome: 'success' },
  'auth.role_changed': { category: ['iam'], type: ['user', 'change'], outcome: 'success' },
  'auth.keys_rotated': { category: ['configuration'], type: ['change'], outcome: 'success' },
  'auth.client_created': { category: ['iam'], type: ['creation'], outcome: 'success' },
  'auth.client_revoked': { category: ['iam'], type: ['deletion'], outcome: 'success' },
  'auth.client_auth_failed': { category: ['authentication'], type: ['start'], outcome: 'failure' },
  'auth.client_token_issued': { category: ['authentication'], type: ['start'], outcome: 'success' },
  'gateway.admin_call': { category: ['configuration', 'web'], type: ['change', 'access'] },
  'gateway.admin_denied': {
    category: ['authentication', 'web'],
    type: ['denied'],
    outcome: 'failure',
    alert: true,
  },
  'policy.violation': { category: ['configuration', 'vulnerability'], type: ['info'], outcome: 'failure' },
  'cli.command': { category: ['configuration', 'process'], type: ['change'] },
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
}

/** Labels for the remaining scalar fields, minus anything that could be a secret. */
function safeLabels(fields: Record<string, unknown>, skip: Set<string>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (skip.has(k) || SECRET_KEY.test(k)) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  }
  return Object.keys(out).length ? out : undefined;
}

const LOG_FIELDS = new Set([
  'level',
  'time',
  'pid',
  'hostname',
  'service',
  'version',
  'instance',
  'msg',
  'audit',
  'type',
  'userId',
  'actor',
  'ip',
  'email',
  'reqId',
  'traceId',
  'method',
  'path',
  'status',
  'reason',
]);

/** Maps one `audit: true` service log line to an event. */
export function fromServiceLog(
  fields: Record<string, unknown>,
  service: string,
  time: number,
): SecurityEvent {
  const action = str(fields.type) ?? 'unknown';
  const meta = ACTIONS[action];
  const status = typeof fields.status === 'number' ? fields.status : undefined;
  const outcome = meta?.outcome ?? (status === undefined ? 'unknown' : status < 400 ? 'success' : 'failure');
  const userId = str(fields.userId) ?? str(fields.actor);
  const email = str(fields.email);
  const ip = str(fields.ip);
  const method = str(fields.method);
  const path = str(fields.path);
  const reason = str(fields.reason);
  const reqId = str(fields.reqId);
  const traceId = str(fields.traceId);
  const labels = safeLabels(fields, LOG_FIELDS);
  return {
    '@timestamp': new Date(time).toISOString(),
    event: {
      kind: meta?.alert ? 'alert' : 'event',
      category: meta?.category ?? ['other'],
      type: meta?.type ?? ['info'],
      action,
      outcome,
      ...(reason ? { reason } : {}),
      dataset: `${service}.audit`,
    },
    service: { name: service },
    ...(userId || email ? { user: { ...(userId ? { id: userId } : {}), ...(email ? { email } : {}) } } : {}),
    ...(ip ? { source: { ip: ip.replace(/^::ffff:/, '') } } : {}),
    ...(method
      ? {
          http: {
            request: { method, ...(reqId ? { id: reqId } : {}) },
            ...(status !== undefined ? { response: { status_code: status } } : {}),
          },
        }
      : {}),
    ...(path ? { url: { path } } : {}),
    ...(traceId ? { trace: { id: traceId } } : {}),
    ...(labels ? { labels } : {}),
    message: str(fields.msg) ?? action,
  };
}

/** Security events recorded by the CLI itself (policy violations). */
export function securityEventsFile(root: string): string {
  return join(statePaths(root).dir, 'security-events.jsonl');
}

/** Records `policy check` violations as security events (one per violation, no secrets involved). */
export function recordPolicyViolations(
  root: string,
  violations: { rule: string; severity: string; stack: string; resource: string; message: string }[],
): void {
  if (violations.length === 0) return;
  ensureDir(statePaths(root).dir);
  const now = new Date().toISOString();
  const lines = violations.map((v) =>
    JSON.stringify({
      '@timestamp': now,
      event: {
        kind: v.severity === 'error' ? 'alert' : 'event',
        category: ['configuration', 'vulnerability'],
        type: ['info'],
        action: 'policy.violation',
        outcome: 'failure',
        reason: v.rule,
        dataset: 'platformctl.policy',
      },
      service: { name: 'platformctl' },
      labels: { rule: v.rule, severity: v.severity, stack: v.stack, resource: v.resource },
      message: v.message,
    } satisfies SecurityEvent),
  );
  appendFileSync(securityEventsFile(root), `${lines.join('\n')}\n`);
}

/** Every security event of the project at `root`, oldest first, filtered by `q`. */
export function collectEvents(root: string, q: EventQuery = {}, now = Date.now()): SecurityEvent[] {
  const paths = statePaths(root);
  const events: SecurityEvent[] = [];
  if (existsSync(paths.logs)) {
    // Current files and the one rotated generation (`<instance>.log.1`) the supervisor keeps.
    for (const name of readdirSync(paths.logs).sort()) {
      const m = /^(.+)\.log(\.1)?$/.exec(name);
      if (!m || m[1] === 'supervisor') continue;
      const instance = m[1] as string;
      scanLines(
        join(paths.logs, name),
        (line) => {
          const e = parseLine(line, instance.replace(/-(v[^-]+-)?\d+$/, ''), instance);
          if (e.fields.audit === true) events.push(fromServiceLog(e.fields, e.service, e.time));
        },
        { contains: '"audit":true' },
      );
    }
  }
  let records: ReturnType<typeof readAudit> = [];
  try {
    records = readAudit(paths.audit);
  } catch {
    // A damaged audit log is `platformctl audit verify`'s to report; the other sources still count.
    records = [];
  }
  for (const r of records) {
    events.push({
      '@timestamp': r.ts,
      event: {
        kind: 'event',
        category: ['configuration', 'process'],
        type: ['change'],
        action: 'cli.command',
        outcome: r.result === 'ok' ? 'success' : 'failure',
        ...(r.errorCode ? { reason: r.errorCode } : {}),
        dataset: 'platformctl.audit',
      },
      service: { name: 'platformctl' },
      user: { name: r.actor },
      labels: { command: r.command, exitCode: String(r.exitCode), seq: String(r.seq) },
      message: `platformctl ${r.args.join(' ')}`,
    });
  }
  const extra = securityEventsFile(root);
  scanLines(extra, (line) => {
    try {
      events.push(JSON.parse(line) as SecurityEvent);
    } catch {
      // a torn line: skip
    }
  });
  return events
    .filter(
      (e) =>
        (!q.type || e.event.action.startsWith(q.type)) &&
        (!q.service || e.service.name === q.service) &&
        (q.sinceMs === undefined || Date.parse(e['@timestamp']) >= now - q.sinceMs),
    )
    .sort((a, b) => a['@timestamp'].localeCompare(b['@timestamp']));
}
