/**
 * What the Kubernetes API (or the way to it) says, turned into one-line errors that name the fix:
 * a CRD the cluster lacks, a namespace that is missing, a verb RBAC forbids, credentials that
 * expired or were refused, a server that is down or presents a certificate the kubeconfig does not
 * trust. Exit codes (README, "Exit codes"): 2 when the kubeconfig is what needs fixing (context,
 * credentials, CA), 1 when the cluster refused or could not be reached.
 */
import { X509Certificate } from 'node:crypto';
import type * as K8s from '@kubernetes/client-node';
import { PlatformError } from '../../core/errors.ts';

/** How to install the CRDs of an API group platformctl uses. */
const CRD_FIXES: [RegExp, string][] = [
  [
    /^gateway\.networking\.k8s\.io$/,
    'install the Gateway API CRDs (standard channel): kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/latest/download/standard-install.yaml',
  ],
  [
    /\.istio\.io$/,
    "install Istio's CRDs (istioctl install, or helm install istio-base istio/base -n istio-system), or set mesh: gateway-api for this environment",
  ],
  [
    /^chaos-mesh\.org$/,
    'install Chaos Mesh: helm install chaos-mesh chaos-mesh/chaos-mesh -n chaos-mesh --create-namespace',
  ],
  [
    /^external-secrets\.io$/,
    'install External Secrets Operator: helm install external-secrets external-secrets/external-secrets -n external-secrets --create-namespace',
  ],
  [
    /^argoproj\.io$/,
    'install Argo CD: kubectl create namespace argocd && kubectl apply -n argocd --server-side -f https://raw.githubusercontent.com/argoproj/argo-cd/stable/manifests/install.yaml',
  ],
  [/\.toolkit\.fluxcd\.io$/, 'install Flux: flux install'],
];

/** The cluster does not serve a kind platformctl needs: name the CRDs to install. */
export function missingKindError(apiVersion: string, kind: string): PlatformError {
  const group = apiVersion.includes('/') ? (apiVersion.split('/')[0] as string) : '';
  const fix = CRD_FIXES.find(([re]) => re.test(group))?.[1];
  return new PlatformError(
    'KUBE_CRD_MISSING',
    `the cluster does not serve ${kind} (${apiVersion}): its CustomResourceDefinition is not installed`,
    {
      hint: fix ?? `install the CRD that defines ${kind} in ${group || 'the core group'}`,
      details: { apiVersion, kind },
    },
  );
}

/** The namespace is missing and these credentials may not create it. */
export function missingNamespaceError(
  namespace: string,
  environment: string,
  cause?: unknown,
): PlatformError {
  return new PlatformError(
    'KUBE_NAMESPACE_MISSING',
    `namespace "${namespace}" does not exist and these credentials may not create it`,
    {
      hint: `ask a cluster admin to run \`kubectl create namespace ${namespace}\`, or set environments.${environment}.namespace to one that exists`,
      details: { namespace },
      cause,
    },
  );
}

function statusMessage(body: unknown): string | undefined {
  let b = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body);
    } catch {
      return body.slice(0, 200) || undefined;
    }
  }
  const message = (b as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}

/** The reason of a Status body (`NotFound`, `Conflict`, `Forbidden`, ...). */
export function statusReason(body: unknown): string | undefined {
  let b = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const reason = (b as { reason?: unknown } | undefined)?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

/** Why the API server refused credentials it could check locally: an expired token or certificate. */
function expiredCredentials(kc: K8s.KubeConfig): string | undefined {
  const user = kc.getCurrentUser();
  if (!user) return undefined;
  const token = user.token;
  if (token && token.split('.').length === 3) {
    try {
      const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as {
        exp?: number;
      };
      if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now())
        return `its token expired at ${new Date(claims.exp * 1000).toISOString()}`;
    } catch {
      // Not a JWT: nothing to read locally.
    }
  }
  const pem = user.certData ? Buffer.from(user.certData, 'base64') : undefined;
  if (pem) {
    try {
      const cert = new X509Certificate(pem);
      if (new Date(cert.validTo).getTime() < Date.now())
        return `its client certificate expired at ${new Date(cert.validTo).toISOString()}`;
    } catch {
      // Not a certificate we can parse: let the server's answer stand.
    }
  }
  return undefined;
}

export interface ErrorContext {
  kc: K8s.KubeConfig;
  environment: string;
  namespace: string;
}

