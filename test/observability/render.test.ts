import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderPlatformYaml } from '../../src/core/config/template.ts';
import { runCli, workspace } from '../helpers/cli.ts';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
// CI installs Debian's prometheus package; there a missing promtool is a failure, not a skip.
const inCi = Boolean(process.env.CI);

let ws: ReturnType<typeof workspace>;
beforeAll(async () => {
  ws = workspace({
    'platform.yaml': renderPlatformYaml({ name: 'acme', owner: 'ops', cloud: 'aws', region: 'eu-west-1' }),
  });
  const r = await runCli(['observability', 'render'], { cwd: ws.dir });
  expect(r.exitCode, r.stderr).toBe(0);
});
afterAll(() => ws.dispose());

const out = () => join(ws.dir, 'observability');

describe('observability render', () => {
  it('writes alerts per service with the SLO budget from platform.yaml', () => {
    const rules = parse(readFileSync(join(out(), 'prometheus', 'alert-rules.yml'), 'utf8'));
    const content = rules.groups.find((g: { name: string }) => g.name === 'slo-content');
    const fast = content.rules.find((r: { alert?: string }) => r.alert === 'ContentErrorBudgetBurnFast1h');
    // content's SLO is 99.9% -> budget 0.001; the 1h page tier burns at 14.4x.
    expect(fast.expr).toContain('> (14.4 * 0.001)');
    expect(fast.labels).toMatchObject({ severity: 'page', service: 'content' });
    expect(fast.annotations.runbook_url).toMatch(/docs\/runbooks\/slo-burn-rate-fast\.md/);
    expect(rules.groups.map((g: { name: string }) => g.name)).not.toContain('slo-gateway');
  });

  it('dashboard has a row and three panels per routed service', () => {
    const dash = JSON.parse(readFileSync(join(out(), 'grafana', 'platform-dashboard.json'), 'utf8'));
    expect(
      dash.panels.filter((p: { type: string }) => p.type === 'row').map((p: { title: string }) => p.title),
    ).toEqual(['auth', 'content', 'analytics']);
    expect(dash.panels.filter((p: { type: string }) => p.type === 'timeseries')).toHaveLength(9);
  });

  it('--check passes when in sync and exits 5 on drift', async () => {
    expect((await runCli(['observability', 'render', '--check'], { cwd: ws.dir })).exitCode).toBe(0);
    const file = join(out(), 'fluent-bit', 'parsers.conf');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, `${original}# local edit\n`);
    const r = await runCli(['observability', 'render', '--check'], { cwd: ws.dir });
    writeFileSync(file, original);
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toMatch(/fluent-bit\/parsers\.conf/);
  });

  it.runIf(hasPromtool || inCi)('rules and config pass promtool check', () => {
    const dir = join(out(), 'prometheus');
    const rules = execFileSync(
      'promtool',
      ['check', 'rules', join(dir, 'recording-rules.yml'), join(dir, 'alert-rules.yml')],
      {
        encoding: 'utf8',
      },
    );
    expect(rules).toMatch(/SUCCESS/);
    const config = execFileSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], {
      encoding: 'utf8',
    });
    expect(config).toMatch(/SUCCESS/);
  });

  it.runIf(hasPromtool || inCi)(
    'the fast burn alert fires on 10% errors and stays silent on none (promtool test rules)',
    () => {
      const dir = join(out(), 'prometheus');
      const test = {
        rule_files: ['recording-rules.yml', 'alert-rules.yml'],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: [
              {
                series: 'gateway_requests_total{service="content",version="v1",code="200"}',
                values: '0+54x120',
              },
              {
                series: 'gateway_requests_total{service="content",version="v1",code="500"}',
                values: '0+6x120',
              },
              {
                series: 'gateway_requests_total{service="auth",version="v1",code="200"}',
                values: '0+60x120',
              },
            ],
            alert_rule_test: [
              {
                eval_time: '70m',
                alertname: 'ContentErrorBudgetBurnFast1h',
                exp_alerts: [
                  {
                    exp_labels: { severity: 'page', service: 'content', slo: 'availability' },
                    exp_annotations: {
                      summary: 'content is burning its error budget 14.4x too fast',
                      description:
                        'At this rate 2% in 1h of the 30-day budget of 99.9% availability is spent. Error ratio 10%.',
                      runbook_url: 'docs/runbooks/slo-burn-rate-fast.md',
                    },
                  },
                ],
              },
              { eval_time: '70m', alertname: 'AuthErrorBudgetBurnFast1h', exp_alerts: [] },
            ],
          },
        ],
      };
      const file = join(dir, 'burn-rate.test.yml');
      writeFileSync(file, JSON.stringify(test));
      const r = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    },
  );
});
