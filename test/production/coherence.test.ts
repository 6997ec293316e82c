/**
 * One platform.yaml, one production: for each cloud, Terraform (`synth`), the GitOps manifests
 * (`gitops render --terraform-outputs`, built with the real kustomize) and the ExternalSecrets
 * (`secrets render-external`) are rendered from the same file and every reference between them is
 * cross-checked: namespaces, service accounts and the subjects the cloud trusts, the identity
 * annotations against the identity that carries that trust, secret names, the secret store, the
 * cluster, and the database / broker / bucket each service is configured with against the stacks'
 * outputs. Each check returns its problems, and a sub-test mutates one side to show it fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AZURE_USE_LABEL, IDENTITY_ANNOTATION } from '../../src/gitops/backends-overlay.ts';
import { workspace } from '../helpers/cli.ts';
import { kustomize } from '../helpers/kustomize.ts';
import {
  type KubeDoc,
  type ProductionRender,
  renderProduction,
  type TfDoc,
} from '../helpers/production-render.ts';

const PLATFORM = `name: acme
owner: ops
environments:
  staging: { cloud: aws, region: eu-west-1, provider: kubernetes, namespace: shop }
  qa: { cloud: gcp, region: europe-west1, provider: kubernetes }
  preprod: { cloud: azure, region: westeurope, provider: kubernetes }
services:
  gateway: { path: builtin:gateway, port: 8080, kind: gateway, dependsOn: [auth] }
  auth: { path: builtin:auth, port: 8081, routes: [/auth] }
  content: { path: builtin:content, port: 8082, routes: [/content], dependsOn: [auth] }
  analytics: { path: builtin:analytics, port: 8083, routes: [/analytics] }
`;
const CLOUDS = [
  { env: 'staging', cloud: 'aws', namespace: 'shop' },
  { env: 'qa', cloud: 'gcp', namespace: 'acme-qa' },
  { env: 'preprod', cloud: 'azure', namespace: 'acme-preprod' },
] as const;
/** What each built-in service opens (runtime/*: createService's db / bus / blobs). */
const USES: Record<string, ('database' | 'bus' | 'blobs')[]> = {
  gateway: [],
  auth: ['database'],
  content: ['database', 'bus', 'blobs'],
  analytics: ['database', 'bus'],
};
/** Whether Terraform's outputs (`terraform`) or a secret you set (`secret`) give the URL. */
const WIRING = {
  aws: { database: 'terraform', bus: 'terraform', blobs: 'terraform' },
  gcp: { database: 'terraform', bus: 'secret', blobs: 'terraform' },
  azure: { database: 'secret', bus: 'secret', blobs: 'secret' },
} as const;
const URL_VAR = { database: 'DATABASE_URL', bus: 'BUS_URL', blobs: 'BLOBS_URL' } as const;

const tool = kustomize();
if (!tool)
  console.warn('skipped: coherence of the rendered production needs kustomize (Go to build it, or kubectl)');

// ---------------------------------------------------------------------------------------------
// Reading the artefacts

const all = (d: TfDoc, type: string) => Object.values(d.resource?.[type] ?? {});
const objects = (r: ProductionRender): KubeDoc[] => Object.values(r.manifests).flat();
const ofKind = (docs: KubeDoc[], kind: string) => docs.filter((d) => d.kind === kind);

/** A Terraform reference as the synthesized JSON spells it: `${type.name.attr}`. */
const interpolation = (ref: string) => `\${${ref}}`;

/** The service account the SecretStore signs in as (wherever its provider keeps the reference). */
function storeAccount(r: ProductionRender): string | undefined {
  const find = (o: unknown): string | undefined => {
    if (typeof o !== 'object' || o === null) return undefined;
    const ref = (o as { serviceAccountRef?: { name?: string } }).serviceAccountRef;
    if (ref?.name) return ref.name;
    for (const v of Object.values(o)) {
      const hit = find(v);
      if (hit) return hit;
    }
    return undefined;
  };
  const store = ofKind(r.externalSecrets, 'SecretStore')[0];
  return store ? `${store.metadata.namespace}:${find(store.spec)}` : undefined;
}

/** Every ServiceAccount rendered: the services' (manifests) and the store's (ExternalSecrets). */
const accounts = (r: ProductionRender) => ofKind([...objects(r), ...r.externalSecrets], 'ServiceAccount');

