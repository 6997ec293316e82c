/**
 * `platformctl gitops render`: an environment's manifests as a GitOps directory that Argo CD (an
 * app-of-apps) or Flux (Kustomizations) syncs.
 *
 *   <out>/services/<service>/base/             the scaffold template's Kustomize base
 *   <out>/services/<service>/overlays/<env>/   namespace, image tag, env patches, the service links,
 *                                              the route(s), the gateway's routing ConfigMap, and on
 *                                              Kubernetes the managed backends' ConfigMap + identity
 *   <out>/mesh/<env>/                          Istio only: STRICT mTLS PeerAuthentication + DestinationRule
 *   <out>/argocd/<env>/root.yaml               the app-of-apps; apps/<service>.yaml one Application each
 *   <out>/flux/<env>/                          with --flux: a GitRepository and one Kustomization each
 *
 * The manifests come from the same scaffold templates `service new` renders (so a generated
 * service and its GitOps entry agree) and the traffic objects from the Kubernetes provider's
 * manifest builders. Re-rendering keeps the image tag each overlay already pins: promotions live in
 * Git, and a render never undoes one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { LoadedPlatform } from '../core/config/load.ts';
import type { ServiceSpec } from '../core/config/schema.ts';
import { serviceEnv } from '../core/config/service-env.ts';
import { PlatformError } from '../core/errors.ts';
import {
  type KubeObject,
  type KubeTarget,
  namespaceObjects,
  routed,
  targetOf,
  trafficObjects,
  WEIGHTS_ANNOTATION,
} from '../providers/kubernetes/manifests.ts';
import { loadTemplate, renderTemplate } from '../scaffold/template.ts';
import type { StackOutputs } from '../stacks/outputs.ts';
import { backendsOverlay } from './backends-overlay.ts';
import { envVarsPatch, type KustomizePatch } from './deployment-patch.ts';
import { gatewayRoutesOverlay } from './gateway-routes-overlay.ts';
import { linksPatch } from './links-overlay.ts';
import { networkPolicy } from './network-policy.ts';

export interface GitopsRenderOptions {
  environment: string;
  /** Absolute directory the files are written to (only used to read tags already pinned there). */
  outDir: string;
  /** The directory's path inside the Git repository, e.g. `gitops` (Argo/Flux source paths). */
  repoPath: string;
  repoUrl: string;
  revision: string;
  flux?: boolean;
  /**
   * The environment's primary-region stack outputs (`terraform output -json`, stacks/outputs.ts):
   * database, broker and bucket endpoints, the workload identity. Left out, the overlays lack them
   * and `warnings` says which; the services then refuse to start rather than run embedded.
   */
  terraformOutputs?: StackOutputs;
}

export interface GitopsRender {
  /** Path relative to the output directory -> file content. */
  files: Map<string, string>;
  /** The image tag each service's overlay pins. */
  tags: Record<string, string>;
  /** Problems the manifests will show at run time (missing Terraform outputs). */
  warnings: string[];
}

const ARGO_NAMESPACE = 'argocd';
const FLUX_NAMESPACE = 'flux-system';

export function overlayPath(service: string, environment: string): string {
  return `services/${service}/overlays/${environment}/kustomization.yaml`;
}

type Kustomization = {
  namespace?: string;
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  patches?: unknown[];
} & Record<string, unknown>;

/** The tag an overlay pins (the first `images` entry), if the file exists. */
export function pinnedTag(text: string): string | undefined {
  const k = parse(text) as Kustomization | null;
  return k?.images?.[0]?.newTag;
}

/** Sets the tag of the first `images` entry, keeping the rest of the file's text and comments. */
export function setPinnedTag(text: string, tag: string): string {
  const lines = text.split('\n');
  let inImages = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^images:\s*$/.test(line)) inImages = true;
    else if (inImages && /^\S/.test(line)) break;
    else if (inImages && /^\s+newTag:/.test(line)) {
      // The same scalar style `render` writes, so a later render shows no diff.
      lines[i] = line.replace(/newTag:.*$/, `newTag: ${stringify(tag).trim()}`);
      return lines.join('\n');
    }
  }
  throw new PlatformError('GITOPS_NO_IMAGE', 'the overlay has no images[].newTag to bump', {
    hint: 'render it again with `platformctl gitops render`',
  });
}

