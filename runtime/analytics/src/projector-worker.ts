/**
 * Runs the projector on its own thread with its own database connections, so projection (the
 * CPU-heavy part: rollups, HLL, co-views) uses the second core instead of delaying ingest
 * acknowledgements on the main event loop. `ProjectorWorker` is the main-thread handle.
 */
import { setPriority } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Logger } from '../../lib/logger.ts';
import { openDb } from '../../lib/storage/db.ts';
import { Projector, type ProjectorOptions, type ProjectorStats } from './projector.ts';

interface WorkerConfig {
  dbUrl: string;
  logUrl: string;
  synchronous: 'NORMAL' | 'FULL';
  /**
   * Nice value of the projector thread (Linux: per thread). Default 0, the same as ingest: ingest
   * is refused while projection lags (projection-lag.ts), so a projector ranked below ingest only
   * lowers the rate that can be acknowledged — at nice 5 on a busy host its slices spent 55–85 %
   * of their time waiting for a CPU (docs/benchmarks.md, issue 21).
   */
  nice?: number;
  options: Omit<ProjectorOptions, 'onError'>;
}

/** V8 heap limits of the projector thread (old and young generation), in MiB. */
const PROJECTOR_OLD_MB = 192;
const PROJECTOR_YOUNG_MB = 24;
/** Page cache of the projector's read-model connection, in KiB (a bound on its memory). */
const READ_MODEL_CACHE_KIB = 32 * 1024;

type ToWorker = { type: 'nudge' } | { type: 'catchUp'; id: number; budgetMs: number } | { type: 'stop' };
type FromWorker =
  | { type: 'ready' }
  | { type: 'stats'; stats: ProjectorStats }
  | { type: 'progress'; position: number; stats: ProjectorStats; heapBytes: number }
  | { type: 'taking'; position: number }
  | { type: 'caughtUp'; id: number }
  | { type: 'error'; message: string }
  | { type: 'stopped' };

/** Main-thread handle of the projector thread (restarted after a crash). */
export class ProjectorWorker {
  private worker: Worker | undefined;
  private readonly config: WorkerConfig;
  private readonly log: Logger;
  private nextId = 1;
  private readonly waiting = new Map<number, () => void>();
  private stopping = false;
  private nudged = false;
  stats: ProjectorStats = { applied: 0, duplicates: 0, slices: 0 };
  /** V8 heap the projector thread has committed (its own isolate), as last reported. */
  heapBytes = 0;
  /** The thread's last slice failed (e.g. its database is down) and none has committed since. */
  failing = false;
  private readonly onProgress: (position: number) => void;
  private readonly onTake: (position: number) => void;

  /**
   * `onProgress` gets the log position after every slice the thread commits; `onTake` the position
   * a slice has read up to, as it starts applying it.
   */
  constructor(
    config: WorkerConfig,
    log: Logger,
    onProgress: (position: number) => void = () => {},
    onTake: (position: number) => void = () => {},
  ) {
    this.config = config;
    this.log = log;
    this.onProgress = onProgress;
    this.onTake = onTake;
  }

