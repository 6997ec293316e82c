/**
 * Renders an experiment's method as a Chaos Mesh `Workflow` (chaos-mesh.org/v1alpha1): a Serial
 * template whose children are the faults, in order, each with a deadline, and Suspend steps for
 * pauses. Probes, workload and data checks stay with `platformctl chaos run`, which drives them
 * against the cluster through the same experiment file.
 */
import type { Action, Experiment } from './experiment.ts';

interface RenderOptions {
  namespace: string;
  /** Service name -> container port, for HTTP faults. */
  ports: Record<string, number>;
}

function seconds(ms: number): string {
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}

function selector(namespace: string, service: string) {
  return { namespaces: [namespace], labelSelectors: { 'app.kubernetes.io/name': service } };
}

const DEFAULT_FAULT_MS = 60_000;

function template(
  action: Exclude<Action, { action: 'pause' }>,
  name: string,
  opts: RenderOptions,
): Record<string, unknown> {
  const deadline = seconds(action.duration ?? DEFAULT_FAULT_MS);
  const mode = 'target' in action && action.target?.instance === 'all' ? 'all' : 'one';
  switch (action.action) {
    case 'kill-instance':
      return action.every
        ? {
            name,
            templateType: 'Schedule',
            deadline,
            schedule: {
              schedule: `@every ${seconds(action.every)}`,
              type: 'PodChaos',
              concurrencyPolicy: 'Forbid',
              historyLimit: 5,
              podChaos: {
                action: 'pod-kill',
                mode,
                selector: selector(opts.namespace, action.target.service),
              },
            },
          }
        : {
            name,
            templateType: 'PodChaos',
            deadline,
            podChaos: { action: 'pod-kill', mode, selector: selector(opts.namespace, action.target.service) },
          };
    case 'stop-service':
      return {
        name,
        templateType: 'PodChaos',
        deadline,
        podChaos: {
          action: 'pod-failure',
          mode: 'all',
          selector: selector(opts.namespace, action.target.service),
        },
      };
    case 'inject-latency':
    case 'inject-errors':
      return {
        name,
        templateType: 'HTTPChaos',
        deadline,
        httpChaos: {
          mode,
          selector: selector(opts.namespace, action.target.service),
          target: 'Request',
          port: opts.ports[action.target.service] ?? 8080,
          ...(action.route ? { path: `${action.route}*` } : {}),
          ...(action.action === 'inject-latency'
            ? { delay: `${action.delay}ms` }
            : { replace: { code: action.status } }),
        },
      };
    case 'partition':
      return {
        name,
        templateType: 'NetworkChaos',
        deadline,
        networkChaos: {
          action: 'partition',
          mode: 'all',
          direction: 'both',
          selector: selector(opts.namespace, action.target?.service ?? 'gateway'),
          target: {
            mode: 'all',
            selector: selector(
              opts.namespace,
              action.dependency === 'bus'
                ? 'rabbitmq'
                : action.dependency === 'db'
                  ? 'postgresql'
                  : action.dependency,
            ),
          },
        },
      };
    case 'cpu-stress':
      return {
        name,
        templateType: 'StressChaos',
        deadline,
        stressChaos: {
          mode,
          selector: selector(opts.namespace, action.target.service),
          stressors: { cpu: { workers: action.workers, load: 100 } },
        },
      };
    case 'fill-disk':
      // In a pod, "disk full" is ENOSPC on the data volume: IOChaos returns errno 28 for writes.
      return {
        name,
        templateType: 'IOChaos',
        deadline,
        ioChaos: {
          action: 'fault',
          mode,
          selector: selector(opts.namespace, action.target.service),
          volumePath: '/data',
          path: '/data/**',
          errno: 28,
          percent: 100,
          methods: ['WRITE'],
        },
      };
    case 'clock-skew':
      return {
        name,
        templateType: 'TimeChaos',
        deadline,
        timeChaos: {
          mode,
          selector: selector(opts.namespace, action.target.service),
          timeOffset: `${action.offset}ms`,
        },
      };
  }
}

export function renderChaosMesh(exp: Experiment, opts: RenderOptions): Record<string, unknown> {
  const slug = exp.title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 50);
  const steps = exp.method.map((action, i) =>
    action.action === 'pause'
      ? { name: `pause-${i + 1}`, templateType: 'Suspend', deadline: seconds(action.duration) }
      : template(action, `${i + 1}-${action.action}`, opts),
  );
  return {
    apiVersion: 'chaos-mesh.org/v1alpha1',
    kind: 'Workflow',
    metadata: {
      name: slug,
      namespace: opts.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'platformctl' },
    },
    spec: {
      entry: 'method',
      templates: [
        {
          name: 'method',
          templateType: 'Serial',
          deadline: seconds(exp.limits.maxDuration),
          children: steps.map((s) => s.name),
        },
        ...steps,
      ],
    },
  };
}
