/**
 * One connection to a cluster for the kubernetes provider: the clients (made once, from the
 * kubeconfig and the environment's context), every call's error handling (429 retried, refusals
 * and connection failures turned into errors that name the fix) and server-side apply with strict
 * field validation and field-manager conflicts resolved as platformctl's policy says.
 */
import type * as K8s from '@kubernetes/client-node';
import { PlatformError } from '../../core/errors.ts';
import { sleep } from '../../core/sleep.ts';
import type { ProviderEvent } from '../provider.ts';
import { apiStatusError, connectionError, missingKindError, statusReason } from './kube-errors.ts';
import { KubeApiError, KubeRest, objectPath } from './kube-rest.ts';
import { FIELD_MANAGER, type KubeObject } from './manifests.ts';

type ClientNode = typeof K8s;

/** The client-node API clients and the raw client, over one kubeconfig. */
export interface Clients {
  k8s: ClientNode;
  kc: K8s.KubeConfig;
  objects: K8s.KubernetesObjectApi;
  apps: K8s.AppsV1Api;
  core: K8s.CoreV1Api;
  custom: K8s.CustomObjectsApi;
  rest: KubeRest;
}

/** How often one API call is tried while the server answers 429 Too Many Requests. */
const MAX_429_TRIES = 6;

/** Whether an API error is a 404. */
export function isNotFound(err: unknown): boolean {
  return (err as { code?: number })?.code === 404;
}

export interface SessionOptions {
  /** A kubeconfig file; default: KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string | undefined;
  /** The context to use (environments.<env>.kubeContext); default: the kubeconfig's current one. */
  context?: string | undefined;
  /** For messages: the environment of platform.yaml and its namespace. */
  environment: string;
  namespace: string;
}

/** One cluster connection: clients, error handling, server-side apply. */
export class KubeSession {
  private readonly kubeconfig: string | undefined;
  private readonly context: string | undefined;
  private readonly environment: string;
  readonly namespace: string;
  private clientsPromise: Promise<Clients> | undefined;

  constructor(opts: SessionOptions) {
    this.kubeconfig = opts.kubeconfig;
    this.context = opts.context;
    this.environment = opts.environment;
    this.namespace = opts.namespace;
  }

  /** The clients, made once (client-node is imported only by commands that reach a cluster). */
  clients(): Promise<Clients> {
    this.clientsPromise ??= (async () => {
      const k8s = await import('@kubernetes/client-node');
      const kc = new k8s.KubeConfig();
      if (this.kubeconfig) kc.loadFromFile(this.kubeconfig);
      else kc.loadFromDefault();
      const context = this.context;
      if (context) {
        if (!kc.getContextObject(context)) {
          throw new PlatformError('KUBE_CONTEXT_UNKNOWN', `no kube context "${context}" in the kubeconfig`, {
            hint: `contexts: ${
              kc
                .getContexts()
                .map((c) => c.name)
                .join(', ') || 'none'
            }; set environments.${this.environment}.kubeContext or KUBECONFIG`,
          });
        }
        kc.setCurrentContext(context);
      }
      return {
        k8s,
        kc,
        objects: k8s.KubernetesObjectApi.makeApiClient(kc),
        apps: kc.makeApiClient(k8s.AppsV1Api),
        core: kc.makeApiClient(k8s.CoreV1Api),
        custom: kc.makeApiClient(k8s.CustomObjectsApi),
        rest: new KubeRest(kc),
      };
    })();
    return this.clientsPromise;
  }

  /**
   * Runs an API call; API refusals and connection failures become one clear error each. A 429
   * (the API server's "storage is (re)initializing", priority and fairness) is retried after the
   * delay the server asks for, a few times, as kubectl does.
   */
  async call<T>(what: string, fn: (c: Clients) => Promise<T>): Promise<T> {
    const c = await this.clients();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(c);
      } catch (err) {
        if (err instanceof PlatformError) throw err;
        const ctx = { kc: c.kc, environment: this.environment, namespace: this.namespace };
        const status = (err as { code?: unknown }).code;
        const body = (err as { body?: unknown }).body;
        if (status === 429 && attempt < MAX_429_TRIES) {
          await sleep(Math.min(retryAfterSeconds(body), 5) * 1000);
          continue;
        }
        if (typeof status === 'number') throw apiStatusError(what, status, body, ctx, err);
        throw connectionError(what, err, ctx);
      }
    }
  }

  /**
   * Server-side apply of one object with strict field validation. Without forcing first: when
   * another field manager owns a field platformctl sets, the Deployment's replicas are left to it
   * (an HPA scales that Deployment) and any other field is taken over with a note saying from whom.
   */
  async apply(obj: KubeObject, onEvent?: (e: ProviderEvent) => void): Promise<void> {
    await this.call(`apply ${obj.kind} ${obj.metadata.name}`, async (c) => {
      const resource = await c.rest.resource(obj.apiVersion, obj.kind);
      if (!resource) throw missingKindError(obj.apiVersion, obj.kind);
      try {
        await c.rest.apply(obj, resource, { fieldManager: FIELD_MANAGER, force: false });
        return;
      } catch (err) {
        if (!(err instanceof KubeApiError) || err.code !== 409 || statusReason(err.body) !== 'Conflict')
          throw err;
        const conflicts = fieldConflicts(err.body);
        let body = obj;
        const replicas = conflicts.find((f) => f.field === '.spec.replicas');
        if (obj.kind === 'Deployment' && replicas) {
          const { replicas: _theirs, ...spec } = obj.spec as Record<string, unknown>;
          body = { ...obj, spec };
          onEvent?.({
            type: 'info',
            message: `left spec.replicas of Deployment ${obj.metadata.name} to ${replicas.manager} (it scales this Deployment)`,
          });
        }
        const leftToThem = body === obj ? undefined : '.spec.replicas';
        const taken = conflicts.filter((f) => f.field !== leftToThem);
        await c.rest.apply(body, resource, { fieldManager: FIELD_MANAGER, force: taken.length > 0 });
        for (const f of taken)
          onEvent?.({
            type: 'info',
            message: `overrode ${f.field} of ${obj.kind} ${obj.metadata.name}, which ${f.manager} had set`,
          });
      }
    });
  }

  /** Deletes one object; one that is gone, or whose kind the cluster does not serve, is fine. */
  async deleteObject(apiVersion: string, kind: string, name: string): Promise<void> {
    await this.call(`delete ${kind} ${name}`, async (c) => {
      const resource = await c.rest.resource(apiVersion, kind);
      if (!resource) return;
      try {
        await c.rest.send('DELETE', objectPath(apiVersion, resource, name, this.namespace));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    });
  }
}

/** The delay a 429 Status asks for (details.retryAfterSeconds), 1 s when it names none. */
function retryAfterSeconds(body: unknown): number {
  let b = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body);
    } catch {
      return 1;
    }
  }
  const s = (b as { details?: { retryAfterSeconds?: unknown } } | undefined)?.details?.retryAfterSeconds;
  return typeof s === 'number' && s > 0 ? s : 1;
}

/** The fields and managers of a server-side apply conflict (a 409 Status's causes). */
function fieldConflicts(body: unknown): { field: string; manager: string }[] {
  const causes = (body as { details?: { causes?: { field?: string; message?: string }[] } } | undefined)
    ?.details?.causes;
  return (causes ?? []).map((cause) => ({
    field: cause.field ?? '?',
    manager: /conflict with "([^"]+)"/.exec(cause.message ?? '')?.[1] ?? 'another manager',
  }));
}
