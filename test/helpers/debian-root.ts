/**
 * A throwaway Debian bookworm root for converging the on-prem playbook through Ansible's chroot
 * connection: made with debootstrap from Debian's packages (the only registry these machines
 * reach), cached under ~/.cache/platformctl-debootstrap as debootstrap's own tarball of .debs and
 * as the installed root, so later runs unpack in seconds.
 *
 * The playbook then runs in a network namespace of its own (`unshare --net`): nothing it might
 * start can listen on the shared machine's network. Packages the role installs are downloaded
 * beforehand (apt lists fresh, so the role's `cache_valid_time` skips the update).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
const CACHE = join(homedir(), '.cache', 'platformctl-debootstrap');
const DEBS = join(CACHE, `${SUITE}-minbase-python3.tgz`);
const ROOTFS = join(CACHE, `${SUITE}-minbase-python3-root.tar.gz`);

/** Why a Debian root cannot be made here, or undefined when it can. */
export function debianRootUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'debootstrap and chroot need root';
  for (const [bin, args] of [
    ['debootstrap', ['--version']],
    ['unshare', ['--version']],
    ['ansible-playbook', ['--version']],
  ] as const) {
    if (spawnSync(bin, [...args], { stdio: 'ignore' }).status !== 0) return `${bin} is not installed`;
  }
  return undefined;
}

function run(cmd: string, args: string[], timeoutMs = 15 * 60_000): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
}

/** Why the cached root filesystem can be neither found nor made, or undefined when it can. */
export function rootfsUnavailable(): string | undefined {
  if (existsSync(ROOTFS)) return undefined;
  if (process.getuid?.() !== 0) return 'debootstrap needs root';
  if (spawnSync('debootstrap', ['--version'], { stdio: 'ignore' }).status !== 0)
    return `debootstrap is not installed and ${ROOTFS} is not cached`;
  return undefined;
}

/** Makes the cached root filesystem (first run: a few minutes; needs Debian's mirror). */
export function cachedRootfs(): string {
  if (existsSync(ROOTFS)) return ROOTFS;
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'pctl-debootstrap-'));
  try {
    const base = ['--variant=minbase', '--include=python3'];
    if (!existsSync(DEBS)) {
      run('debootstrap', [...base, `--make-tarball=${DEBS}.tmp`, SUITE, join(work, 'debs'), MIRROR]);
      renameSync(`${DEBS}.tmp`, DEBS);
    }
    const root = join(work, 'root');
    run('debootstrap', [...base, `--unpack-tarball=${DEBS}`, SUITE, root, MIRROR]);
    run('tar', ['-C', root, '-czf', `${ROOTFS}.tmp`, '.']);
    renameSync(`${ROOTFS}.tmp`, ROOTFS);
    return ROOTFS;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export interface DebianRoot {
  dir: string;
  /** Runs a command inside the root (chroot). */
  chroot(args: string[]): string;
  dispose(): void;
}

/** A fresh root with `packages` downloaded into its apt cache, ready for the chroot connection. */
export function debianRoot(packages: string[]): DebianRoot {
  const rootfs = cachedRootfs();
  const dir = mkdtempSync(join(tmpdir(), 'pctl-debian-'));
  run('tar', ['-C', dir, '-xzf', rootfs]);
  copyFileSync('/etc/resolv.conf', join(dir, 'etc', 'resolv.conf'));
  // Package scripts must not start daemons while installing (the playbook decides what runs).
  writeFileSync(join(dir, 'usr', 'sbin', 'policy-rc.d'), '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  run('mount', ['-t', 'proc', 'proc', join(dir, 'proc')]);
  const chroot = (args: string[]) =>
    execFileSync('chroot', [dir, ...args], {
      encoding: 'utf8',
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', DEBIAN_FRONTEND: 'noninteractive', LANG: 'C.UTF-8' },
    });
  chroot(['apt-get', 'update', '-qq']);
  chroot(['apt-get', 'install', '-y', '-qq', '--download-only', ...packages]);
  return {
    dir,
    chroot,
    dispose: () => {
      spawnSync('umount', ['-l', join(dir, 'proc')]);
      // Never recurse into a still-mounted /proc.
      if (spawnSync('mountpoint', ['-q', join(dir, 'proc')]).status === 0)
        throw new Error(`${dir}/proc is still mounted; remove ${dir} by hand after unmounting it`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
