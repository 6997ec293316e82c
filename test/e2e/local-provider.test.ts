/**
 * The local provider end to end, through bin/platformctl, against the fixture service (which
 * follows the runtime contract and doubles as a minimal gateway). Ports come from freePorts().
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortFree } from '../../src/core/ports.ts';
import { gatewayAdminPort } from '../../src/providers/local/edge-defaults.ts';
import { REPO_ROOT, runCli, startCli, workspace } from '../helpers/cli.ts';
import { alive, waitFor } from '../helpers/poll.ts';
import { freePorts } from '../helpers/runtime-platform.ts';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'local', 'fixture-service');

interface Instance {
  id: string;
  service: string;
  pid?: number;
  port: number;
  state: string;
  restarts: number;
  lastLogLines?: string[];
}
interface Status {
  running: boolean;
  gatewayUrl?: string;
  services: { name: string; healthy: boolean; versions: string[]; instances: Instance[] }[];
}

async function platformYaml(extra: Record<string, string> = {}): Promise<{ yaml: string; ports: number[] }> {
  const ports = await freePorts(3);
  const env = Object.entries(extra)
    .map(([k, v]) => `\n      ${k}: "${v}"`)
    .join('');
  const yaml = `apiVersion: platformctl/v1
name: fixture
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  gateway:
    path: ${FIXTURE}
    port: ${ports[0]}
    kind: gateway
    dependsOn: [api, store]
  api:
    path: ${FIXTURE}
    port: ${ports[1]}
    routes: [/api]
  store:
    path: ${FIXTURE}
    port: ${ports[2]}
    routes: [/store]
    dependsOn: [api]${env ? `\n    env:${env}` : ''}
`;
  return { yaml, ports };
}

async function status(dir: string): Promise<Status> {
  const r = await runCli(['status', '--json'], { cwd: dir });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Status;
}

function instances(st: Status): Instance[] {
  return st.services.flatMap((s) => s.instances);
}

describe('platformctl up/status/scale/logs/down on fixture services', () => {
  let ws: ReturnType<typeof workspace>;
  let ports: number[];
  let gateway: string;

  beforeAll(async () => {
    const p = await platformYaml();
    ports = p.ports;
    ws = workspace({ 'platform.yaml': p.yaml });
  });

  afterAll(async () => {
    await runCli(['down'], { cwd: ws.dir });
    ws.dispose();
  });

  it('up --detach starts every service in order and returns once they are ready', async () => {
    const r = await runCli(['up', '--detach'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`http://127.0.0.1:${ports[0]}`);
    const st = await status(ws.dir);
    expect(st.running).toBe(true);
    expect(st.services.map((s) => [s.name, s.healthy])).toEqual([
      ['gateway', true],
      ['api', true],
      ['store', true],
    ]);
    gateway = st.gatewayUrl as string;
    expect(gateway).toBe(`http://127.0.0.1:${ports[0]}`);
    const version = st.services.find((s) => s.name === 'api')?.versions[0] as string;
    const manifest = JSON.parse(
      readFileSync(join(ws.dir, '.platform', 'releases', 'api', version, 'manifest.json'), 'utf8'),
    );
    expect(manifest).toMatchObject({ service: 'api', entry: 'main.mjs' });
    expect(manifest.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('serves through the gateway and keeps acknowledged writes across a kill -9', async () => {
    expect((await fetch(`${gateway}/api/hello`)).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${gateway}/store/items`, { method: 'POST', body: `item ${i}` });
      expect(res.status).toBe(201);
    }
    const before = instances(await status(ws.dir)).find((i) => i.id === 'store-1') as Instance;
    process.kill(before.pid as number, 'SIGKILL');
    const count = await waitFor('store to serve again', async () => {
      const res = await fetch(`${gateway}/store/items`);
      return res.status === 200 ? ((await res.json()) as { count: number }).count : undefined;
    });
    expect(count).toBe(3);
    const after = instances(await status(ws.dir)).find((i) => i.id === 'store-1') as Instance;
    expect(after.pid).not.toBe(before.pid);
    expect(after.restarts).toBe(1);
    expect(after.state).toBe('ready');
  });

  it('a second up is idempotent: nothing restarts', async () => {
    const pids = instances(await status(ws.dir)).map((i) => i.pid);
    const r = await runCli(['up', '--detach'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('already running');
    expect(instances(await status(ws.dir)).map((i) => i.pid)).toEqual(pids);
  });

  it('scale adds an instance the gateway balances to', async () => {
    const r = await runCli(['scale', 'api', '2', '--json'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const api = (await status(ws.dir)).services.find((s) => s.name === 'api');
    expect(api?.instances.map((i) => [i.id, i.state])).toEqual([
      ['api-1', 'ready'],
      ['api-2', 'ready'],
    ]);
    const seen = new Set<string>();
    for (let i = 0; i < 10; i++)
      seen.add(((await (await fetch(`${gateway}/api/x`)).json()) as { instance: string }).instance);
    expect([...seen].sort()).toEqual(['api-1', 'api-2']);
  });

  it('logs filter by request id across services and by level', async () => {
    await fetch(`${gateway}/api/traced`, { headers: { 'x-request-id': 'req-e2e-42' } });
    await fetch(`${gateway}/store/fail`, { headers: { 'x-request-id': 'req-e2e-43' } });
    const byId = await runCli(['logs', 'all', '--request-id', 'req-e2e-42', '--json'], { cwd: ws.dir });
    expect(byId.exitCode, byId.stderr).toBe(0);
    const lines = byId.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reqId: string; service: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.reqId === 'req-e2e-42' && l.service === 'api')).toBe(true);
    const warn = await runCli(['logs', 'store', '--level', 'error', '--since', '5m'], { cwd: ws.dir });
    expect(warn.stdout).toContain('failing on purpose');
    expect(warn.stdout).not.toContain('listening');
  });

  it('deploy refuses a bad target before starting anything: exit 2 and "did you mean"', async () => {
    const running = (await status(ws.dir)).services.find((s) => s.name === 'api')?.versions[0] as string;
    const built = await runCli(['release', 'build', 'api', '--release', '2.0.0'], { cwd: ws.dir });
    expect(built.exitCode, built.stderr).toBe(0);
    const cases: [string[], RegExp][] = [
      [['deploy', 'apj', '--release', '2.0.0'], /no service "apj".*\nhint: did you mean "api"\?/],
      [['deploy', 'api', '--release', '2.0.1'], /no release api@2\.0\.1\nhint: did you mean "2\.0\.0"\?/],
      [['deploy', 'api', '--release', '2.0.1', '--wait'], /no release api@2\.0\.1/],
      [['deploy', 'api', '--release', running], /api already runs/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(args, { cwd: ws.dir });
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
    // Nothing was started in the background.
    expect(existsSync(join(ws.dir, '.platform', 'logs', 'rollout-api.log'))).toBe(false);
  });

  it('down stops everything and leaves no process and no port behind', async () => {
    const pids = instances(await status(ws.dir)).map((i) => i.pid);
    const r = await runCli(['down'], { cwd: ws.dir });
    expect(r.exitCode, r.stderr).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    for (const port of ports) expect(await isPortFree(port)).toBe(true);
    expect(existsSync(join(ws.dir, '.platform', 'state.json'))).toBe(false);
    expect((await status(ws.dir)).running).toBe(false);
  });
});

describe('failures', () => {
  it('a service crashing at start ends in crash-loop with its last log lines, exit 1', async () => {
    const p = await platformYaml({ FIXTURE_CRASH_AT_START: '1' });
    const ws = workspace({ 'platform.yaml': p.yaml });
    try {
      const r = await runCli(['up', '--detach'], { cwd: ws.dir });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/store-1 keeps crashing/);
      expect(r.stderr).toContain('crashing at start as asked');
      const st = await status(ws.dir);
      const store = instances(st).find((i) => i.id === 'store-1') as Instance;
      expect(store.state).toBe('crash-loop');
      expect(store.lastLogLines?.join('\n')).toContain('FIXTURE_CRASH_AT_START');
      // Its dependents were never started.
      expect(instances(st).some((i) => i.service === 'gateway')).toBe(false);
    } finally {
      await runCli(['down'], { cwd: ws.dir });
      ws.dispose();
    }
  });

  it('a busy port is reported with the process holding it', async () => {
    const p = await platformYaml();
    const ws = workspace({ 'platform.yaml': p.yaml });
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(p.ports[1], '127.0.0.1', () => r()));
    try {
      const r = await runCli(['up', '--detach'], { cwd: ws.dir });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain(
        `port ${p.ports[1]} for api (instance 1) is already in use by process ${process.pid}`,
      );
      expect(r.stderr).toContain('hint:');
    } finally {
      await new Promise((r) => holder.close(r));
      await runCli(['down'], { cwd: ws.dir });
      ws.dispose();
    }
  });

  it('a busy gateway admin port is reported before anything starts', async () => {
    const p = await platformYaml();
    const ws = workspace({ 'platform.yaml': p.yaml });
    const admin = gatewayAdminPort(p.ports[0] as number);
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(admin, '127.0.0.1', () => r()));
    try {
      const r = await runCli(['up', '--detach'], { cwd: ws.dir });
      expect(r.exitCode, r.stderr).toBe(1);
      expect(r.stderr).toContain(
        `port ${admin} for gateway (instance 1, admin listener) is already in use by process ${process.pid}`,
      );
      expect(r.stderr).toContain('hint:');
    } finally {
      await new Promise((r) => holder.close(r));
      await runCli(['down'], { cwd: ws.dir });
      ws.dispose();
    }
  });

  it('foreground up streams logs and Ctrl-C stops everything', async () => {
    const p = await platformYaml();
    const ws = workspace({ 'platform.yaml': p.yaml });
    try {
      const up = startCli(['up'], { cwd: ws.dir });
      await waitFor(
        'the platform to be up',
        async () => (up.stderr().includes('the platform is up') ? true : undefined),
        300,
      );
      await waitFor(
        'a streamed log line',
        async () => (up.stdout().includes('listening') ? true : undefined),
        100,
      );
      const pids = instances(await status(ws.dir)).map((i) => i.pid);
      expect(pids).toHaveLength(3);
      up.child.kill('SIGINT');
      expect(await up.exited).toBe(0);
      for (const pid of pids) expect(alive(pid)).toBe(false);
      for (const port of p.ports) expect(await isPortFree(port)).toBe(true);
    } finally {
      await runCli(['down'], { cwd: ws.dir });
      ws.dispose();
    }
  });
});

describe('readiness', () => {
  it('a service that says READY=1 on its notification pipe is not polled every few ms while it starts', async () => {
    // store says STATUS=starting at once and READY=1 after 1.5 s; polled every 5 ms, it would have
    // answered hundreds of /readyz requests before it was ready.
    const p = await platformYaml({ FIXTURE_NOTIFY: '1', FIXTURE_READY_DELAY_MS: '1500' });
    const ws = workspace({ 'platform.yaml': p.yaml });
    try {
      const r = await runCli(['up', '--detach'], { cwd: ws.dir });
      expect(r.exitCode, r.stderr).toBe(0);
      const store = instances(await status(ws.dir)).find((i) => i.id === 'store-1') as Instance;
      expect(store.state).toBe('ready');
      const probes = (await (await fetch(`http://127.0.0.1:${p.ports[2]}/fixture/probes`)).json()) as {
        probesBeforeReady: number;
      };
      // The supervisor's once-a-second safety net may ask once or twice.
      expect(probes.probesBeforeReady).toBeLessThanOrEqual(3);
    } finally {
      await runCli(['down'], { cwd: ws.dir });
      ws.dispose();
    }
  });
});

describe('a broken platform.yaml', () => {
  it('status, logs and down still operate the running platform, from its start-up config, with a warning', async () => {
    const p = await platformYaml();
    const ws = workspace({ 'platform.yaml': p.yaml });
    try {
      const up = await runCli(['up', '--detach'], { cwd: ws.dir });
      expect(up.exitCode, up.stderr).toBe(0);
      const pids = instances(await status(ws.dir)).map((i) => i.pid);
      writeFileSync(join(ws.dir, 'platform.yaml'), p.yaml.replace('routes: [/api]', 'routes: [/api'));
      const validate = await runCli(['config', 'validate'], { cwd: ws.dir });
      expect(validate.exitCode).toBe(2);

      const st = await runCli(['status', '--json'], { cwd: ws.dir });
      expect(st.exitCode, st.stderr).toBe(0);
      expect((JSON.parse(st.stdout) as Status).services.map((s) => s.name)).toEqual([
        'gateway',
        'api',
        'store',
      ]);
      expect(st.stderr).toMatch(/warning: platform\.yaml does not load \(.*platform\.yaml:\d+:\d+/);
      expect(st.stderr).toContain('running-config.json');

      const logs = await runCli(['logs', 'api', '--since', '5m'], { cwd: ws.dir });
      expect(logs.exitCode, logs.stderr).toBe(0);
      expect(logs.stdout).toContain('listening');

      const down = await runCli(['down'], { cwd: ws.dir });
      expect(down.exitCode, down.stderr).toBe(0);
      for (const pid of pids) expect(alive(pid)).toBe(false);
    } finally {
      await runCli(['down'], { cwd: ws.dir });
      ws.dispose();
    }
  });
});

describe('releases and purge', () => {
  it('release build makes immutable, checksummed releases; release list shows them', async () => {
    const p = await platformYaml();
    const ws = workspace({ 'platform.yaml': p.yaml });
    try {
      const first = await runCli(['release', 'build', 'api', '--release', '1.0.0', '--json'], {
        cwd: ws.dir,
      });
      expect(first.exitCode, first.stderr).toBe(0);
      const manifest = JSON.parse(first.stdout) as {
        version: string;
        checksum: string;
        gitSha: string;
        built: boolean;
      };
      expect(manifest).toMatchObject({ version: '1.0.0', built: true });
      expect(manifest.checksum).toMatch(/^[0-9a-f]{64}$/);
      const dir = join(ws.dir, '.platform', 'releases', 'api', '1.0.0');
      expect(existsSync(join(dir, 'main.mjs'))).toBe(true);
      expect(existsSync(join(dir, 'node_modules', 'better-sqlite3'))).toBe(true);

      const again = await runCli(['release', 'build', 'api', '--release', '1.0.0'], { cwd: ws.dir });
      expect(again.exitCode).toBe(2);
      expect(again.stderr).toContain('immutable');

      // Without --release, the next version, even from unchanged sources: it can be deployed over 1.0.0.
      const auto1 = JSON.parse((await runCli(['release', 'build', 'api', '--json'], { cwd: ws.dir })).stdout);
      const auto2 = JSON.parse((await runCli(['release', 'build', 'api', '--json'], { cwd: ws.dir })).stdout);
      expect(auto1).toMatchObject({ version: '1.0.1', built: true, checksum: manifest.checksum });
      expect(auto2).toMatchObject({ version: '1.0.2', built: true });

      const list = await runCli(['release', 'list', 'api', '--json'], { cwd: ws.dir });
      expect((JSON.parse(list.stdout) as { version: string }[]).map((r) => r.version).sort()).toEqual([
        '1.0.0',
        '1.0.1',
        '1.0.2',
      ]);
    } finally {
      ws.dispose();
    }
  });

  it('down --purge asks first (refuses without a TTY) and deletes data with --yes', async () => {
    const p = await platformYaml();
    const ws = workspace({ 'platform.yaml': p.yaml, '.platform/data/api/items.log': 'x\n' });
    try {
      const refused = await runCli(['down', '--purge'], { cwd: ws.dir });
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).toContain('--yes');
      expect(existsSync(join(ws.dir, '.platform', 'data', 'api', 'items.log'))).toBe(true);
      const purged = await runCli(['down', '--purge', '--yes'], { cwd: ws.dir });
      expect(purged.exitCode, purged.stderr).toBe(0);
      expect(existsSync(join(ws.dir, '.platform', 'data'))).toBe(false);
    } finally {
      ws.dispose();
    }
  });
});

describe('dry runs', () => {
  it('up, release build and down --dry-run print the plan and change nothing', async () => {
    const p = await platformYaml();
    const ws = workspace({ 'platform.yaml': p.yaml });
    try {
      const up = await runCli(['up', '--dry-run', '--json'], { cwd: ws.dir });
      expect(up.exitCode, up.stderr).toBe(0);
      const plan = JSON.parse(up.stdout) as { order: { service: string; port: number; action: string }[] };
      expect(plan.order.map((r) => r.service)).toEqual(['api', 'store', 'gateway']);
      expect(plan.order.every((r) => r.action === 'start')).toBe(true);
      const build = await runCli(['release', 'build', 'api', '--release', '9.9.9', '--dry-run'], {
        cwd: ws.dir,
      });
      expect(build.exitCode, build.stderr).toBe(0);
      expect(build.stderr).toContain('would build api@9.9.9');
      const down = await runCli(['down', '--purge', '--dry-run'], { cwd: ws.dir });
      expect(down.exitCode, down.stderr).toBe(0);
      expect(down.stdout).toContain('would delete');
      expect(existsSync(join(ws.dir, '.platform', 'releases'))).toBe(false);
      expect(existsSync(join(ws.dir, '.platform', 'state.json'))).toBe(false);
      for (const port of p.ports) expect(await isPortFree(port)).toBe(true);
    } finally {
      ws.dispose();
    }
  });
});