/** `${type.name.attr}` -> the resource it names (and the attribute). */
function referenced(d: TfDoc, expression: string | undefined) {
  const m = /^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.(.+)\}$/.exec(expression ?? '');
  if (!m) return undefined;
  const args = d.resource?.[m[1] as string]?.[m[2] as string];
  return args ? { type: m[1] as string, name: m[2] as string, attr: m[3] as string, args } : undefined;
}

/** The subjects the cloud trusts, and the identity resource (`type.name`) that carries the trust. */
function trust(r: ProductionRender): { subjects: string[]; identity: string | undefined } {
  if (r.cloud === 'aws') {
    const roles = Object.entries(r.core.resource?.aws_iam_role ?? {});
    for (const [name, role] of roles) {
      const policy = String(role.assume_role_policy);
      if (!policy.includes('AssumeRoleWithWebIdentity')) continue;
      const doc = JSON.parse(policy.replace(/\$\{[^}]*\}/g, 'ISSUER'));
      const cond = doc.Statement[0].Condition.StringEquals as Record<string, string | string[]>;
      const sub = Object.entries(cond).find(([k]) => k.endsWith(':sub'))?.[1];
      return { subjects: [sub ?? []].flat().sort(), identity: `aws_iam_role.${name}` };
    }
    return { subjects: [], identity: undefined };
  }
  if (r.cloud === 'azure') {
    const creds = all(r.core, 'azurerm_federated_identity_credential');
    const parents = new Set(creds.map((c) => /^\$\{(\w+\.[\w-]+)\.id\}$/.exec(String(c.parent_id))?.[1]));
    return { subjects: creds.map((c) => String(c.subject)).sort(), identity: [...parents].join(',') };
  }
  const members = all(r.core, 'google_service_account_iam_member').filter(
    (m) => m.role === 'roles/iam.workloadIdentityUser',
  );
  const owners = new Set(
    members.map((m) => /^\$\{(\w+\.[\w-]+)\.name\}$/.exec(String(m.service_account_id))?.[1]),
  );
  const subjects = members
    .map((m) => /\[(.+)\/(.+)\]$/.exec(String(m.member)))
    .map((m) => `system:serviceaccount:${m?.[1]}:${m?.[2]}`);
  return { subjects: subjects.sort(), identity: [...owners].join(',') };
}

/** Secret names Terraform declares in the environment's store. */
function declaredSecrets(r: ProductionRender): string[] {
  if (r.cloud === 'aws') return all(r.core, 'aws_secretsmanager_secret').map((s) => String(s.name));
  if (r.cloud === 'gcp') return all(r.core, 'google_secret_manager_secret').map((s) => String(s.secret_id));
  return [];
}

/** Secret store name a generated password is written to (the data stack's secret versions). */
function versionTargets(r: ProductionRender): { resource: string; secret: string }[] {
  if (r.cloud === 'aws')
    return Object.entries(r.data.resource?.aws_secretsmanager_secret_version ?? {}).map(([k, v]) => ({
      resource: k,
      secret: String(v.secret_id),
    }));
  return Object.entries(r.data.resource?.google_secret_manager_secret_version ?? {}).map(([k, v]) => ({
    resource: k,
    secret: String(v.secret).replace(/^projects\/[^/]+\/secrets\//, ''),
  }));
}

/**
 * The environment a service's container gets: literal env values, its ConfigMaps' data, and the
 * keys of the Secret its ExternalSecret fills (as `secret:<remote key>`). Missing references are
 * problems.
 */
function effectiveEnv(r: ProductionRender, service: string, problems: string[]): Record<string, string> {
  const docs = r.manifests[service] ?? [];
  const dep = ofKind(docs, 'Deployment')[0];
  const container = dep?.spec?.template?.spec?.containers?.[0];
  const env: Record<string, string> = {};
  for (const e of container?.env ?? []) if (e.value !== undefined) env[e.name] = String(e.value);
  for (const from of container?.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = ofKind(docs, 'ConfigMap').find((c) => c.metadata.name === from.configMapRef.name);
      if (!cm)
        problems.push(`${service}: envFrom ConfigMap ${from.configMapRef.name} is not in its manifests`);
      Object.assign(env, cm?.data ?? {});
    }
    if (from.secretRef) {
      const es = ofKind(r.externalSecrets, 'ExternalSecret').find(
        (e) => e.spec.target.name === from.secretRef.name,
      );
      if (!es && from.secretRef.optional !== true)
        problems.push(`${service}: envFrom Secret ${from.secretRef.name} has no ExternalSecret filling it`);
      for (const d of es?.spec.data ?? []) env[d.secretKey] = `secret:${d.remoteRef.key}`;
    }
  }
  return env;
}

