import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, matchesGlob } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderPlatformYaml } from '../../src/core/config/template.ts';
import { runCli, workspace } from '../helpers/cli.ts';

const hasPromtool = spawnSync('promtool', ['--version']).status === 0;
/** Debian builds Prometheus without the Kubernetes service discovery (client-go is not packaged). */
const promtoolKnowsKubernetes =
  hasPromtool &&
  spawnSync('promtool', ['check', 'config', '/dev/stdin'], {
    input: 'scrape_configs: [{job_name: k, kubernetes_sd_configs: [{role: pod}]}]\n',
  }).status === 0;
// CI installs Debian's prometheus package; there a missing promtool is a failure, not a skip.
const inCi = Boolean(process.env.CI);

let ws: ReturnType<typeof workspace>;
beforeAll(async () => {
  ws = workspace({
    'platform.yaml': renderPlatformYaml({ name: 'acme', owner: 'ops', cloud: 'aws', region: 'eu-west-1' }),
  });
  const r = await runCli(['observability', 'render'], {
    cwd: ws.dir,
    env: { GITHUB_REPOSITORY: 'acme/ops' },
  });
  expect(r.exitCode, r.stderr).toBe(0);
});
const RUNBOOKS = 'https://github.com/acme/ops/blob/HEAD/observability/runbooks/';
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
    // Absolute, so Alertmanager and Grafana can link it; the file travels with the rules.
    expect(fast.annotations.runbook_url).toBe(`${RUNBOOKS}slo-burn-rate-fast.md`);
    const urls = rules.groups.flatMap((g: { rules: { annotations: { runbook_url: string } }[] }) =>
      g.rules.map((r) => r.annotations.runbook_url),
    );
    for (const url of urls) {
      expect(url.startsWith(RUNBOOKS)).toBe(true);
      expect(readFileSync(join(out(), 'runbooks', url.slice(RUNBOOKS.length)), 'utf8')).toMatch(/^# /);
    }
    expect(rules.groups.map((g: { name: string }) => g.name)).not.toContain('slo-gateway');
  });

  it('dashboard has a row and three panels per routed service', () => {
    const dash = JSON.parse(readFileSync(join(out(), 'grafana', 'platform-dashboard.json'), 'utf8'));
    expect(
      dash.panels.filter((p: { type: string }) => p.type === 'row').map((p: { title: string }) => p.title),
    ).toEqual(['auth', 'content', 'analytics']);
    expect(dash.panels.filter((p: { type: string }) => p.type === 'timeseries')).toHaveLength(9);
  });

  it('dashboard thresholds are the SLO numbers, without float noise', () => {
    const text = readFileSync(join(out(), 'grafana', 'platform-dashboard.json'), 'utf8');
    expect(text).not.toMatch(/\d\.\d*0000000\d|\d\.\d*9999999\d/);
    const dash = JSON.parse(text);
    const errors = dash.panels.find((p: { title: string }) => p.title === 'content: error ratio');
    expect(errors.fieldConfig.defaults.thresholds.steps[1].value).toBe(0.001);
  });

  it("scrapes and tails every Kubernetes environment's namespace, not static localhost targets", () => {
    const scrape = parse(readFileSync(join(out(), 'prometheus', 'prometheus.yml'), 'utf8'));
    expect(JSON.stringify(scrape)).not.toMatch(/127\.0\.0\.1|static_configs/);
    expect(scrape.scrape_configs[0].kubernetes_sd_configs).toEqual([
      { role: 'pod', namespaces: { names: ['acme-staging', 'acme'] } },
    ]);
    const conf = readFileSync(join(out(), 'fluent-bit', 'fluent-bit.conf'), 'utf8');
    const globs = (/^\s*Path\s+(\S+)$/m.exec(conf)?.[1] ?? '').split(',');
    // The kubelet names container logs <pod>_<namespace>_<container>-<container id>.log.
    const logOf = (ns: string) => `/var/log/containers/content-6f7d9c-x2x7q_${ns}_content-0123abcd.log`;
    const tailed = (file: string) => globs.some((g) => matchesGlob(file, g));
    expect(tailed(logOf('acme-staging'))).toBe(true);
    expect(tailed(logOf('acme'))).toBe(true);
    expect(tailed(logOf('kube-system'))).toBe(false);
  });

  it('without a GitHub repository it asks for --runbook-base (exit 2)', async () => {
    const r = await runCli(['observability', 'render', '--out', 'elsewhere'], {
      cwd: ws.dir,
      env: { GITHUB_REPOSITORY: undefined },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/hint: pass --runbook-base/);
  });

  it('--check passes when in sync and exits 5 on drift', async () => {
    const env = { GITHUB_REPOSITORY: 'acme/ops' };
    expect((await runCli(['observability', 'render', '--check'], { cwd: ws.dir, env })).exitCode).toBe(0);
    const file = join(out(), 'fluent-bit', 'parsers.conf');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, `${original}# local edit\n`);
    const r = await runCli(['observability', 'render', '--check'], { cwd: ws.dir, env });
    writeFileSync(file, original);
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toMatch(/fluent-bit\/parsers\.conf/);
  });

  it.runIf(hasPromtool || inCi)('rules pass promtool check', () => {
    const dir = join(out(), 'prometheus');
    const rules = execFileSync(
      'promtool',
      ['check', 'rules', join(dir, 'recording-rules.yml'), join(dir, 'alert-rules.yml')],
      {
        encoding: 'utf8',
      },
    );
    expect(rules).toMatch(/SUCCESS/);
  });

  it.runIf(hasPromtool || inCi)('PlatformDependencyDown fires after a backend is down for a minute', () => {
    const dir = join(out(), 'prometheus');
    const test = join(dir, 'dependency-down.test.yml');
    writeFileSync(
      test,
      JSON.stringify({
        rule_files: ['alert-rules.yml'],
        evaluation_interval: '15s',
        tests: [
          {
            interval: '15s',
            input_series: [
              {
                series: 'service_dependency_up{platform_service="content",dependency="database"}',
                values: '1 1 0x8',
              },
              {
                series: 'service_dependency_up{platform_service="content",dependency="bus"}',
                values: '1x10',
              },
            ],
            alert_rule_test: [
              { eval_time: '45s', alertname: 'PlatformDependencyDown', exp_alerts: [] },
              {
                eval_time: '2m',
                alertname: 'PlatformDependencyDown',
                exp_alerts: [
                  {
                    exp_labels: { severity: 'page', platform_service: 'content', dependency: 'database' },
                    exp_annotations: {
                      summary: 'content cannot reach its database',
                      description:
                        'Routes that need the database answer 503 with Retry-After; see service_dependency_down_since_seconds for since when.',
                      runbook_url: `${RUNBOOKS}dependency-down.md`,
                    },
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    expect(execFileSync('promtool', ['test', 'rules', test], { encoding: 'utf8' })).toMatch(/SUCCESS/);
  });

  it.runIf(promtoolKnowsKubernetes)('the scrape config passes promtool check config', (ctx) => {
    const config = execFileSync(
      'promtool',
      ['check', 'config', join(out(), 'prometheus', 'prometheus.yml')],
      {
        encoding: 'utf8',
      },
    );
    expect(config, ctx.task.name).toMatch(/SUCCESS/);
  });
  it.skipIf(promtoolKnowsKubernetes)(
    'skipped: promtool check config (this promtool is built without kubernetes_sd_configs, as Debian ships it)',
    () => {},
  );

  it.runIf(hasPromtool || inCi)(
    'the fast burn alert fires on 10% errors and stays silent on none (promtool test rules)',
    () => {
      const dir = join(out(), 'prometheus');
      const test: { rule_files: string[]; evaluation_interval: string; tests: object[] } = {
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
                      runbook_url: `${RUNBOOKS}slo-burn-rate-fast.md`,
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
      // The analytics lag alert: silent at 2 s (held there by admission control), firing once
      // the lag has stayed above 30 s for 5 minutes.
      test.tests.push({
        interval: '1m',
        input_series: [
          { series: 'analytics_projection_lag_seconds{instance="a1"}', values: '2x10 45x10' },
          { series: 'analytics_projection_lag_seconds{instance="a2"}', values: '1x20' },
        ],
        alert_rule_test: [
          { eval_time: '9m', alertname: 'AnalyticsProjectionLagging', exp_alerts: [] },
          { eval_time: '14m', alertname: 'AnalyticsProjectionLagging', exp_alerts: [] },
          {
            eval_time: '17m',
            alertname: 'AnalyticsProjectionLagging',
            exp_alerts: [
              {
                exp_labels: { severity: 'ticket', service: 'analytics', instance: 'a1' },
                exp_annotations: {
                  summary: 'Analytics read models trail acknowledged events by 45s',
                  description:
                    'Stats, trending and recommendations are stale on a1; acknowledged events are safe in the ingest log.',
                  runbook_url: `${RUNBOOKS}analytics-projection-lag.md`,
                },
              },
            ],
          },
        ],
      });
      writeFileSync(file, JSON.stringify(test));
      const r = spawnSync('promtool', ['test', 'rules', file], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
    },
  );
});
