/**
 * Injecting a drill's hidden fault so that a later CLI process can undo it. Chaos actions go
 * through the chaos engine's `inject` and keep its serialisable `undo`; `bad-release` deploys a
 * failing build of a service beside the stable one, leaves the gateway at the given split and a
 * rollout record whose runner is gone — exactly what a canary abandoned mid-way looks like, so
 * the on-call can mitigate it with `platformctl canary abort <service>`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type FaultUndo, inject, revertUndo } from '../chaos/faults.ts';
import { PlatformError } from '../core/errors.ts';
import { finishOrphan } from '../delivery/recover.ts';
import { readState, TERMINAL_PHASES, writeState } from '../delivery/store.ts';
import { readRelease, releaseDir } from '../providers/local/releases.ts';
import type { Provider } from '../providers/provider.ts';
import type { BadReleaseFault, DrillFault } from './scenario.ts';

export type DrillUndo =
  | FaultUndo
  | { kind: 'bad-release'; service: string; stable: string; version: string; releaseDir: string };

export interface InjectedDrillFault {
  description: string;
  undo: DrillUndo;
}

export interface DrillFaultContext {
  provider: Provider;
  root: string;
  random: () => number;
}

export async function injectDrillFault(
  fault: DrillFault,
  ctx: DrillFaultContext,
): Promise<InjectedDrillFault> {
  if (fault.action === 'bad-release') return injectBadRelease(fault, ctx);
  const active = await inject(fault, {
    provider: ctx.provider,
    root: ctx.root,
    maxInstancesPct: 100,
    random: ctx.random,
    note: () => {},
  });
  if (!active.undo) {
    await active.revert();
    throw new PlatformError('DRILL_FAULT', `${fault.action} cannot be undone from a later process`, {
      hint: 'use a fault with undo information in the scenario',
    });
  }
  return { description: active.description, undo: active.undo };
}

export async function revertDrillUndo(
  undo: DrillUndo,
  ctx: { provider: Provider; root: string; platformDown?: boolean },
): Promise<void> {
  if (ctx.platformDown) {
    // Stopping the platform removed gateway rules, paused processes and the bad canary's
    // instances; only files and the abandoned rollout record outlive it.
    if (undo.kind === 'remove-file') return revertUndo(undo, ctx.provider);
    if (undo.kind === 'bad-release') {
      const st = readState(ctx.root, undo.service);
      if (st && st.release === undo.version && !TERMINAL_PHASES.includes(st.phase)) {
        const now = new Date().toISOString();
        writeState(ctx.root, {
          ...st,
          phase: 'RolledBack',
          weight: 0,
          outcome: { result: 'rolledBack', reason: 'drill ended while the platform was stopped' },
          message: 'drill ended while the platform was stopped',
          finishedAt: now,
          updatedAt: now,
        });
      }
    }
    return;
  }
  if (undo.kind !== 'bad-release') return revertUndo(undo, ctx.provider);
  const st = readState(ctx.root, undo.service);
  if (st && st.release === undo.version && !TERMINAL_PHASES.includes(st.phase)) {
    await finishOrphan(ctx.root, st, ctx.provider, 'abort');
  } else {
    const status = await ctx.provider.status();
    const svc = status.services.find((s) => s.name === undo.service);
    if (svc?.versions.includes(undo.version)) {
      await ctx.provider.setTraffic(undo.service, { weights: { [undo.stable]: 100, [undo.version]: 0 } });
      await ctx.provider.retire(undo.service, undo.version).catch(() => undefined);
    }
  }
}

/**
 * The bad build: a release whose bundle wraps the stable one and answers 500 to a share of the
 * requests (never to health checks, so it passes readiness like a real bad release would), and
 * logs each one as the service kit logs a 500 (level error, request id, the error), so the
 * runbook's `platformctl logs <service> --level error` finds them as it would in a real incident.
 */
