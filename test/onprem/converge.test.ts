/**
 * The on-prem playbook converges on a fresh Debian: `onprem render`'s playbook runs for real
 * (ansible-playbook, chroot connection) against a throwaway bookworm root made with debootstrap,
 * twice; the second run changes nothing. It runs in its own network namespace with
 * platform_manage_running_system=false: a chroot has no init system, and the shared machine's
 * kernel settings and network must stay untouched (files and packages are converged; starting
 * services is the node's init system's job at boot).
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderPlatformYaml } from '../../src/core/config/template.ts';
import { REPO_ROOT, runCli, workspace } from '../helpers/cli.ts';
import { type DebianRoot, debianRoot, debianRootUnavailable } from '../helpers/debian-root.ts';

const unavailable = debianRootUnavailable();
const inCI = Boolean(process.env.CI) && process.env.CI !== 'false';

/** The packages the role's apt task installs, with the default container runtime. */
function rolePackages(): string[] {
  const role = join(REPO_ROOT, 'templates', 'ansible', 'roles', 'platform_node');
  const tasks = parse(readFileSync(join(role, 'tasks', 'main.yml'), 'utf8')) as {
    'ansible.builtin.apt'?: { name: string[] };
  }[];
  const defaults = parse(readFileSync(join(role, 'defaults', 'main.yml'), 'utf8')) as Record<string, string>;
  const names = tasks.find((t) => t['ansible.builtin.apt'])?.['ansible.builtin.apt']?.name ?? [];
  return names.map((n) => n.replace(/\{\{\s*(\w+)\s*\}\}/, (_, v: string) => defaults[v] ?? ''));
}

function playbook(dir: string, inventory: string): { status: number | null; output: string } {
  const r = spawnSync(
    'unshare',
    ['--net', '--pid', '--mount', '--fork', 'ansible-playbook', '-i', inventory, 'site.yml'],
    {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0' },
      timeout: 20 * 60_000,
    },
  );
  return { status: r.status, output: `${r.stdout}\n${r.stderr}` };
}

function recap(output: string): Record<string, number> {
  const line = /: (ok=\d+.*)$/m.exec(output.slice(output.lastIndexOf('PLAY RECAP')))?.[1] ?? '';
  return Object.fromEntries([...line.matchAll(/(\w+)=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

describe.skipIf(Boolean(unavailable) && !inCI)(
  'onprem playbook on a fresh Debian (debootstrap + chroot)',
  () => {
    const ws = workspace({
      'platform.yaml': renderPlatformYaml({
        name: 'acme',
        owner: 'platform',
        cloud: 'aws',
        region: 'eu-west-1',
      }),
    });
    let root: DebianRoot;
    let inventory: string;
    beforeAll(async () => {
      expect(unavailable, unavailable).toBeUndefined();
      const r = await runCli(['onprem', 'render', '--out', 'onprem', '--server-name', 'edge.example.com'], {
        cwd: ws.dir,
      });
      expect(r.exitCode, r.stderr).toBe(0);
      root = debianRoot(rolePackages());
      inventory = join(ws.dir, 'chroot-hosts.ini');
      writeFileSync(
        inventory,
        `[platform_nodes]\n${root.dir} ansible_connection=chroot ansible_become=false ansible_python_interpreter=/usr/bin/python3 platform_manage_running_system=false\n`,
      );
    }, 20 * 60_000);
    afterAll(() => {
      root?.dispose();
      ws.dispose();
    });

    it(
      'converges, and a second run reports no change',
      () => {
        const first = playbook(join(ws.dir, 'onprem'), inventory);
        expect(first.status, first.output).toBe(0);
        expect(recap(first.output).failed).toBe(0);
        const topology = JSON.parse(
          readFileSync(join(root.dir, 'etc', 'platformctl', 'platform.json'), 'utf8'),
        );
        expect(topology).toMatchObject({ name: 'acme', environment: 'prod' });
        const site = join(root.dir, 'etc', 'nginx', 'sites-enabled', 'platform.conf');
        expect(lstatSync(site).isSymbolicLink()).toBe(true);
        expect(readlinkSync(site)).toBe('/etc/nginx/sites-available/platform.conf');
        // The nginx the role installed accepts the configuration the role wrote.
        expect(root.chroot(['nginx', '-t'])).toBeDefined();

        const second = playbook(join(ws.dir, 'onprem'), inventory);
        expect(second.status, second.output).toBe(0);
        expect(recap(second.output)).toMatchObject({ changed: 0, failed: 0 });
      },
      30 * 60_000,
    );
  },
);

it.skipIf(!unavailable || inCI)(`skipped: onprem playbook on a fresh Debian (${unavailable})`, () => {});
