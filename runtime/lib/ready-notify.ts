/**
 * Start-up notifications to whoever started the service, in the manner of systemd's sd_notify:
 * lines on an inherited socket whose descriptor is `NOTIFY_FD` (the local supervisor passes one).
 * `STATUS=starting` as soon as the kit runs says "this service will tell you when it is ready";
 * `READY=1` once `/readyz` would answer 200. The supervisor then stops polling `/readyz` every few
 * milliseconds while the service starts (CPU the start competes with) and learns of readiness
 * without a polling interval's delay. Without `NOTIFY_FD` (Kubernetes, tests, a shell) nothing is
 * written; a supervisor that went away (EPIPE) or a descriptor that is not writable is ignored,
 * since the supervisor polls services that say nothing.
 */
import { closeSync, fstatSync, writeSync } from 'node:fs';

/** The two notifications a service sends, in this order. */
export interface ReadyNotifier {
  /** The service runs and will say when it is ready. */
  starting(): void;
  /** The service is ready; the descriptor is closed afterwards. */
  ready(): void;
}

const SILENT: ReadyNotifier = { starting: () => {}, ready: () => {} };

/**
 * A notifier on `env.NOTIFY_FD`, or one that does nothing when it is unset or is not an open socket.
 * The variable is removed from `env`: a process this service starts must not take some unrelated
 * descriptor 3 of its own for the supervisor's pipe.
 */
export function readyNotifier(env: NodeJS.ProcessEnv = process.env): ReadyNotifier {
  const fd = Number(env.NOTIFY_FD);
  delete env.NOTIFY_FD;
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
    starting() {
      send('STATUS=starting');
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
