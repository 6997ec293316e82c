/**
 * A private PostgreSQL cluster for a test file: `initdb` into a temp dir, `pg_ctl start` on a free
 * port (127.0.0.1 and a socket in the temp dir), stopped and removed by `stop()`. PostgreSQL refuses
 * to run as root, so as root the cluster belongs to the `postgres` system user.
 *
 * `findPostgres()` is undefined when no server binaries are installed; tests skip then, but only
 * outside CI (in CI a missing binary is a failure: `.ci/run` installs postgresql).
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../src/core/ports.ts';
import { sleep } from '../../src/core/sleep.ts';

const execFileAsync = promisify(execFile);

export interface PostgresServer {
  url: string;
  port: number;
  /** Runs SQL as the superuser (psql) in `database` (default postgres). */
  psql(sql: string, database?: string): string;
  /** Stops the server (fast shutdown: sessions are told "the database system is shutting down"), waits `downMs`, starts it again on the same port with the same data. */
  restart(downMs?: number): Promise<void>;
  /** The last `lines` lines of the server's log (what it says about sessions it ended), for failing tests. */
  logTail(lines?: number): string;
  stop(): void;
}

/** Directory holding initdb/pg_ctl/psql, newest version first; undefined when not installed. */
export function findPostgres(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : undefined;
}

/** Why PostgreSQL tests cannot run here (undefined: they can). Throws in CI when missing. */
export function postgresSkipReason(): string | undefined {
  if (findPostgres()) return undefined;
  if (process.env.CI)
    throw new Error('PostgreSQL server binaries are missing in CI: apt-get install -y postgresql');
  return 'PostgreSQL is not installed (apt-get install -y postgresql); skipping outside CI';
}

export async function startPostgres(): Promise<PostgresServer> {
  const bin = findPostgres();
  if (!bin) throw new Error('PostgreSQL is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'pgtest-'));
  const asRoot = process.getuid?.() === 0;
  let uid: number | undefined;
  let gid: number | undefined;
  if (asRoot) {
    uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(join(bin, cmd), args, { uid, gid, encoding: 'utf8', cwd: dir, timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout || r.error}`);
    return r.stdout;
  };
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  const serverOptions = `-k ${dir} -p ${port} -h 127.0.0.1 -c fsync=off -c max_connections=100`;
  run('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', serverOptions, 'start']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    url,
    port,
    psql(sql, database = 'postgres') {
      return run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-Atc', sql, database]);
    },
    async restart(downMs = 0) {
      // Asynchronous, so that load running in this process keeps going while the server is away.
      const ctl = (args: string[]) =>
        execFileAsync(join(bin, 'pg_ctl'), args, { uid, gid, cwd: dir, timeout: 60_000 });
      await ctl(['-D', data, '-m', 'fast', '-w', 'stop']);
      await sleep(downMs);
      await ctl(['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', serverOptions, 'start']);
    },
    logTail(lines = 40) {
      try {
        return readFileSync(join(dir, 'server.log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch (err) {
        return `(no server log: ${(err as Error).message})`;
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], {
        uid,
        gid,
        timeout: 60_000,
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates a fresh database on the server and returns its URL. */
export function createDatabase(server: PostgresServer, name: string): string {
  server.psql(`CREATE DATABASE "${name}"`);
  return server.url.replace(/\/postgres$/, `/${name}`);
}
