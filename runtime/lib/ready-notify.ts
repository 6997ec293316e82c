/**
 * Start-up notifications to whoever started the service, in the manner of systemd's sd_notify:
 * lines on an inherited socket whose descriptor is `NOTIFY_FD` (the local supervisor passes one).
 * `STATUS=starting` as soon as the kit runs says "this service will tell you when it is ready";
 * `READY=1` once `/readyz` would answer 200. The supervisor then stops polling `/readyz` every few
 * milliseconds while the service starts (CPU the start competes with) and learns of readiness
 * without a polling interval's delay. Without `NOTIFY_FD` (Kubernetes, tests, a shell) nothing is
 * written; a supervisor that went away (EPIPE) or a descriptor that is not writable is ignored,
 * since the supervisor polls services that say nothing.
 *
 * Kit services also say `CAPABILITIES=standby` after `STATUS=starting` (unless their definition
 * says `standby: false`): started with
 * `NOTIFY_STANDBY=1`, such a process is a standby. It loads its code, says `STATUS=standby` and
 * waits for `START` before it starts (then `STATUS=starting`, `READY=1` as above). The local
 * supervisor keeps one beside each instance that can, so that a restart after a crash skips Node's
 * boot and the loading of the service's modules.
 */
import { closeSync, fstatSync, readSync, writeSync } from 'node:fs';

/** The notifications a service sends, in this order. */
export interface ReadyNotifier {
  /**
   * A standby (NOTIFY_STANDBY=1) says so and blocks until told `START` (true), or until the pipe
   * closes first (false: nobody will start it, the caller exits). Anything else returns true at once.
   */
  awaitStart(): boolean;
  /**
   * The service runs and will say when it is ready; with `standby`, also that it can be started as
   * a standby (its caller waits in awaitStart when it is one).
   */
  starting(capabilities: { standby: boolean }): void;
  /** The service is ready; the descriptor is closed afterwards. */
  ready(): void;
}

const SILENT: ReadyNotifier = { awaitStart: () => true, starting: () => {}, ready: () => {} };

/** Longer than the word the supervisor sends: more without it is not the protocol. */
const MAX_START_BYTES = 64;

/**
 * A notifier on `env.NOTIFY_FD`, or one that does nothing when it is unset or is not an open socket.
 * The variable is removed from `env`: a process this service starts must not take some unrelated
 * descriptor 3 of its own for the supervisor's pipe.
 */
export function readyNotifier(env: NodeJS.ProcessEnv = process.env): ReadyNotifier {
  const fd = Number(env.NOTIFY_FD);
  const standby = env.NOTIFY_STANDBY === '1';
  delete env.NOTIFY_FD;
  delete env.NOTIFY_STANDBY;
  if (!Number.isInteger(fd) || fd < 3 || !isSocket(fd)) return SILENT;
  let open = true;
  const send = (line: string): void => {
    if (!open) return;
    try {
      writeSync(fd, `${line}\n`);
    } catch {
      // The reader is gone (EPIPE) or the descriptor is not ours to write: polling still works.
      open = false;
    }
  };
  return {
    awaitStart() {
      if (!standby) return true;
      send('STATUS=standby');
      return open && readStart(fd);
    },
    starting({ standby: canStandby }) {
      send(canStandby ? 'STATUS=starting\nCAPABILITIES=standby' : 'STATUS=starting');
    },
    ready() {
      send('READY=1');
      if (!open) return;
      open = false;
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    },
  };
}

/**
 * Whether `fd` is a socket: what Node's `'pipe'` stdio entry gives a child (a socket pair). Nothing
 * else is written to: with NOTIFY_FD set but not inherited (an environment copied by hand), the
 * descriptor is one of Node's own (its event loop's epoll instance, its internal pipes).
 */
function isSocket(fd: number): boolean {
  try {
    return fstatSync(fd).isSocket();
  } catch {
    return false;
  }
}

/**
 * Blocks reading `fd` until the line `START` (true) or the end of the pipe (false). Blocking is the
 * point: a standby has nothing to run until then, and a blocked process costs no CPU. A descriptor
 * that is not blocking after all is read every few milliseconds instead.
 */
function readStart(fd: number): boolean {
  const buf = Buffer.alloc(MAX_START_BYTES);
  let said = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EINTR') return false;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      continue;
    }
    if (n === 0) return false;
    said += buf.toString('latin1', 0, n);
    if (said.startsWith('START\n')) return true;
    if (said.includes('\n') || said.length >= MAX_START_BYTES) return false;
  }
}