function yamlDocs(objects: unknown[]): string {
  return objects.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

function templateFiles(platform: LoadedPlatform, target: KubeTarget, name: string, spec: ServiceSpec) {
  const template = loadTemplate('node-http');
  const files = renderTemplate(
    template,
    {
      name,
      port: spec.port,
      platform: platform.config.name,
      image: `${target.registry}/${name}`,
    },
    'k8s/',
  );
  return new Map([...files].map(([p, t]) => [p.slice('k8s/'.length), t]));
}

function overlay(
  k8s: Map<string, string>,
  environment: string,
  target: KubeTarget,
  spec: ServiceSpec,
  tag: string,
  backends: ReturnType<typeof backendsOverlay>,
  extra: (KustomizePatch | undefined)[],
): Kustomization {
  const own = k8s.get(`overlays/${environment}/kustomization.yaml`);
  const k = parse(own ?? (k8s.get('overlays/staging/kustomization.yaml') as string)) as Kustomization;
  k.namespace = target.namespace;
  k.resources = [
    '../../base',
    ...(routed(spec) ? ['route.yaml'] : []),
    ...(backends.configMap ? ['backends.yaml'] : []),
    ...(spec.kind === 'gateway' ? ['gateway-routes.yaml'] : []),
  ];
  k.labels = [
    {
      pairs: { 'platformctl.dev/environment': environment },
      includeSelectors: false,
      includeTemplates: true,
    },
  ];
  const image = k.images?.[0];
  if (image) image.newTag = tag;
  if (!own) {
    // An environment the template has no overlay for: the staging patches with platform.yaml's replicas.
    k.patches = (k.patches ?? []).map((p) => {
      const patch = p as { target?: { kind?: string }; patch?: string };
      if (patch.target?.kind === 'Deployment' && typeof patch.patch === 'string')
        return {
          ...patch,
          patch: patch.patch.replace(/(path: \/spec\/replicas\n\s+value:) \d+/, `$1 ${spec.replicas}`),
        };
      return patch;
    });
  }
  k.patches = [...(k.patches ?? []), ...backends.patches, ...extra.filter((p) => p !== undefined)];
  return k;
}

function routesFor(target: KubeTarget, name: string, spec: ServiceSpec): KubeObject[] {
  // GitOps runs one version per service behind its stable Service; canaries are the provider's job.
  return trafficObjects(target, name, spec, { weights: { stable: 100 } }, (s) => s).map((obj) => {
    delete obj.metadata.annotations?.[WEIGHTS_ANNOTATION];
    delete obj.metadata.annotations;
    delete obj.metadata.namespace;
    return obj;
  });
}

function argoApplication(
  name: string,
  path: string,
  namespace: string,
  opts: GitopsRenderOptions,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name,
      namespace: ARGO_NAMESPACE,
      finalizers: ['resources-finalizer.argocd.argoproj.io'],
      labels: {
        'app.kubernetes.io/managed-by': 'platformctl',
        'platformctl.dev/environment': opts.environment,
      },
    },
    spec: {
      project: 'default',
      source: { repoURL: opts.repoUrl, targetRevision: opts.revision, path, ...extra },
      destination: { server: 'https://kubernetes.default.svc', namespace },
      syncPolicy: {
        automated: { prune: true, selfHeal: true },
        syncOptions: ['CreateNamespace=true', 'ServerSideApply=true'],
        retry: { limit: 5, backoff: { duration: '10s', factor: 2, maxDuration: '3m' } },
      },
    },
  };
}

function fluxKustomization(
  name: string,
  path: string,
  target: KubeTarget,
  platform: string,
): Record<string, unknown> {
  return {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: FLUX_NAMESPACE },
    spec: {
      interval: '5m',
      path: `./${path}`,
      prune: true,
      wait: true,
      timeout: '5m',
      targetNamespace: target.namespace,
      sourceRef: { kind: 'GitRepository', name: platform },
    },
  };
}

