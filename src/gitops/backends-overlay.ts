/**
 * What an environment's overlay adds to a service for the cloud it runs on: a `<service>-backends`
 * ConfigMap with the managed backends' URLs (from the stacks' outputs, data/managed-backends.ts),
 * the `<service>-secrets` Secret its ExternalSecret fills (passwords), both as `envFrom`, and the
 * workload identity annotations that let the pod's service account assume the identity Terraform
 * trusts it with (IRSA role, Azure managed identity, Google service account).
 */
import type { PlatformConfig } from '../core/config/schema.ts';
import { backendWiring, serviceBackendConfig } from '../data/managed-backends.ts';
import { backendsConfigName, type KubeObject } from '../providers/kubernetes/manifests.ts';
import { STACK_OUTPUTS, type StackOutputs } from '../stacks/outputs.ts';

/** The annotation (and, on Azure, pod label) a service account needs per cloud. */
export const IDENTITY_ANNOTATION = {
  aws: 'eks.amazonaws.com/role-arn',
  gcp: 'iam.gke.io/gcp-service-account',
  azure: 'azure.workload.identity/client-id',
} as const;
/** AKS's webhook injects the federated token only into pods carrying this label. */
export const AZURE_USE_LABEL = 'azure.workload.identity/use';

export interface BackendsOverlay {
  /** The ConfigMap (undefined for a local environment). */
  configMap?: KubeObject;
  /** Kustomize JSON 6902 patches for the overlay. */
  patches: { target: { kind: string; name: string }; patch: string }[];
  /** Outputs the overlay needed and did not get. */
  missing: string[];
}

/** `/` in a JSON pointer segment is `~1` (RFC 6901). */
const pointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

function jsonPatch(ops: Record<string, unknown>[]): string {
  return ops
    .map((op) => [`- op: ${op.op}`, `  path: ${op.path}`, `  value: ${JSON.stringify(op.value)}`].join('\n'))
    .join('\n');
}

export function backendsOverlay(
  config: PlatformConfig,
  env: string,
  service: string,
  outputs: StackOutputs,
): BackendsOverlay {
  const spec = config.environments[env];
  if (!spec || !backendWiring(config, env)) return { patches: [], missing: [] };
  const { data, missing, needsSecrets } = serviceBackendConfig(config, env, service, outputs);
  const name = backendsConfigName(service);
  const configMap: KubeObject = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, labels: { 'app.kubernetes.io/name': service } },
    data,
  };
  // A service whose backends need a password waits for its ExternalSecret; the others start without one.
  const envFrom = [
    { configMapRef: { name } },
    { secretRef: { name: `${service}-secrets`, optional: !needsSecrets } },
  ];
  const deploymentOps: Record<string, unknown>[] = [
    { op: 'add', path: '/spec/template/spec/containers/0/envFrom', value: envFrom },
  ];
  const identity = outputs[STACK_OUTPUTS.workloadIdentity];
  if (identity === undefined) missing.push(STACK_OUTPUTS.workloadIdentity);
  const patches: BackendsOverlay['patches'] = [];
  if (identity !== undefined) {
    patches.push({
      target: { kind: 'ServiceAccount', name: service },
      patch: jsonPatch([
        {
          op: 'add',
          path: `/metadata/annotations/${pointer(IDENTITY_ANNOTATION[spec.cloud])}`,
          value: identity,
        },
      ]),
    });
    if (spec.cloud === 'azure')
      deploymentOps.push({
        op: 'add',
        path: `/spec/template/metadata/labels/${pointer(AZURE_USE_LABEL)}`,
        value: 'true',
      });
  }
  patches.unshift({ target: { kind: 'Deployment', name: service }, patch: jsonPatch(deploymentOps) });
  return { configMap, patches, missing };
}
