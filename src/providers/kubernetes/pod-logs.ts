/**
 * Pod logs through the Kubernetes Log API: the last lines of every pod of a selector, or every pod
 * followed (one stream each, merged) until the caller aborts; each line parsed by the runtime's
 * shared log-line contract.
 */
import { PassThrough } from 'node:stream';
import type * as K8s from '@kubernetes/client-node';
import { levelRank, parseLogLine } from '../../../runtime/contract/log-line.ts';
import { PlatformError } from '../../core/errors.ts';
import type { LogEntry, LogQuery } from '../provider.ts';
import type { KubeSession } from './kube-session.ts';
import { NAME_LABEL } from './manifests.ts';

/** The entries of a pod selector's logs, filtered by level, request id and age. */
export async function* streamLogs(
  session: KubeSession,
  selector: string,
  opts: LogQuery,
): AsyncGenerator<LogEntry> {
  const namespace = session.namespace;
  const listed = await session.call('list pods', (c) =>
    c.core.listNamespacedPod({ namespace, labelSelector: selector }),
  );
  const pods = listed.items.filter((p) => !opts.instance || p.metadata?.name === opts.instance);
  if (opts.instance && pods.length === 0) {
    throw new PlatformError('UNKNOWN_INSTANCE', `no pod "${opts.instance}" in ${namespace}`, {});
  }
  const min = opts.level ? levelRank(opts.level) : 0;
  const keep = (e: LogEntry) =>
    levelRank(e.level) >= min &&
    (!opts.requestId || e.reqId === opts.requestId) &&
    (!opts.sinceMs || e.time >= Date.now() - opts.sinceMs);
  const c = await session.clients();
  const sinceSeconds = opts.sinceMs ? Math.max(1, Math.ceil(opts.sinceMs / 1000)) : undefined;
  if (!opts.follow) {
    for (const pod of pods) {
      const name = pod.metadata?.name ?? '';
      const text = await session.call(`read the logs of ${name}`, (cl) =>
        cl.core.readNamespacedPodLog({
          name,
          namespace: namespace,
          ...(opts.tail !== undefined ? { tailLines: opts.tail } : {}),
          ...(sinceSeconds ? { sinceSeconds } : {}),
        }),
      );
      for (const line of String(text).split('\n')) {
        if (!line.trim()) continue;
        const e = toEntry(pod, line);
        if (keep(e)) yield e;
      }
    }
    return;
  }
  // Follow: one Log API stream per pod, merged into a queue until the caller aborts.
  const queue: LogEntry[] = [];
  let wake: (() => void) | undefined;
  const log = new c.k8s.Log(c.kc);
  const controllers: AbortController[] = [];
  let open = pods.length;
  for (const pod of pods) {
    const stream = new PassThrough();
    let rest = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) queue.push(toEntry(pod, line));
      wake?.();
    });
    // client-node 2 never calls the `done` callback: the end of the piped stream is the signal.
    stream.on('close', () => {
      if (rest.trim()) queue.push(toEntry(pod, rest));
      rest = '';
      open--;
      wake?.();
    });
    const container = pod.spec?.containers?.[0]?.name ?? '';
    controllers.push(
      await log.log(namespace, pod.metadata?.name ?? '', container, stream, {
        follow: true,
        ...(opts.tail !== undefined ? { tailLines: opts.tail } : {}),
        ...(sinceSeconds ? { sinceSeconds } : {}),
      }),
    );
  }
  const onAbort = () => wake?.();
  opts.signal?.addEventListener('abort', onAbort);
  try {
    while (!opts.signal?.aborted) {
      while (queue.length && !opts.signal?.aborted) {
        const e = queue.shift() as LogEntry;
        if (keep(e)) yield e;
      }
      if (open <= 0) break;
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = undefined;
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    for (const ac of controllers) ac.abort();
  }
}

function toEntry(pod: K8s.V1Pod, line: string): LogEntry {
  const { service: _named, ...parsed } = parseLogLine(line);
  return {
    service: pod.metadata?.labels?.[NAME_LABEL] ?? '',
    instance: pod.metadata?.name ?? '',
    ...parsed,
  };
}
