/**
 * Waiting for a version's rollout as the Deployment controller reports it (`kubectl rollout status`
 * semantics), failing at once on pod states that never fix themselves and naming the pod that is
 * not Ready when time runs out.
 */
import type * as K8s from '@kubernetes/client-node';
import { PlatformError } from '../../core/errors.ts';
import { sleep } from '../../core/sleep.ts';
import type { ProviderEvent } from '../provider.ts';
import type { KubeSession } from './kube-session.ts';
import { NAME_LABEL, VERSION_LABEL, versionName } from './manifests.ts';

/** Waiting reasons that never fix themselves: the rollout fails at once instead of timing out. */
export const FATAL_WAITING_REASONS = [
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
];

/** Where and how long to wait, and what the messages name. */
export interface RolloutTarget {
  environment: string;
  registry: string;
  timeoutMs: number;
  pollMs: number;
}

/**
 * Polls the version's Deployment and pods until every replica is ready. A pod stuck on an image
 * pull error or in a crash loop fails the rollout at once with the kubelet's message.
 */
export async function waitForRollout(
  session: KubeSession,
  target: RolloutTarget,
  service: string,
  version: string,
  replicas: number,
  onEvent?: (e: ProviderEvent) => void,
): Promise<void> {
  const name = versionName(service, version);
  const { timeoutMs, pollMs } = target;
  const namespace = session.namespace;
  const started = Date.now();
  const announced = new Set<string>();
  let lastPods: K8s.V1Pod[] = [];
  while (Date.now() - started < timeoutMs) {
    const dep = await session.call(`read deployment ${name}`, (c) =>
      c.apps.readNamespacedDeployment({ name, namespace: namespace }),
    );
    const labelSelector = `${NAME_LABEL}=${service},${VERSION_LABEL}=${version}`;
    const pods = (
      await session.call('list pods', (c) => c.core.listNamespacedPod({ namespace, labelSelector }))
    ).items;
    for (const pod of pods) {
      for (const cs of [
        ...(pod.status?.initContainerStatuses ?? []),
        ...(pod.status?.containerStatuses ?? []),
      ]) {
        const reason = cs.state?.waiting?.reason;
        if (reason && FATAL_WAITING_REASONS.includes(reason)) {
          const image = cs.image ? ` (${cs.image})` : '';
          throw new PlatformError(
            reason === 'CrashLoopBackOff' ? 'ROLLOUT_CRASH_LOOP' : 'ROLLOUT_IMAGE_PULL',
            `${name}: pod ${pod.metadata?.name} is in ${reason}${image}: ${cs.state?.waiting?.message ?? 'no message'}`,
            {
              hint:
                reason === 'CrashLoopBackOff'
                  ? `see its logs: platformctl logs ${service} --env ${target.environment}`
                  : `check that the image exists and the cluster may pull it (registry ${target.registry}, imagePullSecrets)`,
              details: { pod: pod.metadata?.name, reason },
            },
          );
        }
      }
      const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      const podName = pod.metadata?.name ?? '';
      if (ready && !announced.has(podName)) {
        announced.add(podName);
        onEvent?.({ type: 'instance.ready', instance: podName, service, ms: Date.now() - started });
      }
    }
    const failed = dep.status?.conditions?.find(
      (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
    );
    if (failed) {
      throw new PlatformError(
        'ROLLOUT_STALLED',
        `${name}: ${failed.message ?? 'progress deadline exceeded'}`,
        {
          hint: `see \`kubectl -n ${namespace} describe deployment ${name}\``,
        },
      );
    }
    // Done as `kubectl rollout status` judges it, against the replicas the Deployment has now
    // (an HPA may own them), once the controller has seen the latest spec.
    const st = dep.status;
    const want = dep.spec?.replicas ?? replicas;
    const observed = (st?.observedGeneration ?? 0) >= (dep.metadata?.generation ?? 0);
    if (
      observed &&
      (st?.updatedReplicas ?? 0) >= want &&
      (st?.readyReplicas ?? 0) >= want &&
      (st?.availableReplicas ?? st?.readyReplicas ?? 0) >= want
    )
      return;
    lastPods = pods;
    await sleep(pollMs);
  }
  const unready = lastPods.find(
    (p) => !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  );
  const condition = unready?.status?.conditions?.find((c) => c.type === 'Ready');
  const why = unready
    ? `: pod ${unready.metadata?.name} is ${unready.status?.phase ?? 'Pending'} but not Ready${
        condition?.reason ? ` (${condition.reason}${condition.message ? `: ${condition.message}` : ''})` : ''
      }`
    : '';
  throw new PlatformError(
    'ROLLOUT_TIMEOUT',
    `${name} was not ready within ${Math.round(timeoutMs / 1000)}s${why}`,
    {
      hint: `see \`kubectl -n ${namespace} describe pods -l ${VERSION_LABEL}=${version}\` (a failing readiness probe, or no node with room for it)`,
      details: unready ? { pod: unready.metadata?.name, reason: condition?.reason ?? 'NotReady' } : {},
    },
  );
}