function badBundle(stableEntry: string, errorPercent: number): string {
  return `// A release that fails ${errorPercent}% of its requests.
import http from 'node:http';
const emit = http.Server.prototype.emit;
const spared = /^\\/(healthz|readyz|metrics)(\\?|$)/;
const message = 'Cannot read properties of undefined (reading "id")';
const base = { service: process.env.SERVICE_NAME, version: process.env.SERVICE_VERSION, instance: process.env.INSTANCE_ID };
http.Server.prototype.emit = function (event, req, res) {
  if (event === 'request' && !spared.test(req.url ?? '') && Math.random() * 100 < ${errorPercent}) {
    const reqId = typeof req.headers['x-request-id'] === 'string' ? req.headers['x-request-id'] : undefined;
    res.statusCode = 500;
    res.setHeader('content-type', 'application/problem+json');
    if (reqId) res.setHeader('x-request-id', reqId);
    res.end(JSON.stringify({ title: 'Internal Server Error', status: 500, detail: 'internal error', code: 'INTERNAL', requestId: reqId }));
    process.stdout.write(JSON.stringify({ level: 'error', time: new Date().toISOString(), ...base, reqId, msg: 'request failed', method: req.method, url: req.url, status: 500, error: 'INTERNAL: ' + message }) + '\\n');
    return true;
  }
  return emit.apply(this, arguments);
};
await import(${JSON.stringify(pathToFileURL(stableEntry).href)});
`;
}

async function injectBadRelease(fault: BadReleaseFault, ctx: DrillFaultContext): Promise<InjectedDrillFault> {
  const service = fault.target.service;
  const status = await ctx.provider.status();
  const svc = status.services.find((s) => s.name === service);
  const stable = svc?.versions[0];
  if (!svc || !stable)
    throw new PlatformError('CHAOS_NO_TARGET', `no running version of ${service} to put a bad canary beside`);
  if (svc.versions.length > 1)
    throw new PlatformError('DRILL_FAULT', `${service} already runs ${svc.versions.join(' and ')}`, {
      hint: 'finish that rollout first (`platformctl canary status`)',
    });
  const stableRelease = readRelease(ctx.root, service, stable);
  if (!stableRelease)
    throw new PlatformError('DRILL_FAULT', `the running ${service}@${stable} has no release on disk`);
  const version = `${stable.replace(/-[0-9a-f]{6,}$/, '')}-${randomBytes(4).toString('hex')}`;
  const bundle = badBundle(stableRelease.entryPath, fault.errorPercent);
  const dir = releaseDir(ctx.root, service, version);
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'main.mjs'), bundle);
  writeFileSync(
    join(tmp, 'manifest.json'),
    `${JSON.stringify(
      {
        service,
        version,
        gitSha: stableRelease.gitSha,
        createdAt: new Date().toISOString(),
        checksum: createHash('sha256').update(bundle).digest('hex'),
        entry: 'main.mjs',
        source: stableRelease.source,
      },
      null,
      2,
    )}\n`,
  );
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(tmp, dir);
  const undo: DrillUndo = { kind: 'bad-release', service, stable, version, releaseDir: dir };
  try {
    await ctx.provider.deploy(service, { service, version }, { initialWeight: 0 });
    await ctx.provider.setTraffic(service, {
      weights: { [stable]: 100 - fault.weight, [version]: fault.weight },
    });
  } catch (err) {
    await revertDrillUndo(undo, ctx).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const now = new Date().toISOString();
  // The runner "died" at this step: this process exits right after the drill starts.
  writeState(ctx.root, {
    schema: 1,
    id: randomBytes(6).toString('hex'),
    service,
    release: version,
    stable,
    strategy: 'canary',
    phase: 'Paused',
    steps: [],
    stepIndex: 0,
    weight: fault.weight,
    startedAt: now,
    updatedAt: now,
    exposedAt: now,
    pid: process.pid,
    message: `paused at ${fault.weight}% for manual judgement`,
    analyses: [],
    events: [
      { at: now, type: 'rollout.started', service, message: `${version} deployed beside ${stable}` },
      { at: now, type: 'rollout.paused', service, message: `paused at ${fault.weight}%` },
    ],
  });
  return { description: `${service}@${version} at ${fault.weight}% failing ${fault.errorPercent}%`, undo };
}
