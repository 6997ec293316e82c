/**
 * Incident drills end to end on the real runtime, driven by a scripted on-call through
 * `bin/platformctl`: the page reaches a local Slack-format webhook receiver, resolve refuses
 * while the platform is unhealthy, the on-call's own mitigation (`canary abort`) makes it healthy,
 * and the postmortem's durations are the timeline's. Abort leaves no fault behind.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { startJiraStandin } from '../helpers/jira-standin.ts';
import { type RuntimePlatform, startRuntimePlatform } from '../helpers/runtime-platform.ts';

interface Received {
  path: string;
  event: string | undefined;
  body: { text?: string; blocks?: { text: { text: string } }[] };
}

async function adminFaults(p: RuntimePlatform): Promise<unknown[]> {
  const token = readFileSync(join(p.dir, '.platform', 'admin-token'), 'utf8').trim();
  const r = await fetch(`${p.gatewayAdminUrl}/admin/faults`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return ((await r.json()) as { faults: unknown[] }).faults;
}

describe('drills on the local platform', () => {
  let platform: RuntimePlatform;
  let receiver: Server;
  const received: Received[] = [];
  const cli = (args: string[]) => runCli(args, { cwd: platform.dir, timeoutMs: 120_000 });
  const json = async (args: string[]) => {
    const r = await cli(['--json', ...args]);
    return { ...r, value: r.stdout.trim() ? JSON.parse(r.stdout) : undefined };
  };

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        received.push({
          path: req.url ?? '',
          event: req.headers['x-platformctl-event'] as string | undefined,
          body: JSON.parse(body),
        });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    platform = await startRuntimePlatform();
    const file = join(platform.dir, 'platform.yaml');
    writeFileSync(
      file,
      `${readFileSync(file, 'utf8')}notifications:
  webhooks:
    - { name: oncall-slack, url: "http://127.0.0.1:${port}/slack", format: slack, events: [drill.page] }
`,
    );
  }, 240_000);
  afterAll(async () => {
    await platform?.stop();
    receiver?.close();
  });

  it('a scripted on-call runs the bad-canary drill to a postmortem with the timeline durations', async () => {
    const t0 = Date.now();
    const start = await json(['drill', 'start', '--scenario', 'bad-canary-at-50']);
    expect(start.exitCode, start.stderr).toBe(0);
    expect(start.value.page).toMatch(/5xx ratio/);

    // The page reached the Slack hook: the symptom, never the cause.
    expect(received).toHaveLength(1);
    const page = received[0] as Received;
    expect(page.path).toBe('/slack');
    expect(page.event).toBe('drill.page');
    expect(page.body.text).toMatch(/^Page: \[SEV2\] ContentHigh5xxRatio/);
    expect(page.body.blocks?.[0]?.text.text).toMatch(/drill ack/);
    expect(JSON.stringify(page.body)).not.toMatch(/canary/i);

    // The fault: a second version of content at 50%.
    const status = await json(['status']);
    const content = status.value.services.find((s: { name: string }) => s.name === 'content');
    expect(content.versions).toHaveLength(2);
    expect(Object.values(content.traffic.weights)).toEqual([50, 50]);

    const ack = await json(['drill', 'ack']);
    const ackWall = Date.now() - t0;
    expect(ack.exitCode, ack.stderr).toBe(0);
    expect((await json(['drill', 'note', 'content 5xx confirmed in top'])).exitCode).toBe(0);

    // Not fixed yet: resolve refuses, says what still fails, and the clock keeps running.
    const early = await json(['drill', 'resolve']);
    expect(early.exitCode).toBe(1);
    expect(early.value.resolved).toBe(false);
    expect(early.value.failing.map((p: { name: string }) => p.name)).toContain(
      'content answers through the gateway, every time',
    );

    // The runbook's checks find the errors where an operator looks: each 500 of the bad version
    // in content's log at error with its request id, and each 5xx in the gateway's at warn.
    const errors = await cli(['logs', 'content', '--level', 'error', '--since', '5m', '--json']);
    const failed = errors.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; status: number; reqId?: string; version: string });
    expect(failed.some((l) => l.msg === 'request failed' && l.status === 500 && l.reqId)).toBe(true);
    const warnings = await cli(['logs', 'all', '--level', 'warn', '--since', '5m', '--json']);
    expect(
      warnings.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { service: string; status?: number; level: string })
        .some((l) => l.service === 'gateway' && l.status === 500 && l.level === 'warn'),
    ).toBe(true);

    const hint = await json(['drill', 'hint']);
    expect(hint.value.level).toBe(1);
    const drillStatus = await json(['drill', 'status']);
    expect(drillStatus.value.hintsTaken).toBe(1);
    expect(drillStatus.value.faults).toBeUndefined();

    // The on-call's own mitigation.
    const abort = await cli(['canary', 'abort', 'content']);
    expect(abort.exitCode, abort.stderr).toBe(0);

    const resolved = await json(['drill', 'resolve']);
    const resolveWall = Date.now() - t0;
    expect(resolved.exitCode, resolved.stderr).toBe(0);
    const rec = resolved.value;
    expect(rec.outcome).toBe('resolved');
    const at = (type: string) => rec.timeline.find((e: { type: string }) => e.type === type)?.t as number;
    const types = rec.timeline.map((e: { type: string }) => e.type);
    expect(types.indexOf('start')).toBeLessThan(types.indexOf('page'));
    expect(types.indexOf('page')).toBeLessThan(types.indexOf('ack'));
    expect(types.indexOf('ack')).toBeLessThan(types.indexOf('note'));
    expect(types.indexOf('resolve-refused')).toBeLessThan(types.indexOf('hint'));
    expect(types.indexOf('hint')).toBeLessThan(types.indexOf('resolve'));
    // Durations are the timeline's, and the timeline matches what the on-call did (within slack
    // for process start-up: the test's clock started before `drill start` ran).
    expect(rec.times.acknowledgeMs).toBe(at('ack'));
    // Detect is the first diagnostic command (`status`, before the ack), not the acknowledgement.
    expect(rec.timeline.find((e: { type: string }) => e.type === 'diagnose')?.message).toBe(
      'ran platformctl status',
    );
    expect(rec.times.detectMs).toBe(at('diagnose'));
    expect(rec.times.detectMs).toBeLessThan(rec.times.acknowledgeMs);
    expect(rec.times.mitigateMs).toBe(at('resolve'));
    expect(rec.times.acknowledgeMs).toBeLessThan(rec.times.mitigateMs);
    expect(rec.times.acknowledgeMs).toBe(ack.value.t);
    expect(Math.abs(ackWall - rec.times.acknowledgeMs)).toBeLessThan(15_000);
    expect(Math.abs(resolveWall - rec.times.mitigateMs)).toBeLessThan(15_000);
    expect(rec.score.parts.hintPenalty).toBe(5);
    expect(rec.score.parts.timeline).toBe(15);
    // Impact from the gateway's counters: the refused resolve's probes met the bad version.
    const contentImpact = rec.impact.services.find((s: { service: string }) => s.service === 'content');
    expect(contentImpact.requests).toBeGreaterThan(0);
    expect(contentImpact.errors).toBeGreaterThan(0);

    const md = readFileSync(rec.report.markdown, 'utf8');
    expect(md).toMatch(/# Postmortem \(drill\): Bad canary left at 50%/);
    expect(md).toMatch(/## Timeline/);
    expect(md).toMatch(/## Impact/);
    expect(md).toMatch(/## Root cause/);
    expect(md).toMatch(/platformctl canary abort content/);
    expect(md).toMatch(/docs\/runbooks\/drill-bad-canary-at-50\.md/);
    expect(JSON.parse(readFileSync(rec.report.json, 'utf8')).times).toEqual(rec.times);

    // Nothing left: one content version, no active drill; history has it.
    const after = await json(['status']);
    expect(after.value.services.find((s: { name: string }) => s.name === 'content').versions).toHaveLength(1);
    expect(existsSync(join(platform.dir, '.platform', 'drills', 'active.json'))).toBe(false);
    const history = await json(['drill', 'history']);
    expect(history.value.scenarios).toEqual([
      expect.objectContaining({
        scenario: 'bad-canary-at-50',
        runs: 1,
        resolved: 1,
        medianMitigateMs: rec.times.mitigateMs,
      }),
    ]);
  }, 300_000);

  it('the rate-limit drill: the documented mitigation resolves it and the impact counts the 429s', async () => {
    await cli(['drill', 'abort']);
    expect((await json(['drill', 'start', '--scenario', 'gateway-rate-limit'])).exitCode).toBe(0);
    const refused = await json(['drill', 'resolve']);
    expect(refused.exitCode).toBe(1);
    expect(refused.value.failing[0].detail).toMatch(/failed \(e\.g\. 429/);
    // The runbook's mitigation: remove the gateway rule through the admin API.
    const token = readFileSync(join(platform.dir, '.platform', 'admin-token'), 'utf8').trim();
    const del = await fetch(`${platform.gatewayAdminUrl}/admin/faults`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(del.status).toBe(200);
    // Resolve files the postmortem's follow-ups in the team's Jira (a stand-in following its v3 API).
    const jira = await startJiraStandin({
      email: 'oncall@acme.test',
      apiToken: 'jira-token',
      projects: { OPS: { issueTypes: ['Task'] } },
    });
    const file = join(platform.dir, 'platform.yaml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}incidents:\n  jira: { project: OPS }\n`);
    const r = await runCli(['--json', 'drill', 'resolve', '--file-actions', '--tracker', 'jira'], {
      cwd: platform.dir,
      timeoutMs: 120_000,
      env: { JIRA_SITE: jira.url, JIRA_EMAIL: 'oncall@acme.test', JIRA_API_TOKEN: 'jira-token' },
    }).finally(() => jira.close());
    const resolved = { ...r, value: JSON.parse(r.stdout) };
    expect(resolved.exitCode, resolved.stderr).toBe(0);
    expect(resolved.value.fileActions.items.map((i: { status: string }) => i.status)).toEqual(
      jira.issues.map(() => 'created'),
    );
    expect(jira.issues.map((i) => i.summary)).toContain(
      'Check the paging path (who is on call, does the page reach them, is it loud enough).',
    );
    expect(jira.violations).toEqual([]);
    expect(resolved.value.impact.throttled).toBeGreaterThan(0);
    expect(resolved.value.times.acknowledgeMs).toBeUndefined();
    expect(resolved.value.score.parts.acknowledgement).toBe(0);
    expect(readFileSync(resolved.value.report.markdown, 'utf8')).toMatch(/The page was never acknowledged/);
  }, 120_000);

  it('abort reverts every fault (gateway rules, filled disk) and records no score', async () => {
    await cli(['drill', 'abort']); // a failed test before must not leave its drill running
    for (const scenario of ['auth-key-rotation-broken', 'disk-full-content']) {
      const start = await json(['drill', 'start', '--scenario', scenario]);
      expect(start.exitCode, start.stderr).toBe(0);
      expect(await adminFaults(platform)).toHaveLength(1);
      const second = await cli(['drill', 'start', '--random']);
      expect(second.exitCode).toBe(1);
      expect(second.stderr).toMatch(/already running/);
      const abort = await json(['drill', 'abort']);
      expect(abort.exitCode, abort.stderr).toBe(0);
      expect(abort.value.outcome).toBe('aborted');
      expect(abort.value.score).toBeUndefined();
      expect(await adminFaults(platform)).toEqual([]);
    }
    expect(existsSync(join(platform.dir, '.platform', 'data', 'content', 'chaos-fill.bin'))).toBe(false);

    // A paused service is resumed: its processes run again (not in state T, stopped).
    const pids = async () =>
      (await json(['status'])).value.services
        .find((s: { name: string }) => s.name === 'analytics')
        .instances.map((i: { pid: number }) => i.pid) as number[];
    const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    expect((await json(['drill', 'start', '--scenario', 'analytics-consumer-stuck'])).exitCode).toBe(0);
    const paused = await pids();
    expect(paused.map(state)).toEqual(paused.map(() => 'T'));
    expect((await json(['drill', 'abort'])).exitCode).toBe(0);
    expect(paused.map(state)).not.toContain('T');

    expect((await fetch(`${platform.gatewayUrl}/.well-known/jwks.json`)).status).toBe(200);
    expect((await cli(['drill', 'abort'])).exitCode).toBe(1);
  }, 300_000);
});