  async start(): Promise<void> {
    const worker = new Worker(new URL(import.meta.url), {
      workerData: this.config,
      // Without limits V8 sizes a busy thread's heap for throughput, several times its live data
      // (the projector committed 300+ MB for ~80 MB live within a minute of load). Its live data
      // is bounded (recent views, one slice), so a fixed heap is safe and makes RSS flat.
      resourceLimits: {
        maxOldGenerationSizeMb: PROJECTOR_OLD_MB,
        maxYoungGenerationSizeMb: PROJECTOR_YOUNG_MB,
      },
    });
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'stats') this.stats = m.stats;
        else if (m.type === 'progress') {
          this.stats = m.stats;
          this.heapBytes = m.heapBytes;
          this.failing = false;
          this.onProgress(m.position);
        } else if (m.type === 'taking') {
          this.onTake(m.position);
        } else if (m.type === 'caughtUp') {
          this.waiting.get(m.id)?.();
          this.waiting.delete(m.id);
        } else if (m.type === 'error') {
          this.failing = true;
          this.log.error({ err: m.message }, 'projection failed');
        }
      });
      worker.once('error', reject);
      worker.on('exit', (code) => {
        for (const done of this.waiting.values()) done();
        this.waiting.clear();
        if (!this.stopping) {
          this.log.error({ code }, 'projector thread exited; restarting in 1 s');
          setTimeout(() => {
            if (!this.stopping)
              this.start().catch((err) => this.log.error({ err }, 'projector restart failed'));
          }, 1000).unref();
        }
      });
    });
  }

  private post(message: ToWorker): void {
    this.worker?.postMessage(message);
  }

  /** New log rows exist; coalesced to one message per event-loop turn. */
  nudge(): void {
    if (this.nudged) return;
    this.nudged = true;
    setImmediate(() => {
      this.nudged = false;
      this.post({ type: 'nudge' });
    });
  }

  /** Waits (up to `budgetMs`) until everything appended so far is projected. */
  catchUp(budgetMs = 250): Promise<void> {
    if (!this.worker) return Promise.resolve();
    const id = this.nextId++;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve();
      }, budgetMs + 50);
      this.waiting.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      this.post({ type: 'catchUp', id, budgetMs });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (!worker) return;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    this.post({ type: 'stop' });
    const timer = setTimeout(() => worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }
}

async function runWorker(): Promise<void> {
  const config = workerData as WorkerConfig;
  // On Linux a priority set from a thread applies to that thread only, so a nice value > 0 lowers
  // the projector alone (ingest keeps its share under contention, the projector trails more).
  try {
    if (config.nice) setPriority(config.nice);
  } catch {
    // Not permitted (some containers): run at normal priority.
  }
  const port = parentPort!;
  const send = (m: FromWorker) => port.postMessage(m);
  const db = await openDb(config.dbUrl, { synchronous: config.synchronous });
  // The pages a slice touches (the recent end of `seen` and the minute rollups, the rows of the
  // items being viewed) stay cached between slices: 32 MiB, against SQLite's default 2 MiB.
  if (db.dialect === 'sqlite') await db.exec(`PRAGMA cache_size = -${READ_MODEL_CACHE_KIB}`);
  const log = await openDb(config.logUrl, { synchronous: config.synchronous });
  const projector = new Projector(db, log, {
    ...config.options,
    onError: (err) =>
      send({ type: 'error', message: err instanceof Error ? String(err.stack) : String(err) }),
    onIdle: (stats) => send({ type: 'stats', stats: { ...stats } }),
    onProgress: (position) => progress(position),
    onTake: (position) => send({ type: 'taking', position }),
  });
  const progress = (position: number) =>
    send({
      type: 'progress',
      position,
      stats: { ...projector.stats },
      heapBytes: getHeapStatistics().total_heap_size,
    });
  await projector.warmUp();
  progress(await projector.position());
  // The ingest connection does not checkpoint its WAL (that would block acknowledgements); this
  // thread does, without waiting for readers or writers (PASSIVE), once a second.
  const checkpoints = setInterval(() => {
    if (log.dialect === 'sqlite') log.exec('PRAGMA wal_checkpoint(PASSIVE)').catch(() => {});
  }, 1000);
  port.on('message', (m: ToWorker) => {
    if (m.type === 'nudge') projector.schedule();
    else if (m.type === 'catchUp') {
      projector
        .catchUp(m.budgetMs)
        .catch((err) => send({ type: 'error', message: String(err) }))
        .finally(() => {
          send({ type: 'stats', stats: { ...projector.stats } });
          send({ type: 'caughtUp', id: m.id });
        });
    } else if (m.type === 'stop') {
      void (async () => {
        clearInterval(checkpoints);
        await projector.stop();
        await db.close();
        await log.close();
        send({ type: 'stopped' });
        port.close();
      })();
    }
  });
  send({ type: 'ready' });
  projector.schedule();
}

if (!isMainThread && (workerData as WorkerConfig | undefined)?.dbUrl) await runWorker();
