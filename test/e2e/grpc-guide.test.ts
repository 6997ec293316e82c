/**
 * The gRPC guide's grpcurl walk-through (docs/guides/grpc.md, "Try it with grpcurl"), run as
 * written against the real platform under `platformctl up`, with the real grpcurl (built from
 * upstream, test/grpcurl): the block is extracted from the guide, its lines run in order in one
 * shell (so `TOKEN=…` carries over, as in the user's terminal), and each must exit 0 or with the
 * exit code its comment documents. Behind it, the demo's uploads must have gone through content's
 * gRPC call to auth (their spans in the platform's traces).
 *
 * Stand-ins, and why: the guide says 127.0.0.1:8080; the test puts the gateway on a free port
 * (PLATFORMCTL_SERVICES__<NAME>__PORT, the documented overrides) and writes that port into the
 * lines instead, so it never collides with whatever runs on the machine. `npx platformctl`
 * resolves to this checkout's CLI through a node_modules/.bin link, as in a project that has it
 * installed. grpcurl is put first on PATH.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { traceFile } from '../../runtime/contract/state-paths.ts';
import { freePort, isPortFree } from '../../src/core/ports.ts';
import { BIN, REPO_ROOT } from '../helpers/cli.ts';
import { grpcurlPath, grpcurlSkipReason } from '../helpers/grpcurl.ts';
import { runShell, type ShellRun, shBlock } from '../helpers/shell.ts';

const GUIDE = readFileSync(join(REPO_ROOT, 'docs', 'guides', 'grpc.md'), 'utf8');
const SERVICES = ['gateway', 'auth', 'content', 'analytics'];

const skip = grpcurlSkipReason();
if (skip) console.warn(`skipping the gRPC guide walk-through: ${skip}`);

describe.skipIf(skip !== undefined)('the gRPC guide, as written', () => {
  const base = mkdtempSync(join(tmpdir(), 'platformctl-grpc-guide-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [dirname(grpcurlPath() ?? ''), dirname(process.execPath), process.env.PATH].join(delimiter),
    npm_config_cache: join(base, 'npm-cache'),
    npm_config_offline: 'true',
    CI: 'true',
  };
  for (const k of Object.keys(env)) if (k.startsWith('npm_') && !k.startsWith('npm_config_')) delete env[k];
  for (const k of ['VITEST', 'VITEST_POOL_ID', 'VITEST_WORKER_ID', 'NODE_OPTIONS', 'NODE_ENV']) delete env[k];
  const dir = join(base, 'project');

  afterAll(async () => {
    await run(`node ${BIN} down`, 60_000);
    rmSync(base, { recursive: true, force: true });
  }, 120_000);

  /** Runs `script` in one bash, as lines typed into a terminal would run. */
  function run(script: string, timeoutMs = 600_000): Promise<ShellRun> {
    return runShell(script, { shell: 'bash', cwd: dir, env, timeoutMs });
  }

  it('every line of "Try it with grpcurl" works against the platform', async () => {
    mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(BIN, join(dir, 'node_modules', '.bin', 'platformctl'));
    copyFileSync(join(REPO_ROOT, 'platform.yaml'), join(dir, 'platform.yaml'));
    const ports: number[] = [];
    while (ports.length < SERVICES.length) {
      const p = await freePort();
      if (!ports.includes(p) && p + 10_000 < 65_000 && (await isPortFree(p + 10_000))) ports.push(p);
    }
    SERVICES.forEach((s, i) => {
      env[`PLATFORMCTL_SERVICES__${s.toUpperCase()}__PORT`] = String(ports[i]);
    });
    const gateway = `127.0.0.1:${ports[0]}`;

    const steps = shBlock(GUIDE, '## Try it with grpcurl', 'docs/guides/grpc.md');
    expect(steps.map((s) => s.command.split(' ')[0])).toContain('grpcurl');
    // Each line, then its exit status on both streams: one shell, so variables carry over.
    const marker = '__grpc_guide_step__';
    const script = steps
      .map(
        (s) =>
          `${s.command.replaceAll('127.0.0.1:8080', gateway)}\nrc=$?; echo "${marker}$rc"; echo "${marker}$rc" >&2`,
      )
      .join('\n');
    const ran = await run(script);
    const outs = ran.stdout.split(new RegExp(`${marker}\\d+\\n`));
    const errs = ran.stderr.split(new RegExp(`${marker}\\d+\\n`));
    const codes = [...ran.stdout.matchAll(new RegExp(`${marker}(\\d+)`, 'g'))].map((m) => Number(m[1]));
    expect(codes.length, `${ran.stdout.slice(-2000)}\n${ran.stderr.slice(-2000)}`).toBe(steps.length);
    const result = (fragment: string) => {
      const i = steps.findIndex((s) => s.command.includes(fragment));
      expect(i, fragment).toBeGreaterThanOrEqual(0);
      return { code: codes[i] as number, stdout: outs[i] ?? '', stderr: errs[i] ?? '' };
    };
    steps.forEach((step, i) => {
      const what = `\`${step.command}\` exited ${codes[i]}\nstdout:\n${outs[i]?.slice(-2000)}\nstderr:\n${errs[i]?.slice(-2000)}`;
      expect([0, ...step.documented], what).toContain(codes[i]);
    });

    const list = result(' list').stdout.split('\n');
    expect(list).toContain('platform.auth.v1.Auth');
    expect(list).toContain('platform.analytics.v1.Analytics');
    expect(result('describe platform.analytics.v1.Analytics').stdout).toContain(
      'rpc GetTrending ( .platform.analytics.v1.GetTrendingRequest ) returns ( .platform.analytics.v1.GetTrendingResponse );',
    );
    expect(JSON.parse(result('Auth/GetPrincipal').stdout)).toMatchObject({
      kind: 'KIND_USER',
      role: 'ROLE_ADMIN',
    });
    expect(JSON.parse(result('Analytics/Ingest').stdout)).toEqual({ accepted: 1 });
    expect(JSON.parse(result('Analytics/GetContentStats').stdout)).toMatchObject({
      contentId: 'grpc-guide-item',
      views: '1',
    });
    const refused = result('Analytics/GetTrending');
    expect(refused.code).toBe(80);
    expect(refused.stderr).toContain('Code: Unauthenticated');

    // Behind the demo's uploads, content asked auth over gRPC: its client spans, auth's server spans under them.
    const spans = (service: string) =>
      readFileSync(traceFile(join(dir, '.platform', 'traces'), service), 'utf8')
        .trim()
        .split('\n')
        .map(
          (l) =>
            JSON.parse(l) as {
              spanId: string;
              parentSpanId?: string;
              name: string;
              kind: string;
              status: string;
            },
        );
    const asked = spans('content').filter(
      (s) => s.name === 'platform.auth.v1.Auth/GetPrincipal' && s.kind === 'client',
    );
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((s) => s.status === 'ok')).toBe(true);
    const answered = new Set(spans('auth').map((s) => s.parentSpanId));
    expect(asked.every((s) => answered.has(s.spanId))).toBe(true);
  }, 900_000);
});
