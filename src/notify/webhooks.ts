/**
 * Rollout notifications to incoming webhooks from `notifications.webhooks` in platform.yaml:
 * Slack-compatible (`text` + mrkdwn blocks), Teams-compatible (a message with an Adaptive Card, the
 * shape Teams workflows and connectors accept) and generic JSON (the event itself).
 *
 * - Delivery retries with exponential backoff on network errors, 429 and 5xx.
 * - `rollout.gate` goes to generic hooks only and is fail-closed: a non-2xx answer (after retries
 *   for transient ones) or an unreachable hook blocks the rollout before anything is deployed.
 * - Everything else is fire-and-forget from the engine's point of view: `notify` never throws and
 *   the engine never waits for it before acting (a rollback is never delayed by a slow webhook);
 *   commands call `flush()` with a time cap before exiting.
 * - Deliveries to one hook about one subject (a service's rollout, a drill) go out in the order
 *   they were raised: a receiver must never see `rolledBack` before `started` because the first
 *   delivery was retried or slow. Different hooks and subjects stay concurrent.
 */
import type { WebhookSpec } from '../core/config/schema.ts';
import { sleep } from '../core/sleep.ts';

export type NotifyEventName = 'rollout.started' | 'rollout.gate' | 'rollout.promoted' | 'rollout.rolledBack';
/** Every event a hook can subscribe to (platform.yaml `events`). */
export type HookEventName = NotifyEventName | 'drill.page';

export interface RolloutNotice {
  event: NotifyEventName;
  service: string;
  release: string;
  stable: string;
  strategy: string;
  at: string;
  /** Why: the decision's explanation (e.g. the failed condition with its values). */
  reason?: string;
  /** Where the full report is. */
  report?: string;
  /** Structured evidence (e.g. metric values per interval) for generic receivers. */
  evidence?: unknown;
}

/** An incident drill paging the on-call: the symptom only, never the hidden cause. */
export interface DrillPageNotice {
  event: 'drill.page';
  drill: string;
  title: string;
  severity: string;
  /** What the on-call would see (e.g. an alert text). */
  message: string;
  at: string;
  runbook?: string;
}

export type Notice = RolloutNotice | DrillPageNotice;

export interface DeliveryResult {
  hook: string;
  event: HookEventName;
  ok: boolean;
  status?: number;
  attempts: number;
  error?: string;
}

export interface NotifierOptions {
  attempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
  onResult?: (r: DeliveryResult) => void;
}

const TITLES: Record<HookEventName, string> = {
  'rollout.started': 'Rollout started',
  'rollout.gate': 'Rollout gate',
  'rollout.promoted': 'Rollout promoted',
  'rollout.rolledBack': 'Rollout rolled back',
  'drill.page': 'Page',
};

/** Slack's incoming-webhook shape: a plain-text fallback and one mrkdwn section. */
function slackMessage(summary: string, lines: string[]): unknown {
  return {
    text: summary,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n') } }],
  };
}

/** A Teams message carrying one Adaptive Card: a coloured title, a line of text and facts. */
function teamsCard(
  summary: string,
  title: string,
  color: string,
  text: string,
  facts: { title: string; value: string }[],
): unknown {
  return {
    type: 'message',
    summary,
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', size: 'Medium', weight: 'Bolder', text: title, color },
            { type: 'TextBlock', text, wrap: true },
            { type: 'FactSet', facts },
          ],
        },
      },
    ],
  };
}

function drillPayload(format: WebhookSpec['format'], n: DrillPageNotice): unknown {
  const head = `[${n.severity}] ${n.message}`;
  if (format === 'slack') {
    const lines = [
      `:rotating_light: *${TITLES[n.event]}* ${head}`,
      `drill \`${n.drill}\` — ack with \`platformctl drill ack\``,
    ];
    if (n.runbook) lines.push(`runbook: \`${n.runbook}\``);
    return slackMessage(`${TITLES[n.event]}: ${head}`, lines);
  }
  if (format === 'teams') {
    return teamsCard(`${TITLES[n.event]}: ${head}`, TITLES[n.event], 'Attention', head, [
      { title: 'Severity', value: n.severity },
      { title: 'Drill', value: n.drill },
      ...(n.runbook ? [{ title: 'Runbook', value: n.runbook }] : []),
    ]);
  }
  return { ...n, source: 'platformctl' };
}

function headline(n: RolloutNotice): string {
  const verb =
    n.event === 'rollout.started'
      ? `started rolling out ${n.release} (${n.strategy}, stable ${n.stable})`
      : n.event === 'rollout.promoted'
        ? `promoted ${n.release} to 100% (was ${n.stable})`
        : n.event === 'rollout.rolledBack'
          ? `rolled back ${n.release}; ${n.stable} serves 100%`
          : `asks to roll out ${n.release}`;
  return `${n.service}: ${verb}`;
}

