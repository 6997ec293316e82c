/**
 * Background writes during an experiment, with a ledger of what the platform acknowledged, and the
 * check afterwards that every acknowledged write is there: chaos that proves "nothing lost". Events
 * go to a handful of content ids unique to the run, so the analytics view counts must equal the
 * acknowledged events exactly (fewer = lost, more = an acknowledged duplicate counted twice).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sleep } from '../core/sleep.ts';

export interface WorkloadSpec {
  kind: 'events' | 'uploads';
  rate: number;
  batch: number;
}

export interface Ledger {
  events: { sent: number; acked: number; failed: number; perContent: Record<string, number> };
  uploads: { sent: number; acked: number; failed: number; ids: string[] };
}

export interface DataCheck {
  ok: boolean;
  lost: number;
  duplicated: number;
  details: string[];
}

const IN_FLIGHT_LIMIT = 64;
const CONTENT_IDS = 5;

export class Workload {
  readonly ledger: Ledger = {
    events: { sent: 0, acked: 0, failed: 0, perContent: {} },
    uploads: { sent: 0, acked: 0, failed: 0, ids: [] },
  };
  private readonly run = randomUUID().slice(0, 8);
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private token = '';
  private seq = 0;
  private readonly gatewayUrl: string;
  private readonly specs: WorkloadSpec[];

  constructor(gatewayUrl: string, specs: WorkloadSpec[]) {
    this.gatewayUrl = gatewayUrl;
    this.specs = specs;
  }

  /** Signs up a throw-away user for the run and starts sending at the configured rates. */
  async start(): Promise<void> {
    if (this.specs.length === 0) return;
    const email = `chaos-${this.run}@example.com`;
    const password = `chaos-${randomUUID()}`;
    await this.post('/auth/signup', { email, password });
    const login = (await (await this.post('/auth/login', { email, password })).json()) as {
      accessToken: string;
    };
    this.token = login.accessToken;
    for (const spec of this.specs) {
      const every = Math.max(1, Math.round(1000 / spec.rate));
      this.timers.push(setInterval(() => this.fire(spec), every));
    }
  }

  /** Stops sending and waits for requests in flight (their outcome still counts). */
  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    await Promise.allSettled([...this.inFlight]);
  }

  private fire(spec: WorkloadSpec): void {
    if (this.inFlight.size >= IN_FLIGHT_LIMIT) {
      // Never queue behind a stalled platform: an open-loop generator drops and counts instead.
      (spec.kind === 'events' ? this.ledger.events : this.ledger.uploads).failed++;
      return;
    }
    const p = (spec.kind === 'events' ? this.sendEvents(spec.batch) : this.sendUpload()).finally(() =>
      this.inFlight.delete(p),
    );
    this.inFlight.add(p);
  }

  private async sendEvents(batch: number): Promise<void> {
    const events = Array.from({ length: batch }, () => {
      const n = this.seq++;
      return {
        id: `chaos-${this.run}-${n}`,
        type: 'view',
        contentId: `chaos-${this.run}-c${n % CONTENT_IDS}`,
        userId: `u${n % 97}`,
        ts: Date.now(),
      };
    });
    this.ledger.events.sent += batch;
    try {
      const r = await fetch(`${this.gatewayUrl}/analytics/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` },
        body: JSON.stringify({ events }),
        signal: AbortSignal.timeout(5000),
      });
      await r.arrayBuffer();
      if (r.status !== 202) throw new Error(String(r.status));
      this.ledger.events.acked += batch;
      for (const e of events)
        this.ledger.events.perContent[e.contentId] = (this.ledger.events.perContent[e.contentId] ?? 0) + 1;
    } catch {
      this.ledger.events.failed += batch;
    }
  }

  private async sendUpload(): Promise<void> {
    this.ledger.uploads.sent++;
    try {
      const { default: sharp } = await import('sharp');
      const png = await sharp(randomBytes(8 * 8 * 3), { raw: { width: 8, height: 8, channels: 3 } })
        .png()
        .toBuffer();
      const r = await fetch(`${this.gatewayUrl}/content`, {
        method: 'POST',
        headers: {
          'content-type': 'application/octet-stream',
          authorization: `Bearer ${this.token}`,
          'x-filename': 'chaos.png',
        },
        body: png,
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await r.json().catch(() => ({}))) as { id?: string };
      if (r.status !== 201 || !body.id) throw new Error(String(r.status));
      this.ledger.uploads.acked++;
      this.ledger.uploads.ids.push(body.id);
    } catch {
      this.ledger.uploads.failed++;
    }
  }

  private post(path: string, body: unknown): Promise<Response> {
    return fetch(`${this.gatewayUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    }).then(async (r) => {
      if (r.status >= 300) throw new Error(`${path} answered ${r.status}: ${await r.text()}`);
      return r;
    });
  }

  /**
   * Checks every acknowledged write, polling until `timeoutMs` for asynchronous paths (the outbox
   * relays uploads to analytics through the bus) to converge.
   */
  async verify(timeoutMs: number): Promise<DataCheck> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const check = await this.checkOnce();
      if (check.ok || Date.now() > deadline) return check;
      await sleep(1000);
    }
  }

  private async get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const r = await fetch(`${this.gatewayUrl}${path}`, {
      headers: { authorization: `Bearer ${this.token}` },
      signal: AbortSignal.timeout(10_000),
    });
    return { status: r.status, body: (await r.json().catch(() => ({}))) as Record<string, unknown> };
  }

  private async checkOnce(): Promise<DataCheck> {
    const details: string[] = [];
    let lost = 0;
    let duplicated = 0;
    try {
      for (const [contentId, acked] of Object.entries(this.ledger.events.perContent)) {
        const { body } = await this.get(`/analytics/content/${contentId}/stats`);
        const views = Number(body.views ?? 0);
        // Unacknowledged sends may or may not have landed: views may exceed acked by at most those.
        const maxPossible = acked + this.ledger.events.failed;
        if (views < acked) {
          lost += acked - views;
          details.push(`${contentId}: ${acked} acknowledged views, ${views} counted`);
        } else if (views > maxPossible) {
          duplicated += views - maxPossible;
          details.push(`${contentId}: ${views} counted, at most ${maxPossible} sent`);
        }
      }
      for (const id of this.ledger.uploads.ids) {
        const stored = await this.get(`/content/${id}`);
        if (stored.status !== 200) {
          lost++;
          details.push(`upload ${id}: acknowledged, now ${stored.status}`);
          continue;
        }
        const stats = await this.get(`/analytics/content/${id}/stats`);
        if (Number(stats.body.uploads ?? 0) < 1) {
          lost++;
          details.push(`upload ${id}: stored, but content.uploaded never reached analytics`);
        }
      }
    } catch (err) {
      return {
        ok: false,
        lost,
        duplicated,
        details: [...details, `verification failed: ${(err as Error).message}`],
      };
    }
    return { ok: lost === 0 && duplicated === 0, lost, duplicated, details };
  }
}
