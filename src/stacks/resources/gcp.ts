/**
 * The Google Cloud resources the constructs use (hashicorp/google ~> 6.0), as thin typed classes
 * (decision 0001). Argument names are Terraform's; labels get sanitized values.
 */
import { defineData, defineResource } from '../tf.ts';

type Labels = Record<string, string>;
type Json = Record<string, unknown>;

export const GcpComputeNetwork = defineResource<{
  name: string;
  auto_create_subnetworks: boolean;
  routing_mode: 'REGIONAL' | 'GLOBAL';
}>('google_compute_network');
export const GcpComputeSubnetwork = defineResource<{
  name: string;
  region: string;
  network: string;
  ip_cidr_range: string;
  private_ip_google_access: boolean;
  secondary_ip_range?: { range_name: string; ip_cidr_range: string }[];
  log_config?: { aggregation_interval: string; flow_sampling: number; metadata: string };
}>('google_compute_subnetwork');
export const GcpComputeRouter = defineResource<{ name: string; region: string; network: string }>(
  'google_compute_router',
);
export const GcpComputeRouterNat = defineResource<{
  name: string;
  router: string;
  region: string;
  nat_ip_allocate_option: 'AUTO_ONLY';
  source_subnetwork_ip_ranges_to_nat: string;
  log_config: { enable: boolean; filter: string };
}>('google_compute_router_nat');
export const GcpComputeFirewall = defineResource<{
  name: string;
  network: string;
  direction: 'INGRESS' | 'EGRESS';
  priority: number;
  source_ranges: string[];
  allow: { protocol: string; ports?: string[] }[];
  description: string;
}>('google_compute_firewall');
export const GcpComputeGlobalAddress = defineResource<{
  name: string;
  address?: string;
  purpose?: string;
  address_type?: string;
  prefix_length?: number;
  network?: string;
  labels?: Labels;
}>('google_compute_global_address', 'labels');
export const GcpServiceNetworkingConnection = defineResource<{
  network: string;
  service: string;
  reserved_peering_ranges: string[];
}>('google_service_networking_connection');
export const GcpServiceAccount = defineResource<{ account_id: string; display_name: string }>(
  'google_service_account',
);
export const GcpServiceAccountIamMember = defineResource<{
  service_account_id: string;
  role: string;
  member: string;
}>('google_service_account_iam_member');
export const GcpProjectIamMember = defineResource<{ project: string; role: string; member: string }>(
  'google_project_iam_member',
);
export const GcpContainerCluster = defineResource<{
  name: string;
  location: string;
  network: string;
  subnetwork: string;
  remove_default_node_pool: boolean;
  initial_node_count: number;
  deletion_protection: boolean;
  release_channel: { channel: string };
  workload_identity_config: { workload_pool: string };
  ip_allocation_policy: { cluster_secondary_range_name: string; services_secondary_range_name: string };
  private_cluster_config: {
    enable_private_nodes: boolean;
    enable_private_endpoint: boolean;
    master_ipv4_cidr_block: string;
  };
  master_authorized_networks_config: { cidr_blocks: { cidr_block: string; display_name: string }[] };
  database_encryption: { state: 'ENCRYPTED'; key_name: string };
  resource_labels?: Labels;
}>('google_container_cluster', 'resource_labels');
export const GcpContainerNodePool = defineResource<{
  name: string;
  cluster: string;
  location: string;
  initial_node_count: number;
  autoscaling: { min_node_count: number; max_node_count: number };
  management: { auto_repair: boolean; auto_upgrade: boolean };
  node_config: {
    machine_type: string;
    service_account: string;
    oauth_scopes: string[];
    workload_metadata_config: { mode: 'GKE_METADATA' };
    shielded_instance_config: { enable_secure_boot: boolean };
    labels?: Labels;
  };
}>('google_container_node_pool', 'node_config.labels');
export const GcpKmsKeyRing = defineResource<{ name: string; location: string }>('google_kms_key_ring');
export const GcpKmsCryptoKey = defineResource<{
  name: string;
  key_ring: string;
  rotation_period: string;
  labels?: Labels;
}>('google_kms_crypto_key', 'labels');
export const GcpKmsCryptoKeyIamMember = defineResource<{
  crypto_key_id: string;
  role: string;
  member: string;
}>('google_kms_crypto_key_iam_member');
export const GcpSqlDatabaseInstance = defineResource<{
  name: string;
  region: string;
  database_version: string;
  deletion_protection: boolean;
  encryption_key_name: string;
  settings: {
    tier: string;
    edition: string;
    availability_type: 'REGIONAL' | 'ZONAL';
    disk_autoresize: boolean;
    disk_type: string;
    backup_configuration: {
      enabled: boolean;
      point_in_time_recovery_enabled: boolean;
      start_time: string;
      backup_retention_settings: { retained_backups: number };
    };
    ip_configuration: { ipv4_enabled: boolean; private_network: string; ssl_mode: string };
    database_flags?: { name: string; value: string }[];
    user_labels?: Labels;
  };
}>('google_sql_database_instance', 'settings.user_labels');
export const GcpSqlUser = defineResource<{ name: string; instance: string; password: string }>(
  'google_sql_user',
);
export const GcpStorageBucket = defineResource<{
  name: string;
  location: string;
  storage_class: string;
  force_destroy: boolean;
  uniform_bucket_level_access: boolean;
  public_access_prevention: 'enforced' | 'inherited';
  versioning: { enabled: boolean };
  encryption: { default_kms_key_name: string };
  lifecycle_rule: Json[];
  labels?: Labels;
}>('google_storage_bucket', 'labels');
export const GcpStorageBucketIamMember = defineResource<{ bucket: string; role: string; member: string }>(
  'google_storage_bucket_iam_member',
);
export const GcpComputeBackendBucket = defineResource<{
  name: string;
  bucket_name: string;
  enable_cdn: boolean;
  compression_mode: string;
  cdn_policy: { cache_mode: string; default_ttl: number; max_ttl: number; serve_while_stale: number };
}>('google_compute_backend_bucket');
export const GcpComputeUrlMap = defineResource<{ name: string; default_service: string }>(
  'google_compute_url_map',
);
export const GcpComputeManagedSslCertificate = defineResource<{
  name: string;
  managed: { domains: string[] };
}>('google_compute_managed_ssl_certificate');
export const GcpComputeTargetHttpsProxy = defineResource<{
  name: string;
  url_map: string;
  ssl_certificates: string[];
}>('google_compute_target_https_proxy');
export const GcpComputeGlobalForwardingRule = defineResource<{
  name: string;
  target: string;
  port_range: string;
  ip_address: string;
  load_balancing_scheme: string;
  labels?: Labels;
}>('google_compute_global_forwarding_rule', 'labels');
export const GcpSecretManagerSecret = defineResource<{
  secret_id: string;
  replication: {
    user_managed: { replicas: { location: string; customer_managed_encryption: { kms_key_name: string } }[] };
  };
  labels?: Labels;
}>('google_secret_manager_secret', 'labels');
export const GcpSecretManagerSecretIamMember = defineResource<{
  secret_id: string;
  role: string;
  member: string;
}>('google_secret_manager_secret_iam_member');
export const GcpSecretManagerSecretVersion = defineResource<{ secret: string; secret_data: string }>(
  'google_secret_manager_secret_version',
);
export const GcpPubsubTopic = defineResource<{
  name: string;
  kms_key_name: string;
  message_retention_duration: string;
  labels?: Labels;
}>('google_pubsub_topic', 'labels');
export const GcpPubsubSubscription = defineResource<{
  name: string;
  topic: string;
  ack_deadline_seconds: number;
  enable_exactly_once_delivery: boolean;
  retry_policy: { minimum_backoff: string; maximum_backoff: string };
  labels?: Labels;
}>('google_pubsub_subscription', 'labels');
export const GcpDnsManagedZone = defineResource<{
  name: string;
  dns_name: string;
  description: string;
  visibility: 'public' | 'private';
  dnssec_config: { state: 'on' | 'off' };
  labels?: Labels;
}>('google_dns_managed_zone', 'labels');
export const GcpDnsRecordSet = defineResource<{
  name: string;
  managed_zone: string;
  type: string;
  ttl: number;
  rrdatas: string[];
}>('google_dns_record_set');
export const GcpComputeAddress = defineResource<{ name: string; region: string; labels?: Labels }>(
  'google_compute_address',
  'labels',
);
export const GcpComputeVpnGateway = defineResource<{ name: string; region: string; network: string }>(
  'google_compute_vpn_gateway',
);
export const GcpComputeForwardingRule = defineResource<{
  name: string;
  region: string;
  ip_protocol: string;
  port_range?: string;
  ip_address: string;
  target: string;
  labels?: Labels;
}>('google_compute_forwarding_rule', 'labels');
export const GcpComputeVpnTunnel = defineResource<{
  name: string;
  region: string;
  peer_ip: string;
  shared_secret: string;
  ike_version: number;
  target_vpn_gateway: string;
  local_traffic_selector: string[];
  remote_traffic_selector: string[];
  labels?: Labels;
}>('google_compute_vpn_tunnel', 'labels');
export const GcpComputeRoute = defineResource<{
  name: string;
  network: string;
  dest_range: string;
  priority: number;
  next_hop_vpn_tunnel: string;
}>('google_compute_route');
export const GcpStorageProjectServiceAccount = defineData<Record<string, never>>(
  'google_storage_project_service_account',
);
export const GcpProject = defineData<Record<string, never>>('google_project');
export const GcpBigqueryDataset = defineResource<{
  dataset_id: string;
  location: string;
  description: string;
  delete_contents_on_destroy: boolean;
  default_encryption_configuration?: { kms_key_name: string };
  labels?: Labels;
}>('google_bigquery_dataset', 'labels');
export const GcpBigqueryTable = defineResource<{
  dataset_id: string;
  table_id: string;
  description: string;
  deletion_protection: boolean;
  schema: string;
  encryption_configuration?: { kms_key_name: string };
  external_data_configuration: {
    source_format: 'PARQUET';
    autodetect: boolean;
    source_uris: string[];
    hive_partitioning_options: {
      mode: 'CUSTOM';
      source_uri_prefix: string;
      require_partition_filter: boolean;
    };
  };
  labels?: Labels;
}>('google_bigquery_table', 'labels');
export const GcpBigqueryDefaultServiceAccount = defineData<Record<string, never>>(
  'google_bigquery_default_service_account',
);
