/**
 * Which instances have a standby (standby.ts), kept in line with what the supervisor runs. An
 * instance gets one `delayMs` after it is ready when its program said it can have one
 * (`CAPABILITIES=standby`) and it is its service's only instance: with two or more, the gateway
 * already fails over to the others at once, and a standby would only cost memory. A standby that
 * no longer fits the instance's start (another release, a changed environment) or is no longer
 * wanted (the service scaled out) is thrown away at once rather than at the next crash.
 */
import type { ProviderEvent } from '../provider.ts';
import { logNeedsRotation, type Managed } from './instance-process.ts';
import { Standby } from './standby.ts';

/** What the supervisor knows about one instance's standby. */
export interface StandbySlot {
  /** The loaded process, when there is one. */
  process?: Standby;
  /** The pending start of one. */
  timer?: NodeJS.Timeout;
  /** The instance's current process said `CAPABILITIES=standby`. */
  capable: boolean;
  /**
   * The instance's current process is a standby that has not said `STATUS=starting` yet: if it
   * dies now it never started (it died with the instance, or before reading `START`), and its
   * death is not another crash of the instance.
   */
  unconfirmed: boolean;
  /**
   * A standby of the current run died unused: none again until the instance restarts, or a
   * program that cannot load would be started over and over.
   */
  broken: boolean;
}

export const emptySlot = (): StandbySlot => ({ capable: false, unconfirmed: false, broken: false });

/** The supervisor, as the standbys see it. */
export interface StandbyHost {
  readonly root: string;
  instances(): Iterable<Managed>;
  /** The instance's environment as it would start now. */
  envOf(m: Managed): Record<string, string>;
  closed(): boolean;
  emit(e: ProviderEvent): void;
  persist(): void;
}

export interface StandbyOptions {
  enabled: boolean;
  /** How long an instance is ready before its standby starts loading (not amid a start-up wave). */
  delayMs: number;
}

export class Standbys {
  readonly #host: StandbyHost;
  readonly #options: StandbyOptions;

  constructor(host: StandbyHost, options: StandbyOptions) {
    this.#host = host;
    this.#options = options;
  }

  /**
   * The standby to start for `m` with `env`, detached from the slot: only one that fits, and not
   * when the log is due for rotation (a cold start rotates it; a standby writes to the file as it
   * is). One that does not serve is thrown away.
   */
  take(m: Managed, env: Record<string, string>): Standby | undefined {
    const standby = this.#detach(m);
    if (standby?.fits(m.rec.entry, env) && !logNeedsRotation(m.rec.logFile)) return standby;
    void standby?.discard();
    return undefined;
  }

  /** Throws `m`'s standby away (and cancels one about to start), and waits until it is gone. */
  async discard(m: Managed): Promise<void> {
    await this.#detach(m)?.discard();
  }

  /** Throws away what is stale or unwanted and schedules what is missing. */
  reconcile(): void {
    let changed = false;
    for (const m of this.#host.instances()) {
      const slot = m.standby;
      const wanted = this.#wants(m);
      if (slot.process && (!wanted || !slot.process.fits(m.rec.entry, this.#host.envOf(m)))) {
        void this.discard(m);
        changed = true;
      }
      if (!wanted && slot.timer) {
        clearTimeout(slot.timer);
        slot.timer = undefined;
      }
      if (wanted && !slot.process && !slot.timer) this.#schedule(m);
    }
    if (changed) this.#host.persist();
  }

  #wants(m: Managed): boolean {
    if (!this.#options.enabled || this.#host.closed() || m.stopping || !m.child) return false;
    if (!m.standby.capable || m.standby.broken || m.rec.state !== 'ready') return false;
    let others = 0;
    for (const x of this.#host.instances())
      if (x !== m && x.rec.service === m.rec.service && !x.stopping) others++;
    return others === 0;
  }

  #detach(m: Managed): Standby | undefined {
    const slot = m.standby;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = undefined;
    const standby = slot.process;
    slot.process = undefined;
    delete m.rec.standbyPid;
    return standby;
  }

  #schedule(m: Managed): void {
    const slot = m.standby;
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (!slot.process && this.#wants(m)) this.#start(m);
    }, this.#options.delayMs);
    slot.timer.unref();
  }

  #start(m: Managed): void {
    const slot = m.standby;
    const { id: instance, service } = m.rec;
    const standby = new Standby(m.rec.entry, this.#host.root, this.#host.envOf(m), m.rec.logFile, () => {
      // Said once loaded; a standby started while still loading is the instance by then.
      if (slot.process === standby)
        this.#host.emit({ type: 'instance.standby', instance, service, pid: standby.child.pid as number });
    });
    slot.process = standby;
    m.rec.standbyPid = standby.child.pid;
    standby.child.once('exit', (code, signal) => {
      // A standby this module threw away or handed over is detached first: this one died unused.
      if (slot.process !== standby) return;
      slot.process = undefined;
      slot.broken = true;
      delete m.rec.standbyPid;
      this.#host.emit({ type: 'instance.standby-exited', instance, service, code, signal });
      this.#host.persist();
    });
    this.#host.persist();
  }
}