/** One PlatformError for an HTTP error status of the API. */
export function apiStatusError(
  what: string,
  status: number,
  body: unknown,
  ctx: ErrorContext,
  cause: unknown,
): PlatformError {
  const message = statusMessage(body);
  const user = ctx.kc.getCurrentUser()?.name ?? 'current';
  const context = ctx.kc.getCurrentContext();
  if (status === 401) {
    const expired = expiredCredentials(ctx.kc);
    return new PlatformError(
      expired ? 'KUBE_CREDENTIALS_EXPIRED' : 'KUBE_UNAUTHORIZED',
      expired
        ? `the Kubernetes API refused to ${what}: the credentials of user "${user}" expired (${expired})`
        : `the Kubernetes API refused to ${what}: it did not accept the credentials of user "${user}" (401 Unauthorized)`,
      {
        hint: expired
          ? `get fresh credentials for context "${context}" (log in to the cluster again, e.g. aws eks update-kubeconfig, or kubectl create token <serviceaccount>)`
          : `the token or certificate of context "${context}" is wrong, revoked or for another cluster: fetch a fresh kubeconfig`,
        details: { status },
        cause,
      },
    );
  }
  if (status === 403) {
    const m = /User "([^"]+)" cannot (\w+) resource "([^"]+)"(?: in API group "([^"]*)")?/.exec(
      message ?? '',
    );
    const [, who, verb, resource, group] = m ?? [];
    return new PlatformError(
      'KUBE_FORBIDDEN',
      `the Kubernetes API refused to ${what}: ${message ?? '403 Forbidden'}`,
      {
        hint: m
          ? `grant ${who} the "${verb}" verb on ${resource}${group ? `.${group}` : ''} in namespace ${ctx.namespace} (a Role + RoleBinding); check with kubectl auth can-i ${verb} ${resource}${group ? `.${group}` : ''} -n ${ctx.namespace} --as ${who}`
          : `check the RBAC of context "${context}": kubectl auth can-i --list -n ${ctx.namespace}`,
        details: { status, ...(m ? { user: who, verb, resource, group } : {}) },
        cause,
      },
    );
  }
  if (status === 404 && /namespaces "[^"]+" not found/.test(message ?? '')) {
    return new PlatformError('KUBE_NAMESPACE_MISSING', `the Kubernetes API refused to ${what}: ${message}`, {
      hint: `create it (kubectl create namespace ${ctx.namespace}) or set environments.${ctx.environment}.namespace`,
      details: { status, namespace: ctx.namespace },
      cause,
    });
  }
  if (/field not declared in schema|unknown field/.test(message ?? '')) {
    return new PlatformError('KUBE_SCHEMA_MISMATCH', `the Kubernetes API refused to ${what}: ${message}`, {
      hint: 'the schema the cluster serves lacks that field: upgrade the CRD (or the cluster) to the version platformctl targets, see docs/guides/kubernetes-gitops.md',
      details: { status },
      cause,
    });
  }
  return new PlatformError(
    'KUBE_API_ERROR',
    `the Kubernetes API refused to ${what}: ${status}${message ? ` ${message}` : ''}`,
    {
      hint:
        status === 422 || status === 400
          ? 'the object does not match the schema the cluster serves: is the CRD an older version than platformctl expects?'
          : `see \`kubectl -n ${ctx.namespace} get events\``,
      details: { status },
      cause,
    },
  );
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_SIGNATURE_FAILURE',
]);

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** The innermost message of a cause chain: fetch wraps the reason in a bare "fetch failed". */
function rootMessage(err: unknown): string {
  let message = (err as Error).message;
  for (
    let e = (err as { cause?: unknown }).cause, i = 0;
    e && i < 5;
    e = (e as { cause?: unknown }).cause, i++
  )
    if ((e as Error).message) message = (e as Error).message;
  return message;
}

/** The API could not be reached, or its certificate is not the one the kubeconfig trusts. */
export function connectionError(what: string, err: unknown, ctx: ErrorContext): PlatformError {
  const server = ctx.kc.getCurrentCluster()?.server ?? 'the API server';
  const code = errorCode(err);
  const context = ctx.kc.getCurrentContext();
  if (code && TLS_CODES.has(code)) {
    return new PlatformError(
      'KUBE_TLS',
      `cannot ${what}: ${server} presented a certificate the kubeconfig does not trust (${code})`,
      {
        hint: `the kubeconfig's certificate-authority is for another cluster or the cluster's CA changed: fetch a fresh kubeconfig for context "${context}"`,
        details: { server, code },
        cause: err,
      },
    );
  }
  const why = code === 'ECONNREFUSED' ? 'connection refused' : (code ?? rootMessage(err));
  return new PlatformError(
    'KUBE_UNREACHABLE',
    `cannot reach the Kubernetes API at ${server} to ${what}: ${why}`,
    {
      hint: `is the cluster up? check the server of context "${context}" in KUBECONFIG (kubectl --context ${context} get ns)`,
      details: { server, ...(code ? { code } : {}) },
      cause: err,
    },
  );
}
