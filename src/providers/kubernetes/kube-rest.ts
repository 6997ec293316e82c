/**
 * Raw requests to the Kubernetes API over the kubeconfig's connection, for what client-node's
 * typed clients get wrong: `KubernetesObjectApi.patch` serialises known kinds through its models,
 * silently dropping fields it does not know (exactly what strict field validation exists to
 * catch), and cannot ask for `fieldValidation=Strict`. Server-side apply goes through here, with
 * API discovery to find each kind's resource (and to say which CRDs a cluster lacks).
 */
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type * as K8s from '@kubernetes/client-node';

/** An API error with the HTTP status as `code` and the Status body, like client-node's ApiException. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly body: unknown;
  constructor(code: number, body: unknown) {
    const message = (body as { message?: unknown } | undefined)?.message;
    super(`HTTP ${code}${typeof message === 'string' ? `: ${message}` : ''}`);
    this.code = code;
    this.body = body;
  }
}

export interface ApiResource {
  /** The plural resource name used in paths, e.g. `httproutes`. */
  plural: string;
  namespaced: boolean;
}

export interface ApplyOptions {
  fieldManager: string;
  force: boolean;
}

/** The path of one object, e.g. `/apis/apps/v1/namespaces/shop/deployments/web-v1`. */
export function objectPath(
  apiVersion: string,
  resource: ApiResource,
  name: string,
  namespace: string | undefined,
): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = resource.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${resource.plural}/${encodeURIComponent(name)}`;
}

export class KubeRest {
  private readonly kc: K8s.KubeConfig;
  private readonly discovery = new Map<string, Promise<Map<string, ApiResource> | undefined>>();

  constructor(kc: K8s.KubeConfig) {
    this.kc = kc;
  }

  /** Sends one request; resolves to the parsed body of a 2xx answer, throws KubeApiError otherwise. */
  async send(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    const url = new URL(path, cluster.server);
    const opts: RequestOptions & { headers: Record<string, string> } = {
      method,
      headers: { accept: 'application/json' },
    };
    await this.kc.applyToHTTPSOptions(opts as never);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) {
      opts.headers['content-type'] = contentType ?? 'application/json';
      opts.headers['content-length'] = String(Buffer.byteLength(payload));
    }
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // A proxy's HTML error page: keep the text for the message.
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(parsed);
          else reject(new KubeApiError(status, parsed));
        });
      });
      req.on('error', reject);
      req.setTimeout(30_000, () => req.destroy(new Error(`no answer from ${url.origin} within 30s`)));
      req.end(payload);
    });
  }

  /**
   * The resource serving `kind` in `apiVersion`, from the API's discovery document (cached);
   * undefined when the cluster does not serve that group/version or kind (a missing CRD).
   */
  async resource(apiVersion: string, kind: string): Promise<ApiResource | undefined> {
    let resources = this.discovery.get(apiVersion);
    if (!resources) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
      resources = this.send('GET', path).then(
        (doc) => {
          const list = (doc as { resources?: { name: string; kind: string; namespaced: boolean }[] })
            .resources;
          return new Map(
            (list ?? [])
              .filter((r) => !r.name.includes('/'))
              .map((r) => [r.kind, { plural: r.name, namespaced: r.namespaced }]),
          );
        },
        (err: unknown) => {
          if (err instanceof KubeApiError && err.code === 404) return undefined;
          throw err;
        },
      );
      this.discovery.set(apiVersion, resources);
      // A failed discovery is asked again next time (the API may have been briefly unreachable).
      resources.catch(() => this.discovery.delete(apiVersion));
    }
    return (await resources)?.get(kind);
  }

  /** Server-side apply with strict field validation: an unknown or duplicate field is an error. */
  async apply(
    obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } },
    resource: ApiResource,
    opts: ApplyOptions,
  ): Promise<unknown> {
    const query = new URLSearchParams({ fieldManager: opts.fieldManager, fieldValidation: 'Strict' });
    if (opts.force) query.set('force', 'true');
    const path = objectPath(obj.apiVersion, resource, obj.metadata.name, obj.metadata.namespace);
    return this.send('PATCH', `${path}?${query}`, obj, 'application/apply-patch+yaml');
  }
}
