/**
 * Multi-process gateway (GATEWAY_WORKERS > 1). One Node process proxies on one core; with N
 * workers the kernel spreads connections over N cores. The primary proxies nothing: it keeps the
 * admin changes (so a restarted worker catches up before it listens), relays them between
 * workers, merges their stats windows and aggregates their Prometheus registries.
 *
 * Per worker, by design: circuit breakers (passive, each learns from its own traffic), retry
 * budgets and rate-limit buckets (a client's connections may land on different workers, so the
 * effective limit is up to N × the configured one).
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Logger } from '../../lib/logger.ts';
import type { ClusterPeers, ControlOp } from './control.ts';
import type { Gateway } from './gateway.ts';
import type { StatsDump } from './stats-window.ts';

type Message =
  | { gw: 'hello' }
  | { gw: 'replay'; ops: ControlOp[] }
  | { gw: 'op'; op: ControlOp }
  | { gw: 'stats?'; id: number; windowMs: number; service: string | undefined }
  | { gw: 'dump?'; id: number; windowMs: number; service: string | undefined }
  | { gw: 'dump'; id: number; dump: StatsDump }
  | { gw: 'stats'; id: number; dumps: StatsDump[] }
  | { gw: 'metrics?'; id: number }
  | { gw: 'metrics'; id: number; text: string; error?: string };

const REPLY_TIMEOUT_MS = 3000;

function isMessage(m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { gw?: unknown }).gw === 'string';
}

/** The admin state the primary replays to a (re)started worker: the latest change of each kind. */
class ControlLog {
  readonly #instances = new Map<string, ControlOp>();
  readonly #traffic = new Map<string, ControlOp>();
  readonly #faults = new Map<string, ControlOp>();

  apply(op: ControlOp): void {
    if (op.op === 'instances') this.#instances.set(op.service, op);
    else if (op.op === 'traffic') this.#traffic.set(op.service, op);
    else if (op.op === 'fault-add') this.#faults.set(op.fault.id, op);
    else if (op.op === 'fault-remove') this.#faults.delete(op.id);
    else this.#faults.clear();
  }

  ops(): ControlOp[] {
    return [...this.#instances.values(), ...this.#traffic.values(), ...this.#faults.values()];
  }
}

export function runPrimary(workers: number, logger: Logger, shutdownTimeoutMs: number): void {
  const log = new ControlLog();
  const aggregator = new AggregatorRegistry();
  /** Stats requests in progress, by the primary's id; `askId` is the asking worker's. */
  const gathering = new Map<
    number,
    { from: Worker; askId: number; dumps: StatsDump[]; pending: number; timer: NodeJS.Timeout }
  >();
  let nextId = 1;
  let stopping = false;
  const live = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
  const send = (w: Worker, m: Message) => {
    if (w.isConnected()) w.send(m);
  };
  const finishStats = (id: number) => {
    const g = gathering.get(id);
    if (!g) return;
    gathering.delete(id);
    clearTimeout(g.timer);
    send(g.from, { gw: 'stats', id: g.askId, dumps: g.dumps });
  };

  cluster.on('message', (worker: Worker, m: unknown) => {
    if (!isMessage(m)) return;
    switch (m.gw) {
      case 'hello':
        send(worker, { gw: 'replay', ops: log.ops() });
        break;
      case 'op':
        log.apply(m.op);
        for (const w of live()) if (w !== worker) send(w, m);
        break;
      case 'stats?': {
        const others = live().filter((w) => w !== worker);
        const id = nextId++;
        const timer = setTimeout(() => finishStats(id), REPLY_TIMEOUT_MS);
        timer.unref();
        gathering.set(id, { from: worker, askId: m.id, dumps: [], pending: others.length, timer });
        if (others.length === 0) finishStats(id);
        for (const w of others) send(w, { gw: 'dump?', id, windowMs: m.windowMs, service: m.service });
        break;
      }
      case 'dump': {
        const g = gathering.get(m.id);
        if (!g) break;
        g.dumps.push(m.dump);
        if (--g.pending <= 0) finishStats(m.id);
        break;
      }
      case 'metrics?':
        aggregator.clusterMetrics().then(
          (text) => send(worker, { gw: 'metrics', id: m.id, text }),
          (err: Error) => send(worker, { gw: 'metrics', id: m.id, text: '', error: err.message }),
        );
        break;
      default:
        break;
    }
  });

  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (live().length === 0) {
        logger.info('all workers stopped');
        process.exit(0);
      }
      return;
    }
    logger.error({ worker: worker.id, code, signal }, 'gateway worker exited; starting another');
    setTimeout(() => cluster.fork(), 500).unref();
  });

  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: live().length }, 'shutting down workers');
    for (const w of live()) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), shutdownTimeoutMs + 3000).unref();
    if (live().length === 0) process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * Worker side: the peers object for the Gateway, and `ready()` which resolves with the admin
 * changes made so far (to apply before listening).
 */
export function workerPeers(
  workers: number,
  registry: Registry,
  gateway: () => Gateway | undefined,
): { peers: ClusterPeers; replay: Promise<ControlOp[]> } {
  // prom-client answers the primary's aggregation requests from these registries.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  const pending = new Map<number, (m: Message) => void>();
  let nextId = 1;
  let resolveReplay: (ops: ControlOp[]) => void = () => {};
  const replay = new Promise<ControlOp[]>((resolve) => {
    resolveReplay = resolve;
    // A primary that never answers must not keep the worker from serving its configuration.
    setTimeout(() => resolve([]), 5000).unref();
  });
  const send = (m: Message) => {
    if (process.connected) process.send?.(m);
  };
  const ask = <T>(m: Message & { id: number }, pick: (reply: Message) => T, fallback: T): Promise<T> =>
    new Promise<T>((resolve) => {
      const timer = setTimeout(() => {
        pending.delete(m.id);
        resolve(fallback);
      }, REPLY_TIMEOUT_MS + 500);
      pending.set(m.id, (reply) => {
        clearTimeout(timer);
        pending.delete(m.id);
        resolve(pick(reply));
      });
      send(m);
    });

  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return;
    const gw = gateway();
    switch (m.gw) {
      case 'replay':
        resolveReplay(m.ops);
        break;
      case 'op':
        gw?.applyControl(m.op);
        break;
      case 'dump?':
        send({
          gw: 'dump',
          id: m.id,
          dump: gw ? gw.stats.dump(m.windowMs, { service: m.service }) : { windowMs: m.windowMs, series: [] },
        });
        break;
      case 'stats':
      case 'metrics':
        pending.get(m.id)?.(m);
        break;
      default:
        break;
    }
  });
  send({ gw: 'hello' });

  const peers: ClusterPeers = {
    workers,
    worker: cluster.worker?.id ?? 0,
    broadcast: (op) => send({ gw: 'op', op }),
    statsDumps: (windowMs, service) =>
      ask({ gw: 'stats?', id: nextId++, windowMs, service }, (r) => (r.gw === 'stats' ? r.dumps : []), []),
    metrics: async () => {
      const reply = await ask<Message | undefined>({ gw: 'metrics?', id: nextId++ }, (r) => r, undefined);
      if (reply?.gw !== 'metrics' || reply.error) return registry.metrics();
      return reply.text;
    },
  };
  return { peers, replay };
}
