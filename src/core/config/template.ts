/** The platform.yaml that `platformctl init` writes: the four runtime services, three environments. */
import type { Cloud } from './schema.ts';

export interface InitAnswers {
  name: string;
  owner: string;
  cloud: Cloud;
  region: string;
}

/** Second regions for prod, per cloud, so the default prod is multi-region. */
const PROD_EXTRA_REGION: Record<Cloud, Record<string, string>> = {
  aws: { default: 'us-east-1', 'us-east-1': 'eu-west-1' },
  azure: { default: 'eastus', eastus: 'westeurope' },
  gcp: { default: 'us-central1', 'us-central1': 'europe-west1' },
};

/** Renders a commented platform.yaml (comments are the documentation a newcomer sees first). */
export function renderPlatformYaml(a: InitAnswers): string {
  const extra = PROD_EXTRA_REGION[a.cloud][a.region] ?? PROD_EXTRA_REGION[a.cloud].default;
  return `# platform.yaml — the platform platformctl drives. Validate with: platformctl config validate
apiVersion: platformctl/v1
name: ${a.name}
owner: ${a.owner}

# Where each environment runs. "local" runs services as supervised processes on this machine;
# "kubernetes" applies manifests to the cluster of kubeContext. Protected environments need --allow-prod.
environments:
  dev:
    cloud: ${a.cloud}
    region: ${a.region}
    provider: local
  staging:
    cloud: ${a.cloud}
    region: ${a.region}
    provider: kubernetes
    namespace: ${a.name}-staging
  prod:
    cloud: ${a.cloud}
    region: ${a.region}
    extraRegions: [${extra}]
    provider: kubernetes
    namespace: ${a.name}
    protected: true

# The services. "builtin:<name>" is the runtime shipped with platformctl; a relative path is your code.
services:
  gateway:
    path: builtin:gateway
    port: 8080
    kind: gateway
    dependsOn: [auth, content, analytics]
    slo: { availability: 99.95, latencyP99Ms: 300 }
  auth:
    path: builtin:auth
    port: 8081
    routes: [/auth, /.well-known]
    slo: { availability: 99.95, latencyP99Ms: 250 }
  content:
    path: builtin:content
    port: 8082
    routes: [/content]
    slo: { availability: 99.9, latencyP99Ms: 800 }
  analytics:
    path: builtin:analytics
    port: 8083
    routes: [/analytics]
    slo: { availability: 99.9, latencyP99Ms: 300 }

# Progressive delivery defaults; a service may override them under services.<name>.delivery.
delivery:
  strategy: canary
  steps:
    - setWeight: 10
    - analysis: {}
    - setWeight: 50
    - analysis: {}
    - setWeight: 100
  analysis:
    # A measurement needs minSampleSize canary requests: at 10% of the traffic and a 10 s
    # interval that is 20 req/s overall (\`platformctl demo traffic\` sends 30). One noisy
    # measurement of three is tolerated; a real regression fails them all.
    interval: 10s
    count: 3
    failureLimit: 1
    minSampleSize: 20
    conditions:
      - error_rate < 1%
      - canary.p99 < 1.5 * stable.p99 + 100ms
`;
}
