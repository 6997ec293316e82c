import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebhookSpec } from '../../src/core/config/schema.ts';
import { Notifier, type RolloutNotice } from '../../src/notify/webhooks.ts';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

let server: Server;
let base: string;
const received: Received[] = [];
const failures = new Map<string, number>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (d) => {
      text += d;
    });
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: JSON.parse(text) });
      const left = failures.get(path) ?? 0;
      if (path.startsWith('/flaky') && left > 0) {
        failures.set(path, left - 1);
        res.writeHead(503).end();
      } else if (path.startsWith('/deny')) res.writeHead(403).end('{"reason":"change freeze"}');
      else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const notice: RolloutNotice = {
  event: 'rollout.rolledBack',
  service: 'content',
  release: 'v2',
  stable: 'v1',
  strategy: 'canary',
  at: '2026-01-01T00:00:00.000Z',
  reason: 'error_rate < 1% (20% < 1% is false)',
  report: '.platform/reports/rollouts/content.md',
};
const hook = (
  name: string,
  path: string,
  format: WebhookSpec['format'],
  events?: WebhookSpec['events'],
): WebhookSpec => ({
  name,
  url: `${base}${path}`,
  format,
  ...(events ? { events } : {}),
});
const bodiesAt = (path: string) => received.filter((r) => r.path === path).map((r) => r.body);

describe('webhooks', () => {
  it('sends Slack, Teams and generic payload shapes', async () => {
    const n = new Notifier([
      hook('s', '/slack', 'slack'),
      hook('t', '/teams', 'teams'),
      hook('g', '/generic', 'generic'),
    ]);
    n.notify(notice);
    await n.flush();
    const [slack] = bodiesAt('/slack');
    expect(slack?.text).toContain('content: rolled back v2; v1 serves 100%');
    expect(slack?.blocks).toEqual([
      { type: 'section', text: { type: 'mrkdwn', text: expect.stringContaining('> error_rate < 1%') } },
    ]);
    const [teams] = bodiesAt('/teams') as {
      type: string;
      attachments: {
        contentType: string;
        content: { type: string; body: { type: string; facts?: unknown[] }[] };
      }[];
    }[];
    expect(teams?.type).toBe('message');
    expect(teams?.attachments[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(teams?.attachments[0]?.content.type).toBe('AdaptiveCard');
    expect(teams?.attachments[0]?.content.body.find((b) => b.type === 'FactSet')?.facts).toContainEqual({
      title: 'Release',
      value: 'v2',
    });
    const [generic] = bodiesAt('/generic');
    expect(generic).toMatchObject({
      event: 'rollout.rolledBack',
      service: 'content',
      release: 'v2',
      stable: 'v1',
      source: 'platformctl',
    });
    expect(received.find((r) => r.path === '/generic')?.headers['x-platformctl-event']).toBe(
      'rollout.rolledBack',
    );
  });

  it('honours the event filter', async () => {
    const n = new Notifier([hook('only-promoted', '/filtered', 'generic', ['rollout.promoted'])]);
    n.notify(notice);
    await n.flush();
    expect(bodiesAt('/filtered')).toHaveLength(0);
  });

  it('retries 5xx with backoff and reports the result', async () => {
    failures.set('/flaky', 2);
    const results: unknown[] = [];
    const n = new Notifier([hook('flaky', '/flaky', 'generic')], {
      baseDelayMs: 5,
      onResult: (r) => results.push(r),
    });
    n.notify(notice);
    await n.flush();
    expect(bodiesAt('/flaky')).toHaveLength(3);
    expect(results).toEqual([
      { hook: 'flaky', event: 'rollout.rolledBack', ok: true, status: 200, attempts: 3 },
    ]);
  });

  it("delivers one rollout's events to a hook in order, even when the first is retried", async () => {
    failures.set('/flaky-ordered', 1);
    const n = new Notifier([hook('ordered', '/flaky-ordered', 'generic')], { baseDelayMs: 50 });
    n.notify({ ...notice, event: 'rollout.started' });
    n.notify(notice);
    await n.flush();
    expect(bodiesAt('/flaky-ordered').map((b) => b.event)).toEqual([
      'rollout.started',
      'rollout.started',
      'rollout.rolledBack',
    ]);
  });

  it('the pre-rollout gate blocks on a non-2xx answer and only asks generic hooks', async () => {
    const gate = { service: 'content', release: 'v2', stable: 'v1', strategy: 'canary', at: notice.at };
    const denied = await new Notifier([
      hook('freeze', '/deny', 'generic'),
      hook('chat', '/slack-gate', 'slack'),
    ]).gate(gate);
    expect(denied.allowed).toBe(false);
    expect(denied.results).toMatchObject([{ hook: 'freeze', ok: false, status: 403, attempts: 1 }]);
    expect(bodiesAt('/slack-gate')).toHaveLength(0);
    expect(bodiesAt('/deny')[0]).toMatchObject({ event: 'rollout.gate', release: 'v2' });
    const allowed = await new Notifier([hook('ok', '/gate-ok', 'generic', ['rollout.gate'])]).gate(gate);
    expect(allowed.allowed).toBe(true);
  });

  it('an unreachable gate blocks; an unreachable notification never throws', async () => {
    const dead: WebhookSpec = { name: 'dead', url: 'http://127.0.0.1:9/hook', format: 'generic' };
    const n = new Notifier([dead], { baseDelayMs: 1, attempts: 2 });
    expect(
      (await n.gate({ service: 'a', release: 'b', stable: 'c', strategy: 'canary', at: notice.at })).allowed,
    ).toBe(false);
    n.notify(notice);
    await expect(n.flush()).resolves.toBeUndefined();
  });
});
