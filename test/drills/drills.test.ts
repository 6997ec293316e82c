/** Drill scenario validation, scoring, timeline durations and impact arithmetic (no platform). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigError } from '../../src/core/errors.ts';
import { diffCounters, parseCounters } from '../../src/drills/impact.ts';
import { loadScenario, scenarioFiles, seededRandom } from '../../src/drills/scenario.ts';
import { drillTimes, median, scoreDrill } from '../../src/drills/scoring.ts';
import type { TimelineEntry } from '../../src/drills/state.ts';
import { type DrillPageNotice, payloadFor } from '../../src/notify/webhooks.ts';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';

const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});

const targets = { acknowledge: 120_000, mitigate: 600_000 };

function problemsOf(yaml: string): string[] {
  const ws = workspace({ 'bad.yaml': yaml });
  disposers.push(ws.dispose);
  try {
    loadScenario(join(ws.dir, 'bad.yaml'), 'bad.yaml');
  } catch (err) {
    return (err as ConfigError).problems.map((p) => `${p.line}:${p.path}: ${p.message}`);
  }
  throw new Error('expected the scenario to be rejected');
}

const VALID = `title: t
severity: SEV2
fault:
  - action: inject-errors
    target: { service: content }
    percent: 50
page: content is failing
hints: [a, b, c]
rootCause: because
resolution:
  probes:
    - name: ready
      healthy: {}
mitigation: [do it]
`;

describe('drill scenarios', () => {
  it('every shipped scenario validates and links an existing runbook', () => {
    const files = scenarioFiles([join(REPO_ROOT, 'drills')]);
    expect([...files.keys()]).toEqual(
      expect.arrayContaining([
        'bad-canary-at-50',
        'analytics-consumer-stuck',
        'auth-key-rotation-broken',
        'disk-full-content',
        'gateway-rate-limit',
      ]),
    );
    for (const file of files.values()) {
      const s = loadScenario(file);
      expect(s.hints).toHaveLength(3);
      expect(s.runbook, s.name).toMatch(/^docs\/runbooks\/drill-.+\.md$/);
      expect(existsSync(join(REPO_ROOT, s.runbook as string)), s.runbook).toBe(true);
    }
  });

  it("each runbook's Symptoms name the alert its drill pages with", () => {
    for (const file of scenarioFiles([join(REPO_ROOT, 'drills')]).values()) {
      const s = loadScenario(file);
      // Pages from people ("Support: …") name no alert.
      const alert = /^([A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+):/.exec(s.page ?? '')?.[1];
      if (!alert || !s.runbook) continue;
      const runbook = readFileSync(join(REPO_ROOT, s.runbook), 'utf8');
      const symptoms = /## Symptoms\n([\s\S]*?)\n## /.exec(runbook)?.[1] ?? '';
      expect(symptoms, `${s.runbook} Symptoms`).toContain(`\`${alert}\``);
    }
  });

  it('accepts a minimal scenario with defaults', () => {
    const ws = workspace({ 'ok.yaml': VALID });
    disposers.push(ws.dispose);
    const s = loadScenario(join(ws.dir, 'ok.yaml'));
    expect(s.name).toBe('ok');
    expect(s.targets).toEqual(targets);
    expect(s.fault[0]).toMatchObject({ action: 'inject-errors', status: 503 });
  });

  it('reports problems at file:line, including faults a later process could not undo', () => {
    const problems = problemsOf(
      VALID.replace('hints: [a, b, c]', 'hints: [a, b]')
        .replace('severity: SEV2', 'severity: high')
        .replace(
          '    percent: 50\n',
          '    percent: 50\n  - action: partition\n    dependency: bus\n  - action: kill-instance\n    target: { service: auth }\n    every: 5s\n  - action: melt\n',
        ),
    );
    expect(problems).toEqual([
      expect.stringMatching(/^2:severity: /),
      expect.stringMatching(/^8:fault\.1\.dependency: .*bus\/db partitions hold a SQLite lock/),
      expect.stringMatching(/^11:fault\.2\.every: .*a repeating kill needs a running process/),
      expect.stringMatching(/^12:fault\.3\.action: .*Invalid discriminator/),
      expect.stringMatching(/^14:hints: .*give exactly 3 hints/),
    ]);
  });

  it('refuses timed faults and a missing resolution', () => {
    const problems = problemsOf(
      VALID.replace('    percent: 50\n', '    percent: 50\n    duration: 10s\n').replace(
        /resolution:[\s\S]*?healthy: \{\}\n/,
        '',
      ),
    );
    expect(problems).toEqual([
      expect.stringMatching(/fault\.0\.duration: a drill fault lasts until/),
      expect.stringMatching(/resolution/),
    ]);
  });

  it('the seeded random pick is repeatable', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });
});

function entry(type: TimelineEntry['type'], t: number): TimelineEntry {
  return { at: new Date(t).toISOString(), t, type, message: type };
}

describe('drill times and score', () => {
  it('takes every duration from the timeline', () => {
    const timeline = [
      entry('start', 0),
      entry('page', 10),
      entry('ack', 3000),
      entry('diagnose', 4000),
      entry('note', 5000),
      entry('hint', 20_000),
    ];
    // Detect is the first diagnostic action, measured apart from acknowledging the page.
    expect(drillTimes(timeline, 60_000)).toEqual({ acknowledgeMs: 3000, detectMs: 4000, mitigateMs: 60_000 });
    expect(drillTimes([entry('start', 0), entry('ack', 10), entry('hint', 20)], 99)).toMatchObject({
      acknowledgeMs: 10,
      detectMs: undefined,
    });
    expect(drillTimes([entry('start', 0)], 1000)).toEqual({
      acknowledgeMs: undefined,
      detectMs: undefined,
      mitigateMs: 1000,
    });
  });

  it('full marks for a quick, documented, unassisted mitigation', () => {
    const s = scoreDrill(
      { acknowledgeMs: 30_000, detectMs: 30_000, mitigateMs: 300_000 },
      { hintsTaken: 0, notes: 2, targets },
    );
    expect(s).toEqual({
      total: 100,
      grade: 'A',
      parts: { mitigation: 60, acknowledgement: 25, timeline: 15, hintPenalty: 0 },
    });
  });

  it('decays with time and charges graded hints', () => {
    const base = { acknowledgeMs: 30_000, detectMs: 30_000 };
    const at = (mitigateMs: number, hintsTaken = 0) =>
      scoreDrill({ ...base, mitigateMs }, { hintsTaken, notes: 1, targets }).total;
    expect(at(600_000)).toBe(100);
    expect(at(1_200_000)).toBe(70); // half way between the target and three times it
    expect(at(1_800_000)).toBe(40);
    expect(at(10_000_000)).toBe(40);
    expect(at(300_000, 1)).toBe(95);
    expect(at(300_000, 2)).toBe(85);
    expect(at(300_000, 3)).toBe(65);
    // Never below zero, and an unacknowledged page earns nothing for acknowledgement.
    const worst = scoreDrill({ mitigateMs: 10_000_000 }, { hintsTaken: 3, notes: 0, targets });
    expect(worst).toMatchObject({ total: 0, grade: 'F', parts: { acknowledgement: 0 } });
  });

  it('median', () => {
    expect(median([])).toBeUndefined();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });
});

describe('drill impact', () => {
  const metrics = (n: number) => `# HELP gateway_requests_total x
gateway_requests_total{route="/content",service="content",version="v1",code="200"} ${100 + n}
gateway_requests_total{route="/content",service="content",version="v2",code="500"} ${n}
gateway_requests_total{route="/content",service="content",version="v1",code="429"} ${2 * n}
gateway_requests_total{route="none",service="none",version="none",code="404"} 7
gateway_request_duration_seconds_count{route="/content",service="content",version="v1",code="200"} 100
`;

  it('diffs the gateway counters per service (5xx are errors, 429 throttled, unrouted ignored)', () => {
    const impact = diffCounters(parseCounters(metrics(0)), parseCounters(metrics(10)));
    expect(impact).toEqual({
      services: [{ service: 'content', requests: 40, errors: 10, errorRate: 0.25, throttled: 20 }],
      requests: 40,
      errors: 10,
      throttled: 20,
      partial: false,
    });
  });

  it('a gateway restart (counters went down) gives lower bounds, flagged partial', () => {
    const impact = diffCounters(parseCounters(metrics(50)), parseCounters(metrics(1)));
    expect(impact.partial).toBe(true);
    expect(impact.services[0]).toMatchObject({ requests: 104, errors: 1 });
  });
});

describe('drill pages on webhooks', () => {
  const page: DrillPageNotice = {
    event: 'drill.page',
    drill: 'd1',
    title: 'Hidden title',
    severity: 'SEV2',
    message: 'content 5xx ratio above 20%',
    at: '2026-01-01T00:00:00.000Z',
  };

  it('Slack, Teams and generic payloads carry the symptom and severity', () => {
    const slack = payloadFor('slack', page) as { text: string; blocks: { text: { text: string } }[] };
    expect(slack.text).toBe('Page: [SEV2] content 5xx ratio above 20%');
    expect(slack.blocks[0]?.text.text).toMatch(/drill ack/);
    const teams = JSON.stringify(payloadFor('teams', page));
    expect(teams).toMatch(/AdaptiveCard/);
    expect(teams).toMatch(/\[SEV2\] content 5xx ratio above 20%/);
    expect(payloadFor('generic', page)).toMatchObject({
      event: 'drill.page',
      severity: 'SEV2',
      source: 'platformctl',
    });
  });
});

describe('drill CLI without a running platform', () => {
  const yaml = `name: d
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway: { path: builtin:gateway, port: 18999, kind: gateway }
`;

  it('dry run, status, and clear errors when no drill runs', async () => {
    const ws = workspace({ 'platform.yaml': yaml });
    disposers.push(ws.dispose);
    const dry = await runCli(['--json', 'drill', 'start', '--scenario', 'bad-canary-at-50', '--dry-run'], {
      cwd: ws.dir,
    });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      dryRun: true,
      scenario: 'bad-canary-at-50',
      faults: [{ action: 'bad-release', target: 'content', supported: true }],
    });
    const status = await runCli(['--json', 'drill', 'status'], { cwd: ws.dir });
    expect(JSON.parse(status.stdout)).toEqual({ active: false });
    const ack = await runCli(['drill', 'ack'], { cwd: ws.dir });
    expect(ack.exitCode).toBe(1);
    expect(ack.stderr).toMatch(
      /no drill is running\nhint: start one with `platformctl drill start --random`/,
    );
    const both = await runCli(['drill', 'start', '--scenario', 'x', '--random'], { cwd: ws.dir });
    expect(both.exitCode).toBe(2);
    const unknown = await runCli(['drill', 'start', '--scenario', 'nope', '--dry-run'], { cwd: ws.dir });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/no drill scenario "nope"[\s\S]*bad-canary-at-50/);
    const list = await runCli(['--json', 'drill', 'list'], { cwd: ws.dir });
    expect(JSON.parse(list.stdout).map((s: { name: string }) => s.name)).toContain('gateway-rate-limit');
  });
});
