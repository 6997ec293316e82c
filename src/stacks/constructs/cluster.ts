/**
 * Kubernetes: EKS / AKS / GKE in the private subnets, autoscaling node pools across three zones,
 * secrets encrypted with a customer key, and workload identity (IRSA on EKS, Azure workload
 * identity, GKE Workload Identity) with one identity the platform's services run as, trusted for
 * exactly the service accounts the manifests give the services (one per service, in the
 * environment's namespace).
 */
import { type Construct, Fn } from '../cdk.ts';
import * as aws from '../resources/aws.ts';
import * as az from '../resources/azure.ts';
import * as gcp from '../resources/gcp.ts';
import type { Site } from '../site.ts';
import { gcpProject } from './gcp-project.ts';
import { encryptionKey } from './keys.ts';
import type { Network } from './network.ts';

export interface Cluster {
  name: string;
  /** OIDC issuer URL workloads' tokens are minted by. */
  oidcIssuer: string;
  /** The cloud identity the platform's pods assume (role ARN / client id / service account email). */
  workloadIdentity: string;
  /** Who that identity is to grants: the role's name (AWS), principal id (Azure), IAM member (GCP). */
  workloadPrincipal: string;
}

/** The Google service account the platform's pods act as (its account id). */
export function workloadAccountId(site: Site): string {
  return `${site.env}-platform-svc`.slice(0, 30);
}

const KUBERNETES_VERSION = '1.33';

/** The Kubernetes service accounts the platform's pods run as: one per service, in the environment's namespace. */
export interface Workloads {
  namespace: string;
  serviceAccounts: string[];
}

/** The `sub` claim of a service account's token, what every cloud's federation trusts. */
export function workloadSubject(namespace: string, serviceAccount: string): string {
  return `system:serviceaccount:${namespace}:${serviceAccount}`;
}

function subjects(w: Workloads): string[] {
  return w.serviceAccounts.map((sa) => workloadSubject(w.namespace, sa));
}

function json(value: unknown): string {
  return JSON.stringify(value);
}

function awsCluster(scope: Construct, site: Site, net: Network, workloads: Workloads): Cluster {
  const key = encryptionKey(scope, site, 'eks');
  const clusterRole = new aws.AwsIamRole(scope, 'cluster-role', {
    name: `${site.regional}-eks-cluster`,
    assume_role_policy: json({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'eks.amazonaws.com' },
          Action: ['sts:AssumeRole', 'sts:TagSession'],
        },
      ],
    }),
  });
  new aws.AwsIamRolePolicyAttachment(scope, 'cluster-policy', {
    role: clusterRole.attr('name'),
    policy_arn: 'arn:aws:iam::aws:policy/AmazonEKSClusterPolicy',
  });
  const cluster = new aws.AwsEksCluster(scope, 'eks', {
    name: site.regional,
    role_arn: clusterRole.attr('arn'),
    version: KUBERNETES_VERSION,
    vpc_config: {
      subnet_ids: net.privateSubnetIds,
      endpoint_private_access: true,
      // Prod's API server is reachable only from inside the VPC (or over the VPN).
      endpoint_public_access: !site.isProd,
    },
    encryption_config: { resources: ['secrets'], provider: { key_arn: key?.id ?? '' } },
    access_config: { authentication_mode: 'API' },
    enabled_cluster_log_types: ['api', 'audit', 'authenticator'],
  });
  const nodeRole = new aws.AwsIamRole(scope, 'node-role', {
    name: `${site.regional}-eks-node`,
    assume_role_policy: json({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    }),
  });
  const nodePolicies = [
    'AmazonEKSWorkerNodePolicy',
    'AmazonEKS_CNI_Policy',
    'AmazonEC2ContainerRegistryReadOnly',
  ];
  const attachments = nodePolicies.map(
    (p) =>
      new aws.AwsIamRolePolicyAttachment(scope, `node-${p}`, {
        role: nodeRole.attr('name'),
        policy_arn: `arn:aws:iam::aws:policy/${p}`,
      }),
  );
  new aws.AwsEksNodeGroup(
    scope,
    'nodes',
    {
      cluster_name: cluster.attr('name'),
      node_group_name: 'general',
      node_role_arn: nodeRole.attr('arn'),
      subnet_ids: net.privateSubnetIds,
      instance_types: [site.sizing.nodeSize.aws],
      capacity_type: 'ON_DEMAND',
      scaling_config: {
        min_size: site.sizing.nodeMin,
        max_size: site.sizing.nodeMax,
        desired_size: site.sizing.nodeMin,
      },
      update_config: { max_unavailable: 1 },
      // The cluster autoscaler owns desired_size once the group exists.
      lifecycle: { ignore_changes: ['scaling_config[0].desired_size'] },
      tags: {
        'k8s.io/cluster-autoscaler/enabled': 'true',
        [`k8s.io/cluster-autoscaler/${site.regional}`]: 'owned',
      },
    },
    { dependsOn: attachments },
  );
  const issuer = cluster.attr('identity[0].oidc[0].issuer');
  const oidc = new aws.AwsIamOpenidConnectProvider(scope, 'oidc', {
    url: issuer,
    client_id_list: ['sts.amazonaws.com'],
  });
  const workload = new aws.AwsIamRole(scope, 'workload-role', {
    name: `${site.regional}-platform-services`,
    assume_role_policy: json({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Federated: oidc.attr('arn') },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              [`${Fn.replace(oidc.attr('url'), 'https://', '')}:sub`]: subjects(workloads),
              [`${Fn.replace(oidc.attr('url'), 'https://', '')}:aud`]: 'sts.amazonaws.com',
            },
          },
        },
      ],
    }),
  });
  return {
    name: cluster.attr('name'),
    oidcIssuer: issuer,
    workloadIdentity: workload.attr('arn'),
    workloadPrincipal: workload.attr('name'),
  };
}

