import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderChaosMesh } from '../../src/chaos/chaos-mesh.ts';
import { experimentSchema, loadExperiment } from '../../src/chaos/experiment.ts';
import { renderPlatformYaml } from '../../src/core/config/template.ts';
import type { ConfigError } from '../../src/core/errors.ts';
import { runCli, workspace } from '../helpers/cli.ts';

const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});

describe('experiment files', () => {
  it('reports every problem with file:line:column', () => {
    const ws = workspace({
      'bad.yaml':
        'title: x\nsteadyState:\n  probes:\n    - name: p\n      healthy: {}\nmethod:\n  - action: inject-latency\n    target: { service: content }\n    delay: fast\n  - action: melt-cpu\n',
    });
    disposers.push(ws.dispose);
    try {
      loadExperiment(join(ws.dir, 'bad.yaml'), 'bad.yaml');
      expect.unreachable();
    } catch (err) {
      const problems = (err as ConfigError).problems;
      expect(problems.map((p) => `${p.line}:${p.path}`)).toEqual(['9:method.0.delay', '10:method.1.action']);
    }
  });

  it('accepts `pause: 5s` steps', () => {
    const exp = experimentSchema.parse({
      title: 't',
      steadyState: { probes: [{ name: 'h', healthy: {} }] },
      method: [{ pause: '5s' }],
    });
    expect(exp.method).toEqual([{ action: 'pause', duration: 5000 }]);
  });

  it('renders a Chaos Mesh workflow with one template per step, in order', () => {
    const exp = experimentSchema.parse({
      title: 'Mixed faults',
      steadyState: { probes: [{ name: 'h', healthy: {} }] },
      method: [
        { action: 'kill-instance', target: { service: 'analytics' }, every: '3s', duration: '9s' },
        { pause: '2s' },
        { action: 'inject-latency', target: { service: 'content' }, delay: '500ms', duration: '10s' },
        { action: 'partition', dependency: 'bus', target: { service: 'content' }, duration: '5s' },
        { action: 'fill-disk', target: { service: 'content' }, size: '1GB', duration: '5s' },
        { action: 'clock-skew', target: { service: 'auth' }, offset: '10m', duration: '5s' },
      ],
    });
    const wf = renderChaosMesh(exp, { namespace: 'acme', ports: { content: 8082 } }) as {
      kind: string;
      spec: { templates: { name: string; templateType: string; [k: string]: unknown }[] };
    };
    expect(wf.kind).toBe('Workflow');
    const [serial, ...steps] = wf.spec.templates;
    expect(serial?.children).toEqual(steps.map((s) => s.name));
    expect(steps.map((s) => s.templateType)).toEqual([
      'Schedule',
      'Suspend',
      'HTTPChaos',
      'NetworkChaos',
      'IOChaos',
      'TimeChaos',
    ]);
    expect(steps[2]).toMatchObject({
      deadline: '10s',
      httpChaos: { port: 8082, delay: '500ms', target: 'Request' },
    });
    expect(steps[3]).toMatchObject({
      networkChaos: {
        action: 'partition',
        target: { selector: { labelSelectors: { 'app.kubernetes.io/name': 'rabbitmq' } } },
      },
    });
    expect(steps[4]).toMatchObject({ ioChaos: { errno: 28, volumePath: '/data' } });
  });

  it('render targets the unprotected Kubernetes environment; prod only with --allow-prod', async () => {
    const ws = workspace({
      'platform.yaml': renderPlatformYaml({ name: 'acme', owner: 'ops', cloud: 'aws', region: 'eu-west-1' }),
      'kill.yaml':
        'title: kill\nsteadyState:\n  probes:\n    - name: h\n      healthy: {}\nmethod:\n  - action: kill-instance\n    target: { service: content }\n',
    });
    disposers.push(ws.dispose);
    // Every namespace the workflow names: its own and each fault's selector.
    const namespaces = (stdout: string): string[] => {
      const found: string[] = [];
      const walk = (v: unknown, key = ''): void => {
        if (key === 'namespace' && typeof v === 'string') found.push(v);
        else if (key === 'namespaces' && Array.isArray(v)) found.push(...v);
        else if (Array.isArray(v)) for (const x of v) walk(x);
        else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
      };
      walk(parse(stdout));
      return found;
    };
    const r = await runCli(['chaos', 'render', 'kill.yaml'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const found = new Set(namespaces(r.stdout));
    expect([...found]).toEqual(['acme-staging']);
    const prod = await runCli(['chaos', 'render', 'kill.yaml', '--env', 'prod'], { cwd: ws.dir });
    expect(prod.exitCode).toBe(2);
    expect(prod.stderr).toMatch(/"prod" is a protected environment\nhint: pass --allow-prod/);
    const allowed = await runCli(['chaos', 'render', 'kill.yaml', '--env', 'prod', '--allow-prod'], {
      cwd: ws.dir,
    });
    expect(new Set(namespaces(allowed.stdout))).toEqual(new Set(['acme']));
  });

  it('--dry-run on the local provider flags what it cannot inject (exit 1)', async () => {
    const ws = workspace({
      'platform.yaml': renderPlatformYaml({ name: 'acme', owner: 'ops', cloud: 'aws', region: 'eu-west-1' }),
      'skew.yaml':
        'title: skew\nsteadyState:\n  probes:\n    - name: h\n      healthy: {}\nmethod:\n  - action: clock-skew\n    target: { service: auth }\n    offset: 5m\n',
    });
    disposers.push(ws.dispose);
    const r = await runCli(['chaos', 'run', 'skew.yaml', '--dry-run'], { cwd: ws.dir });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/clock-skew auth .*not supported by this provider/);
  });
});
