/**
 * A standby: a second process of an instance, started with the instance's entry and environment
 * plus NOTIFY_STANDBY=1. It boots Node, loads the service's modules and then waits, blocked on its
 * notification pipe, for `START` (runtime/lib/ready-notify.ts). When the instance's process dies,
 * the supervisor starts the standby instead of a new process, so the restart skips the larger part
 * of a cold start. The kit opens no port, connection or data before `START` (a service whose
 * module-level code would, opts out with `standby: false`), so a standby can be thrown away at any
 * time; it exits by itself when its supervisor goes away (its pipe closes). Which instances have
 * one: standbys.ts.
 */
import type { ChildProcess } from 'node:child_process';
import {
  type NotificationHandlers,
  onNotifications,
  signalGroup,
  startProcess,
  tellChild,
} from './instance-process.ts';

/** What a standby must have been started with to take over a start: the same entry and environment. */
function startKey(entry: string, env: Record<string, string>): string {
  return JSON.stringify([entry, Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

export class Standby {
  readonly child: ChildProcess;
  readonly #key: string;
  /** Whom the process reports to once started (until then its notifications are its own). */
  #handlers: NotificationHandlers | undefined;

  /** Starts the process; `onLoaded` runs once it has loaded and waits for `START`. */
  constructor(
    entry: string,
    cwd: string,
    env: Record<string, string>,
    logFile: string,
    onLoaded: () => void,
  ) {
    this.#key = startKey(entry, env);
    this.child = startProcess(entry, cwd, env, logFile, true);
    this.child.once('error', () => {
      // a failed spawn is an exit as well: the standby is simply not there
    });
    onNotifications(this.child, {
      standby: onLoaded,
      starting: () => this.#handlers?.starting(),
      ready: () => this.#handlers?.ready(),
    });
  }

  get alive(): boolean {
    return this.child.pid !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Whether it can stand in for a start of `entry` with `env` (a deploy or an edit changes them). */
  fits(entry: string, env: Record<string, string>): boolean {
    return this.alive && this.#key === startKey(entry, env);
  }

  /**
   * Starts it, loaded or still loading (it reads `START` once it gets there): from now on the
   * process is the instance's, and its notifications go to `handlers`.
   */
  start(handlers: NotificationHandlers): ChildProcess {
    this.#handlers = handlers;
    tellChild(this.child, 'START');
    return this.child;
  }

  /** Stops it and waits until it is gone (nothing to drain: it never started). */
  async discard(): Promise<void> {
    if (!this.alive) return;
    const gone = new Promise((r) => this.child.once('exit', r));
    signalGroup(this.child.pid as number, 'SIGKILL');
    await gone;
  }
}