function cidrContains(cidr: string, ip: string): boolean {
  const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const [base, bits] = cidr.split('/');
  const mask = bits === '0' ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
  return (toInt(ip) & mask) >>> 0 === (toInt(base as string) & mask) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// The checks: each returns what disagrees

const checks = {
  namespaces(r: ProductionRender, namespace: string): string[] {
    const problems: string[] = [];
    for (const o of [...objects(r), ...r.externalSecrets])
      if (o.metadata.namespace !== namespace)
        problems.push(
          `${o.kind} ${o.metadata.name} is in namespace ${o.metadata.namespace}, not ${namespace}`,
        );
    for (const s of trust(r).subjects)
      if (s.split(':')[2] !== namespace) problems.push(`the cloud trusts ${s}, outside ${namespace}`);
    return problems;
  },

  serviceAccounts(r: ProductionRender): string[] {
    const problems: string[] = [];
    const created = new Set(accounts(r).map((s) => `${s.metadata.namespace}:${s.metadata.name}`));
    const runs = [
      ...ofKind(objects(r), 'Deployment').map((d) => ({
        who: `Deployment ${d.metadata.name}`,
        sa: `${d.metadata.namespace}:${d.spec.template.spec.serviceAccountName}`,
      })),
      { who: 'the SecretStore', sa: storeAccount(r) ?? 'none' },
    ];
    const used = runs.map(({ who, sa }) => {
      if (!created.has(sa)) problems.push(`${who} runs as ${sa}, which no manifest creates`);
      return `system:serviceaccount:${sa}`;
    });
    const trusted = trust(r).subjects;
    for (const s of used) if (!trusted.includes(s)) problems.push(`the cloud does not trust ${s}`);
    for (const s of trusted)
      if (!used.includes(s)) problems.push(`the cloud trusts ${s}, which no pod runs as`);
    return problems;
  },

  identityAnnotations(r: ProductionRender): string[] {
    const problems: string[] = [];
    const key = IDENTITY_ANNOTATION[r.cloud];
    const ref = referenced(r.core, r.core.output?.workload_identity?.value);
    if (!ref || `${ref.type}.${ref.name}` !== trust(r).identity)
      problems.push(
        `output workload_identity names ${ref ? `${ref.type}.${ref.name}` : 'no resource'}, not the identity the cloud trusts the pods with (${trust(r).identity})`,
      );
    for (const sa of accounts(r))
      if (sa.metadata.annotations?.[key] !== r.outputs.workload_identity)
        problems.push(
          `ServiceAccount ${sa.metadata.name}: ${key} is ${sa.metadata.annotations?.[key]}, not ${r.outputs.workload_identity}`,
        );
    if (r.cloud === 'azure')
      for (const d of ofKind(objects(r), 'Deployment'))
        if (d.spec.template.metadata.labels?.[AZURE_USE_LABEL] !== 'true')
          problems.push(`Deployment ${d.metadata.name}: pods lack ${AZURE_USE_LABEL}=true`);
    return problems;
  },

  secretNames(r: ProductionRender): string[] {
    if (r.cloud === 'azure') return []; // Key Vault secrets are set by you; the vault itself is checked below.
    const problems: string[] = [];
    const declared = new Set(declaredSecrets(r));
    for (const es of ofKind(r.externalSecrets, 'ExternalSecret'))
      for (const d of es.spec.data)
        if (!declared.has(d.remoteRef.key))
          problems.push(
            `ExternalSecret ${es.metadata.name} reads ${d.remoteRef.key}, which Terraform does not declare`,
          );
    for (const v of versionTargets(r))
      if (!declared.has(v.secret))
        problems.push(`Terraform writes ${v.resource} to ${v.secret}, which it does not declare`);
    return problems;
  },

  secretStore(r: ProductionRender): string[] {
    const problems: string[] = [];
    const store = ofKind(r.externalSecrets, 'SecretStore')[0]?.spec.provider;
    if (r.cloud === 'aws') {
      const region = r.core.provider?.aws?.[0]?.region;
      if (store?.aws?.region !== region)
        problems.push(`SecretStore region ${store?.aws?.region}, stack region ${region}`);
    } else if (r.cloud === 'azure') {
      const vault = all(r.core, 'azurerm_key_vault')[0]?.name;
      if (store?.azurekv?.vaultUrl !== `https://${vault}.vault.azure.net`)
        problems.push(`SecretStore vaultUrl ${store?.azurekv?.vaultUrl}, Key Vault ${vault}`);
      // Workload identity needs the tenant: the one Terraform's client config (and the vault) is in.
      const tenant = r.core.output?.tenant_id?.value;
      if (
        tenant !== interpolation('data.azurerm_client_config.client.tenant_id') ||
        store?.azurekv?.tenantId !== r.outputs.tenant_id
      )
        problems.push(
          `SecretStore tenantId ${store?.azurekv?.tenantId}, output tenant_id ${r.outputs.tenant_id} (${tenant})`,
        );
    } else {
      const project = r.core.provider?.google?.[0]?.project;
      const [gke] = all(r.core, 'google_container_cluster');
      const wi = store?.gcpsm?.auth?.workloadIdentity;
      if (store?.gcpsm?.projectID !== project)
        problems.push(`SecretStore project ${store?.gcpsm?.projectID}, stack project ${project}`);
      if (wi?.clusterName !== gke?.name || wi?.clusterLocation !== gke?.location)
        problems.push(
          `SecretStore cluster ${wi?.clusterName}/${wi?.clusterLocation}, GKE ${gke?.name}/${gke?.location}`,
        );
    }
    return problems;
  },

  clusterName(r: ProductionRender): string[] {
    const ref = referenced(r.core, r.core.output?.cluster_name?.value);
    const kind = {
      aws: 'aws_eks_cluster',
      azure: 'azurerm_kubernetes_cluster',
      gcp: 'google_container_cluster',
    }[r.cloud];
    const [cluster] = all(r.core, kind);
    if (ref?.type !== kind || r.outputs.cluster_name !== cluster?.name)
      return [
        `output cluster_name is ${r.outputs.cluster_name} (${ref?.type}), the ${kind} is ${cluster?.name}`,
      ];
    return [];
  },

  endpoints(r: ProductionRender): string[] {
    const problems: string[] = [];
    const declared = declaredSecrets(r);
    const passwordSecret = (resource: string) =>
      versionTargets(r).find((v) => v.resource === resource)?.secret;
    for (const [service, uses] of Object.entries(USES)) {
      const env = effectiveEnv(r, service, problems);
      for (const kind of ['database', 'bus', 'blobs'] as const) {
        const variable = URL_VAR[kind];
        const value = env[variable];
        if (!uses.includes(kind)) {
          if (value !== undefined) problems.push(`${service} opens no ${kind} but gets ${variable}`);
          continue;
        }
        if (value === undefined) {
          problems.push(`${service}: no ${variable}`);
          continue;
        }
        if (WIRING[r.cloud][kind] === 'secret') {
          if (!value.startsWith('secret:'))
            problems.push(`${service}: ${variable} should come from a secret, is ${value}`);
          else if (r.cloud !== 'azure' && !declared.includes(value.slice(7)))
            problems.push(
              `${service}: ${variable} comes from ${value.slice(7)}, which Terraform does not declare`,
            );
          continue;
        }
        const url = new URL(value);
        if (url.password) problems.push(`${service}: ${variable} holds a password in a ConfigMap`);
        if (kind === 'database') {
          const db =
            r.cloud === 'aws'
              ? all(r.data, 'aws_db_instance')[0]?.username
              : all(r.data, 'google_sql_user')[0]?.name;
          if (url.hostname !== r.outputs.database_host)
            problems.push(
              `${service}: DATABASE_URL host ${url.hostname}, output database_host ${r.outputs.database_host}`,
            );
          if (url.pathname !== `/${service}`)
            problems.push(`${service}: DATABASE_URL database ${url.pathname}`);
          if (url.username !== db)
            problems.push(`${service}: DATABASE_URL user ${url.username}, Terraform's ${db}`);
          if (env.PGPASSWORD !== `secret:${passwordSecret('pg-password-secret')}`)
            problems.push(
              `${service}: PGPASSWORD is ${env.PGPASSWORD}, Terraform writes the password to ${passwordSecret('pg-password-secret')}`,
            );
        } else if (kind === 'bus') {
          const broker = new URL(r.outputs.broker_endpoint ?? 'missing:');
          const mq = all(r.data, 'aws_mq_broker')[0] as { user?: { username: string }[] } | undefined;
          if (url.host !== broker.host || url.protocol !== 'amqps:')
            problems.push(
              `${service}: BUS_URL ${url.protocol}//${url.host}, output broker_endpoint ${r.outputs.broker_endpoint}`,
            );
          if (url.username !== mq?.user?.[0]?.username)
            problems.push(`${service}: BUS_URL user ${url.username}`);
          if (env.BUS_PASSWORD !== `secret:${passwordSecret('mq-secret-value')}`)
            problems.push(
              `${service}: BUS_PASSWORD is ${env.BUS_PASSWORD}, Terraform writes it to ${passwordSecret('mq-secret-value')}`,
            );
        } else {
          if (url.hostname !== r.outputs.content_bucket)
            problems.push(
              `${service}: BLOBS_URL bucket ${url.hostname}, output content_bucket ${r.outputs.content_bucket}`,
            );
          if (r.cloud === 'gcp' && !(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY))
            problems.push(`${service}: no HMAC key for Cloud Storage's S3 API`);
        }
      }
      for (const [k, v] of Object.entries(env))
        if (/PASSWORD|SECRET/.test(k) && !v.startsWith('secret:'))
          problems.push(`${service}: ${k} is a literal`);
    }
    return problems;
  },

  /** The identity the pods assume may use the bucket their BLOBS_URL names and the secrets their ExternalSecrets read. */
  identityAccess(r: ProductionRender): string[] {
    const problems: string[] = [];
    const identity = trust(r).identity ?? '';
    const keys = ofKind(r.externalSecrets, 'ExternalSecret').flatMap((e) =>
      e.spec.data.map((d: { remoteRef: { key: string } }) => d.remoteRef.key as string),
    );
    if (r.cloud === 'aws') {
      const glob = (pattern: string) =>
        new RegExp(
          `^${pattern
            .split('*')
            .map((p) => p.replace(/[.?+^$()[\]{}|\\]/g, '\\$&'))
            .join('.*')}$`,
        );
      const statements = all(r.core, 'aws_iam_role_policy')
        .filter((p) => p.role === interpolation(`${identity}.name`))
        .flatMap((p) => JSON.parse(String(p.policy)).Statement as { Action: string[]; Resource: string }[]);
      const allows = (action: string, resource: string) =>
        statements.some(
          (s) =>
            [s.Action].flat().includes(action) && [s.Resource].flat().some((x) => glob(x).test(resource)),
        );
      const bucket = `arn:aws:s3:::${r.outputs.content_bucket}`;
      for (const action of ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'])
        if (!allows(action, `${bucket}/content/a`))
          problems.push(`the pods' role may not ${action} in ${bucket}`);
      if (!allows('s3:ListBucket', bucket)) problems.push(`the pods' role may not list ${bucket}`);
      const region = r.core.provider?.aws?.[0]?.region;
      for (const key of keys)
        if (
          !allows(
            'secretsmanager:GetSecretValue',
            `arn:aws:secretsmanager:${region}:123456789012:secret:${key}-Ab12Cd`,
          )
        )
          problems.push(`the role may not read ${key}`);
    } else if (r.cloud === 'gcp') {
      const email = r.outputs.workload_identity;
      const bucketGrant = all(r.data, 'google_storage_bucket_iam_member').find(
        (m) =>
          referenced(r.data, String(m.bucket))?.args.name === r.outputs.content_bucket &&
          m.member === `serviceAccount:${email}` &&
          m.role === 'roles/storage.objectAdmin',
      );
      if (!bucketGrant) problems.push(`${email} may not use the bucket ${r.outputs.content_bucket}`);
      const granted = new Set(
        all(r.core, 'google_secret_manager_secret_iam_member')
          .filter(
            (m) =>
              m.member === `serviceAccount:${interpolation(`${identity}.email`)}` &&
              m.role === 'roles/secretmanager.secretAccessor',
          )
          .map((m) => referenced(r.core, String(m.secret_id))?.args.secret_id),
      );
      for (const key of keys) if (!granted.has(key)) problems.push(`${email} may not read ${key}`);
    } else {
      const vault = Object.keys(r.core.resource?.azurerm_key_vault ?? {})[0];
      const ok = all(r.core, 'azurerm_role_assignment').some(
        (a) =>
          a.scope === interpolation(`azurerm_key_vault.${vault}.id`) &&
          a.principal_id === interpolation(`${identity}.principal_id`) &&
          a.role_definition_name === 'Key Vault Secrets User',
      );
      if (!ok) problems.push(`${identity} may not read the Key Vault's secrets`);
    }
    return problems;
  },

  /** The database is reachable through the services' NetworkPolicy (Cloud SQL's IP is known before apply). */
  databaseEgress(r: ProductionRender): string[] {
    const host = r.outputs.database_host ?? '';
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(host)) return [];
    const problems: string[] = [];
    for (const [service, uses] of Object.entries(USES)) {
      if (!uses.includes('database')) continue;
      const policy = ofKind(r.manifests[service] ?? [], 'NetworkPolicy')[0];
      const ok = (policy?.spec.egress ?? []).some(
        (e: { to?: { ipBlock?: { cidr: string } }[]; ports?: { port: number }[] }) =>
          e.ports?.some((p) => p.port === 5432) &&
          e.to?.some((t) => t.ipBlock && cidrContains(t.ipBlock.cidr, host)),
      );
      if (!ok) problems.push(`${service}: its NetworkPolicy does not let it reach PostgreSQL at ${host}`);
    }
    return problems;
  },
};

// ---------------------------------------------------------------------------------------------

const ws = workspace({ 'platform.yaml': PLATFORM });
afterAll(() => ws.dispose());

describe.skipIf(!tool)('one platform.yaml, one production (kustomize)', () => {
  describe.each(CLOUDS)('$cloud ($env)', ({ env, cloud, namespace }) => {
    let r: ProductionRender;
    beforeAll(async () => {
      r = await renderProduction(ws.dir, env, tool as NonNullable<typeof tool>);
    }, 300_000);
    const mutated = (change: (copy: ProductionRender) => void): ProductionRender => {
      const copy = structuredClone(r);
      change(copy);
      return copy;
    };

    it('renders what the checks read', () => {
      expect(r.cloud).toBe(cloud);
      expect(Object.keys(r.manifests).sort()).toEqual(Object.keys(USES).sort());
      expect(trust(r).subjects).toHaveLength(5); // four services and the SecretStore's account
      expect(ofKind(r.externalSecrets, 'ExternalSecret').length).toBeGreaterThan(0);
    });

    it('namespaces agree', () => {
      expect(checks.namespaces(r, namespace)).toEqual([]);
      const bad = mutated((c) => {
        const dep = ofKind(c.manifests.content ?? [], 'Deployment')[0] as KubeDoc;
        dep.metadata.namespace = 'default';
      });
      expect(checks.namespaces(bad, namespace)).toEqual([
        expect.stringMatching(/^Deployment content is in namespace default/),
      ]);
    });

    it('every pod runs as a service account the cloud trusts, and the cloud trusts no other', () => {
      expect(checks.serviceAccounts(r)).toEqual([]);
      const renamed = mutated((c) => {
        const dep = ofKind(c.manifests.auth ?? [], 'Deployment')[0] as KubeDoc;
        dep.spec.template.spec.serviceAccountName = 'default';
      });
      expect(checks.serviceAccounts(renamed).join('\n')).toMatch(
        /auth runs as .*:default, which no manifest creates/,
      );
      expect(checks.serviceAccounts(renamed).join('\n')).toMatch(
        /the cloud trusts system:serviceaccount:.*:auth, which no pod runs as/,
      );
      // The store's account: dropped from the ExternalSecrets, nothing creates what it signs in as.
      const storeless = mutated((c) => {
        c.externalSecrets = c.externalSecrets.filter((d) => d.kind !== 'ServiceAccount');
      });
      expect(checks.serviceAccounts(storeless)).toEqual([
        expect.stringMatching(/^the SecretStore runs as .*-external-secrets, which no manifest creates/),
      ]);
    });

    it('service accounts carry the identity Terraform trusts them with', () => {
      expect(checks.identityAnnotations(r)).toEqual([]);
      expect(r.outputs.workload_identity).toBeTruthy();
      const wrong = mutated((c) => {
        const sa = ofKind(c.manifests.content ?? [], 'ServiceAccount')[0] as KubeDoc;
        (sa.metadata.annotations as Record<string, string>)[IDENTITY_ANNOTATION[cloud]] = 'someone-else';
      });
      expect(checks.identityAnnotations(wrong)).toEqual([expect.stringMatching(/^ServiceAccount content:/)]);
      const bareStore = mutated((c) => {
        const sa = ofKind(c.externalSecrets, 'ServiceAccount')[0] as KubeDoc;
        delete sa.metadata.annotations;
      });
      expect(checks.identityAnnotations(bareStore)).toEqual([
        expect.stringMatching(/^ServiceAccount acme-external-secrets:/),
      ]);
      const otherIdentity = mutated((c) => {
        (c.core.output as Record<string, { value: string }>).workload_identity = {
          value: interpolation(
            {
              aws: 'aws_iam_role.node-role.arn',
              azure: 'azurerm_kubernetes_cluster.aks.id',
              gcp: 'google_service_account.node-sa.email',
            }[cloud],
          ),
        };
      });
      expect(checks.identityAnnotations(otherIdentity).join('\n')).toMatch(
        /not the identity the cloud trusts/,
      );
      if (cloud === 'azure') {
        const unlabelled = mutated((c) => {
          const dep = ofKind(c.manifests.auth ?? [], 'Deployment')[0] as KubeDoc;
          delete dep.spec.template.metadata.labels[AZURE_USE_LABEL];
        });
        expect(checks.identityAnnotations(unlabelled)).toEqual([expect.stringMatching(/auth: pods lack/)]);
      }
    });

    it('ExternalSecrets read the secrets Terraform declares and writes', () => {
      expect(checks.secretNames(r)).toEqual([]);
      if (cloud === 'azure') return;
      const names = declaredSecrets(r);
      expect(names).toEqual(expect.arrayContaining([expect.stringContaining('PGPASSWORD')]));
      const renamed = mutated((c) => {
        const type = cloud === 'aws' ? 'aws_secretsmanager_secret' : 'google_secret_manager_secret';
        for (const s of Object.values(c.core.resource?.[type] ?? {}))
          if (String(s.name ?? s.secret_id).includes('PGPASSWORD')) {
            if (cloud === 'aws') s.name = `${c.env}/PGPASSWORD`;
            else s.secret_id = `${c.env}-PGPASSWORD`;
          }
      });
      const problems = checks.secretNames(renamed).join('\n');
      expect(problems).toMatch(
        /ExternalSecret auth-secrets reads .*PGPASSWORD, which Terraform does not declare/,
      );
      expect(problems).toMatch(
        /Terraform writes pg-password-secret to .*PGPASSWORD, which it does not declare/,
      );
    });

    it('the SecretStore names the store and cluster Terraform creates', () => {
      expect(checks.secretStore(r)).toEqual([]);
      const moved = mutated((c) => {
        const provider = ofKind(c.externalSecrets, 'SecretStore')[0]?.spec.provider;
        if (cloud === 'aws') provider.aws.region = 'us-east-1';
        else if (cloud === 'azure') provider.azurekv.vaultUrl = 'https://other.vault.azure.net';
        else provider.gcpsm.auth.workloadIdentity.clusterName = 'other';
      });
      expect(checks.secretStore(moved)).toHaveLength(1);
      if (cloud === 'azure') {
        expect(r.outputs.tenant_id).toMatch(/^[0-9a-f-]{36}$/);
        const otherTenant = mutated((c) => {
          (ofKind(c.externalSecrets, 'SecretStore')[0] as KubeDoc).spec.provider.azurekv.tenantId = 'other';
        });
        expect(checks.secretStore(otherTenant)).toEqual([
          expect.stringMatching(/^SecretStore tenantId other/),
        ]);
      }
    });

    it('the cluster_name output is the cluster Terraform creates', () => {
      expect(checks.clusterName(r)).toEqual([]);
      const renamed = mutated((c) => {
        const type = {
          aws: 'aws_eks_cluster',
          azure: 'azurerm_kubernetes_cluster',
          gcp: 'google_container_cluster',
        }[cloud];
        for (const x of Object.values(c.core.resource?.[type] ?? {})) x.name = 'renamed';
      });
      expect(checks.clusterName(renamed)).toHaveLength(1);
    });

    it("each service's database, broker and bucket are the ones Terraform outputs, passwords from its secrets", () => {
      expect(checks.endpoints(r)).toEqual([]);
      // Concrete values, so the check above cannot pass on empty data.
      const content = effectiveEnv(r, 'content', []);
      if (cloud === 'aws') {
        expect(content.DATABASE_URL).toBe(
          `postgres://platform_admin@acme-staging-euwe1-pg.c1x2y3z4.eu-west-1.rds.amazonaws.com:5432/content?uselibpqcompat=true&sslmode=require`,
        );
        expect(content.BUS_URL).toMatch(
          /^amqps:\/\/platform@b-0f1e2d3c-acme-staging-euwe1-mq\.mq\.eu-west-1\.amazonaws\.com:5671$/,
        );
        expect(content.BLOBS_URL).toBe('s3://acme-staging-euwe1-content/content?region=eu-west-1');
        expect(content.PGPASSWORD).toBe('secret:platformctl/staging/_shared.PGPASSWORD');
      } else if (cloud === 'gcp') {
        expect(content.BLOBS_URL).toMatch(
          /^s3:\/\/acme-qa-euwe-content\/content\?endpoint=https:\/\/storage\.googleapis\.com/,
        );
        expect(content.BUS_URL).toBe('secret:platformctl-qa-_shared--BUS_URL');
      } else {
        expect(content.DATABASE_URL).toBe('secret:platformctl-preprod--shared--DATABASE-URL');
      }
      const gateway = effectiveEnv(r, 'gateway', []);
      expect(gateway.DATABASE_URL).toBeUndefined();
      expect(gateway.PGPASSWORD).toBeUndefined();

      const moved = mutated((c) => {
        c.outputs.database_host = 'elsewhere.example.com';
        c.outputs.content_bucket = 'other-bucket';
      });
      if (cloud !== 'azure') {
        const problems = checks.endpoints(moved).join('\n');
        expect(problems).toMatch(/auth: DATABASE_URL host .*, output database_host elsewhere\.example\.com/);
        if (cloud === 'aws')
          expect(problems).toMatch(/content: BLOBS_URL bucket .*, output content_bucket other-bucket/);
      }
      const noPassword = mutated((c) => {
        const es = ofKind(c.externalSecrets, 'ExternalSecret').find(
          (e) => e.metadata.name === 'analytics-secrets',
        );
        if (es)
          es.spec.data = es.spec.data.filter(
            (d: { secretKey: string }) => !/PASSWORD|_URL/.test(d.secretKey),
          );
      });
      expect(checks.endpoints(noPassword).join('\n')).toMatch(/^analytics: /m);
    });

    it('the identity the pods assume may use their bucket and read their secrets', () => {
      expect(checks.identityAccess(r)).toEqual([]);
      const revoked = mutated((c) => {
        const type = {
          aws: 'aws_iam_role_policy',
          azure: 'azurerm_role_assignment',
          gcp: 'google_secret_manager_secret_iam_member',
        }[cloud];
        delete c.core.resource?.[type];
      });
      expect(checks.identityAccess(revoked).length).toBeGreaterThan(0);
      if (cloud === 'gcp') {
        const noBucket = mutated((c) => {
          delete c.data.resource?.google_storage_bucket_iam_member;
        });
        expect(checks.identityAccess(noBucket)).toEqual([expect.stringMatching(/may not use the bucket/)]);
      }
    });

    it('the services may reach the database through their NetworkPolicy', () => {
      expect(checks.databaseEgress(r)).toEqual([]);
      if (cloud !== 'gcp') return;
      expect(r.outputs.database_host).toMatch(/^10\.\d+\.96\.3$/);
      const outside = mutated((c) => {
        c.outputs.database_host = '10.200.0.3';
      });
      expect(checks.databaseEgress(outside)).toHaveLength(3);
    });
  });
});