/** The JSON body each format expects. */
export function payloadFor(format: WebhookSpec['format'], n: Notice): unknown {
  if (n.event === 'drill.page') return drillPayload(format, n);
  if (format === 'slack') {
    const lines = [`*${TITLES[n.event]}* — ${headline(n)}`];
    if (n.reason) lines.push(`> ${n.reason}`);
    if (n.report) lines.push(`report: \`${n.report}\``);
    return slackMessage(`${TITLES[n.event]}: ${headline(n)}`, lines);
  }
  if (format === 'teams') {
    const facts = [
      { title: 'Service', value: n.service },
      { title: 'Release', value: n.release },
      { title: 'Stable', value: n.stable },
      { title: 'Strategy', value: n.strategy },
      ...(n.reason ? [{ title: 'Reason', value: n.reason }] : []),
      ...(n.report ? [{ title: 'Report', value: n.report }] : []),
    ];
    const color =
      n.event === 'rollout.rolledBack' ? 'Attention' : n.event === 'rollout.promoted' ? 'Good' : 'Default';
    return teamsCard(`${TITLES[n.event]}: ${headline(n)}`, TITLES[n.event], color, headline(n), facts);
  }
  return { ...n, source: 'platformctl' };
}

function subscribed(hook: WebhookSpec, event: HookEventName): boolean {
  if (event === 'rollout.gate' && hook.format !== 'generic') return false;
  return hook.events === undefined || hook.events.includes(event);
}

/** What a notice is about; its deliveries to one hook are ordered. */
function subjectOf(n: Notice): string {
  return n.event === 'drill.page' ? `drill:${n.drill}` : `rollout:${n.service}`;
}

export class Notifier {
  private readonly hooks: WebhookSpec[];
  private readonly options: Required<Omit<NotifierOptions, 'onResult'>> & Pick<NotifierOptions, 'onResult'>;
  private readonly pending = new Set<Promise<unknown>>();
  /** The last delivery queued per hook and subject; the next one starts after it settles. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(hooks: WebhookSpec[], options: NotifierOptions = {}) {
    this.hooks = hooks;
    this.options = {
      attempts: options.attempts ?? 3,
      baseDelayMs: options.baseDelayMs ?? 250,
      timeoutMs: options.timeoutMs ?? 3000,
      onResult: options.onResult,
    };
  }

  /** Asks every gate hook; resolves `allowed: false` with the first refusal. */
  async gate(n: Omit<RolloutNotice, 'event'>): Promise<{ allowed: boolean; results: DeliveryResult[] }> {
    const notice: RolloutNotice = { ...n, event: 'rollout.gate' };
    const results = await Promise.all(
      this.hooks.filter((h) => subscribed(h, 'rollout.gate')).map((h) => this.deliver(h, notice)),
    );
    return { allowed: results.every((r) => r.ok), results };
  }

  /** Sends an event in the background; never throws. */
  notify(n: Notice): void {
    for (const hook of this.hooks.filter((h) => n.event !== 'rollout.gate' && subscribed(h, n.event))) {
      const key = `${hook.name}\0${subjectOf(n)}`;
      const previous = this.queues.get(key) ?? Promise.resolve();
      // deliver() never rejects, so the chain never breaks on a failed delivery.
      const p: Promise<unknown> = previous
        .then(() => this.deliver(hook, n))
        .finally(() => {
          this.pending.delete(p);
          if (this.queues.get(key) === p) this.queues.delete(key);
        });
      this.queues.set(key, p);
      this.pending.add(p);
    }
  }

  /** Waits for background deliveries, at most `capMs`. */
  async flush(capMs = 10_000): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.pending]),
      new Promise((r) => {
        timer = setTimeout(r, capMs);
      }),
    ]);
    clearTimeout(timer);
  }

  private async deliver(hook: WebhookSpec, n: Notice): Promise<DeliveryResult> {
    const body = JSON.stringify(payloadFor(hook.format, n));
    let result: DeliveryResult = { hook: hook.name, event: n.event, ok: false, attempts: 0 };
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      result = { hook: hook.name, event: n.event, ok: false, attempts: attempt };
      let retryable = true;
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'platformctl',
            'x-platformctl-event': n.event,
          },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        result.status = res.status;
        result.ok = res.ok;
        retryable = res.status === 429 || res.status >= 500;
        if (!res.ok) result.error = `HTTP ${res.status}`;
      } catch (err) {
        result.error = (err as Error).message;
      }
      if (result.ok || !retryable) break;
      if (attempt < this.options.attempts) {
        await sleep(this.options.baseDelayMs * 2 ** (attempt - 1));
      }
    }
    this.options.onResult?.(result);
    return result;
  }
}