function azureCluster(scope: Construct, site: Site, net: Network, workloads: Workloads): Cluster {
  const rg = net.resourceGroup as string;
  const cluster = new az.AzKubernetesCluster(scope, 'aks', {
    name: site.regional,
    location: site.region,
    resource_group_name: rg,
    dns_prefix: site.regional,
    kubernetes_version: KUBERNETES_VERSION,
    sku_tier: site.isProd ? 'Standard' : 'Free',
    private_cluster_enabled: site.isProd,
    oidc_issuer_enabled: true,
    workload_identity_enabled: true,
    local_account_disabled: true,
    role_based_access_control_enabled: true,
    azure_active_directory_role_based_access_control: { azure_rbac_enabled: true },
    default_node_pool: {
      name: 'system',
      vm_size: site.sizing.nodeSize.azure,
      vnet_subnet_id: net.privateSubnetIds[0] as string,
      auto_scaling_enabled: true,
      min_count: 1,
      max_count: 3,
      zones: site.zones,
      only_critical_addons_enabled: true,
      upgrade_settings: { max_surge: '33%' },
    },
    identity: { type: 'SystemAssigned' },
    network_profile: {
      network_plugin: 'azure',
      network_policy: 'azure',
      outbound_type: 'userAssignedNATGateway',
    },
  });
  new az.AzKubernetesClusterNodePool(scope, 'nodes', {
    name: 'general',
    kubernetes_cluster_id: cluster.attr('id'),
    vm_size: site.sizing.nodeSize.azure,
    vnet_subnet_id: net.privateSubnetIds[0] as string,
    auto_scaling_enabled: true,
    min_count: site.sizing.nodeMin,
    max_count: site.sizing.nodeMax,
    zones: site.zones,
    mode: 'User',
  });
  const identity = new az.AzUserAssignedIdentity(scope, 'workload-identity', {
    name: `${site.regional}-platform-services`,
    location: site.region,
    resource_group_name: rg,
  });
  const issuer = cluster.attr('oidc_issuer_url');
  // Entra ID matches the subject exactly: one federated credential per service account.
  for (const sa of workloads.serviceAccounts) {
    new az.AzFederatedIdentityCredential(scope, `workload-federation-${sa}`, {
      name: `${workloads.namespace}-${sa}`,
      resource_group_name: rg,
      parent_id: identity.attr('id'),
      audience: ['api://AzureADTokenExchange'],
      issuer,
      subject: workloadSubject(workloads.namespace, sa),
    });
  }
  return {
    name: cluster.attr('name'),
    oidcIssuer: issuer,
    workloadIdentity: identity.attr('client_id'),
    workloadPrincipal: identity.attr('principal_id'),
  };
}