export function renderGitops(platform: LoadedPlatform, opts: GitopsRenderOptions): GitopsRender {
  const { config } = platform;
  const env = config.environments[opts.environment];
  if (!env) {
    throw new PlatformError('UNKNOWN_ENVIRONMENT', `no environment "${opts.environment}" in platform.yaml`, {
      hint: `use one of: ${Object.keys(config.environments).join(', ')}`,
    });
  }
  const target = targetOf(config, opts.environment);
  const files = new Map<string, string>();
  const tags: Record<string, string> = {};
  const missing = new Set<string>();
  const repo = (p: string) => [opts.repoPath, p].filter(Boolean).join('/').replace(/^\.\//, '');
  const appNames: string[] = [];
  const envName = opts.environment;

  for (const [name, spec] of Object.entries(config.services)) {
    const k8s = templateFiles(platform, target, name, spec);
    for (const [path, text] of k8s) if (path.startsWith('base/')) files.set(`services/${name}/${path}`, text);
    files.set(
      `services/${name}/base/networkpolicy.yaml`,
      `# Computed from the call graph in platform.yaml (gitops render); see docs/guides/kubernetes-gitops.md.\n${yamlDocs([networkPolicy(config, target, envName, name, spec)])}`,
    );
    const existing = join(opts.outDir, overlayPath(name, envName));
    const tag = (existsSync(existing) && pinnedTag(readFileSync(existing, 'utf8'))) || 'latest';
    tags[name] = tag;
    const backends = backendsOverlay(config, envName, name, opts.terraformOutputs ?? {});
    for (const m of backends.missing) missing.add(m);
    if (backends.configMap)
      files.set(`services/${name}/overlays/${envName}/backends.yaml`, yamlDocs([backends.configMap]));
    const routing = spec.kind === 'gateway' ? gatewayRoutesOverlay(config, target, name) : undefined;
    if (routing)
      files.set(`services/${name}/overlays/${envName}/gateway-routes.yaml`, yamlDocs([routing.configMap]));
    files.set(
      overlayPath(name, envName),
      `# Rendered by platformctl gitops render; \`gitops promote\` bumps images[0].newTag.\n${stringify(overlay(k8s, envName, target, spec, tag, backends, [envVarsPatch(name, serviceEnv(spec)), linksPatch(config, target, name), routing?.patch]), { lineWidth: 0 })}`,
    );
    if (routed(spec))
      files.set(`services/${name}/overlays/${envName}/route.yaml`, yamlDocs(routesFor(target, name, spec)));
    appNames.push(name);
  }

  const mesh = namespaceObjects(target).map((o) => {
    const { namespace: _ns, ...metadata } = o.metadata;
    return { ...o, metadata };
  });
  if (mesh.length) {
    files.set(`mesh/${envName}/mesh.yaml`, yamlDocs(mesh));
    files.set(
      `mesh/${envName}/kustomization.yaml`,
      stringify({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        namespace: target.namespace,
        resources: ['mesh.yaml'],
      }),
    );
  }

  const prefix = `${config.name}-${envName}`;
  if (opts.flux) {
    const docs: string[] = [];
    files.set(
      `flux/${envName}/source.yaml`,
      yamlDocs([
        {
          apiVersion: 'source.toolkit.fluxcd.io/v1',
          kind: 'GitRepository',
          metadata: { name: config.name, namespace: FLUX_NAMESPACE },
          spec: { interval: '1m', url: opts.repoUrl, ref: { branch: opts.revision } },
        },
      ]),
    );
    docs.push('source.yaml');
    for (const name of appNames) {
      files.set(
        `flux/${envName}/${name}.yaml`,
        yamlDocs([
          fluxKustomization(
            `${prefix}-${name}`,
            repo(`services/${name}/overlays/${envName}`),
            target,
            config.name,
          ),
        ]),
      );
      docs.push(`${name}.yaml`);
    }
    if (mesh.length) {
      files.set(
        `flux/${envName}/mesh.yaml`,
        yamlDocs([fluxKustomization(`${prefix}-mesh`, repo(`mesh/${envName}`), target, config.name)]),
      );
      docs.push('mesh.yaml');
    }
    files.set(
      `flux/${envName}/kustomization.yaml`,
      stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: docs }),
    );
  } else {
    for (const name of appNames) {
      files.set(
        `argocd/${envName}/apps/${name}.yaml`,
        yamlDocs([
          argoApplication(
            `${prefix}-${name}`,
            repo(`services/${name}/overlays/${envName}`),
            target.namespace,
            opts,
          ),
        ]),
      );
    }
    if (mesh.length) {
      files.set(
        `argocd/${envName}/apps/mesh.yaml`,
        yamlDocs([argoApplication(`${prefix}-mesh`, repo(`mesh/${envName}`), target.namespace, opts)]),
      );
    }
    // The app-of-apps: Argo CD syncs the Application manifests above from Git.
    files.set(
      `argocd/${envName}/root.yaml`,
      yamlDocs([
        argoApplication(prefix, repo(`argocd/${envName}/apps`), ARGO_NAMESPACE, opts, {
          directory: { recurse: false },
        }),
      ]),
    );
  }
  const warnings = missing.size
    ? [
        `no Terraform output ${[...missing].sort().join(', ')} for ${envName}: the services that need them will refuse to start; pass --terraform-outputs with \`terraform output -json\` of the ${envName} core and data stacks`,
      ]
    : [];
  return { files, tags, warnings };
}