function gcpCluster(scope: Construct, site: Site, net: Network, workloads: Workloads): Cluster {
  const key = encryptionKey(scope, site, 'gke');
  const project = gcpProject(scope);
  key?.allow(
    'gke-agent',
    `serviceAccount:service-${project.attr('number')}@container-engine-robot.iam.gserviceaccount.com`,
  );
  const nodeSa = new gcp.GcpServiceAccount(scope, 'node-sa', {
    account_id: `${site.env}-gke-nodes`.slice(0, 30),
    display_name: `${site.regional} GKE nodes`,
  });
  for (const role of [
    'roles/logging.logWriter',
    'roles/monitoring.metricWriter',
    'roles/artifactregistry.reader',
  ]) {
    new gcp.GcpProjectIamMember(scope, `node-sa-${role.split('/')[1]}`, {
      project: site.project,
      role,
      member: `serviceAccount:${nodeSa.attr('email')}`,
    });
  }
  const cluster = new gcp.GcpContainerCluster(scope, 'gke', {
    name: site.regional,
    location: site.region,
    network: net.id,
    subnetwork: net.privateSubnetIds[0] as string,
    remove_default_node_pool: true,
    initial_node_count: 1,
    deletion_protection: site.isProd,
    release_channel: { channel: site.isProd ? 'STABLE' : 'REGULAR' },
    workload_identity_config: { workload_pool: `${site.project}.svc.id.goog` },
    ip_allocation_policy: {
      cluster_secondary_range_name: net.podsRange as string,
      services_secondary_range_name: net.servicesRange as string,
    },
    private_cluster_config: {
      enable_private_nodes: true,
      enable_private_endpoint: site.isProd,
      master_ipv4_cidr_block: `172.16.${site.spec.envIndex * 4 + site.spec.regionIndex}.0/28`,
    },
    master_authorized_networks_config: { cidr_blocks: [{ cidr_block: site.cidr, display_name: 'vpc' }] },
    database_encryption: { state: 'ENCRYPTED', key_name: key?.id ?? '' },
  });
  new gcp.GcpContainerNodePool(scope, 'nodes', {
    name: 'general',
    cluster: cluster.attr('id'),
    location: site.region,
    initial_node_count: 1,
    // Per zone: a regional pool runs in three zones.
    autoscaling: {
      min_node_count: Math.max(1, Math.ceil(site.sizing.nodeMin / 3)),
      max_node_count: Math.ceil(site.sizing.nodeMax / 3),
    },
    management: { auto_repair: true, auto_upgrade: true },
    node_config: {
      machine_type: site.sizing.nodeSize.gcp,
      service_account: nodeSa.attr('email'),
      oauth_scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      workload_metadata_config: { mode: 'GKE_METADATA' },
      shielded_instance_config: { enable_secure_boot: true },
    },
  });
  const workload = new gcp.GcpServiceAccount(scope, 'workload-sa', {
    account_id: workloadAccountId(site),
    display_name: `${site.regional} platform services`,
  });
  for (const sa of workloads.serviceAccounts) {
    new gcp.GcpServiceAccountIamMember(scope, `workload-binding-${sa}`, {
      service_account_id: workload.attr('name'),
      role: 'roles/iam.workloadIdentityUser',
      member: `serviceAccount:${site.project}.svc.id.goog[${workloads.namespace}/${sa}]`,
    });
  }
  return {
    name: cluster.attr('name'),
    oidcIssuer: `https://container.googleapis.com/v1/projects/${site.project}/locations/${site.region}/clusters/${site.regional}`,
    workloadIdentity: workload.attr('email'),
    workloadPrincipal: `serviceAccount:${workload.attr('email')}`,
  };
}

export function cluster(scope: Construct, site: Site, net: Network, workloads: Workloads): Cluster {
  if (site.cloud === 'aws') return awsCluster(scope, site, net, workloads);
  if (site.cloud === 'azure') return azureCluster(scope, site, net, workloads);
  return gcpCluster(scope, site, net, workloads);
}
