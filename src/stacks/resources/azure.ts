/**
 * The Azure resources the constructs use (hashicorp/azurerm ~> 4.0), as thin typed classes
 * (decision 0001). Argument names are Terraform's.
 */
import { defineData, defineResource } from '../tf.ts';

type Tags = Record<string, string>;
type Json = Record<string, unknown>;

export const AzResourceGroup = defineResource<{ name: string; location: string; tags?: Tags }>(
  'azurerm_resource_group',
  'tags',
);
export const AzVirtualNetwork = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  address_space: string[];
  tags?: Tags;
}>('azurerm_virtual_network', 'tags');
export const AzSubnet = defineResource<{
  name: string;
  resource_group_name: string;
  virtual_network_name: string;
  address_prefixes: string[];
  default_outbound_access_enabled?: boolean;
  service_endpoints?: string[];
  delegation?: { name: string; service_delegation: { name: string; actions: string[] } }[];
}>('azurerm_subnet');
export const AzPublicIp = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  allocation_method: 'Static';
  sku: 'Standard';
  zones: string[];
  tags?: Tags;
}>('azurerm_public_ip', 'tags');
export const AzNatGateway = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  sku_name: 'Standard';
  idle_timeout_in_minutes: number;
  tags?: Tags;
}>('azurerm_nat_gateway', 'tags');
export const AzNatGatewayPublicIpAssociation = defineResource<{
  nat_gateway_id: string;
  public_ip_address_id: string;
}>('azurerm_nat_gateway_public_ip_association');
export const AzSubnetNatGatewayAssociation = defineResource<{ subnet_id: string; nat_gateway_id: string }>(
  'azurerm_subnet_nat_gateway_association',
);
export const AzNetworkSecurityGroup = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  security_rule: {
    name: string;
    priority: number;
    direction: 'Inbound' | 'Outbound';
    access: 'Allow' | 'Deny';
    protocol: string;
    source_port_range: string;
    destination_port_range: string;
    source_address_prefix: string;
    destination_address_prefix: string;
  }[];
  tags?: Tags;
}>('azurerm_network_security_group', 'tags');
export const AzSubnetNsgAssociation = defineResource<{
  subnet_id: string;
  network_security_group_id: string;
}>('azurerm_subnet_network_security_group_association');
export const AzKubernetesCluster = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  dns_prefix: string;
  kubernetes_version: string;
  sku_tier: string;
  private_cluster_enabled: boolean;
  oidc_issuer_enabled: boolean;
  workload_identity_enabled: boolean;
  local_account_disabled: boolean;
  role_based_access_control_enabled: boolean;
  azure_active_directory_role_based_access_control: { azure_rbac_enabled: boolean };
  default_node_pool: {
    name: string;
    vm_size: string;
    vnet_subnet_id: string;
    auto_scaling_enabled: boolean;
    min_count: number;
    max_count: number;
    zones: string[];
    only_critical_addons_enabled: boolean;
    upgrade_settings: { max_surge: string };
  };
  identity: { type: 'SystemAssigned' };
  network_profile: { network_plugin: string; network_policy: string; outbound_type: string };
  tags?: Tags;
}>('azurerm_kubernetes_cluster', 'tags');
export const AzKubernetesClusterNodePool = defineResource<{
  name: string;
  kubernetes_cluster_id: string;
  vm_size: string;
  vnet_subnet_id: string;
  auto_scaling_enabled: boolean;
  min_count: number;
  max_count: number;
  zones: string[];
  mode: 'User';
  tags?: Tags;
}>('azurerm_kubernetes_cluster_node_pool', 'tags');
export const AzUserAssignedIdentity = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  tags?: Tags;
}>('azurerm_user_assigned_identity', 'tags');
export const AzFederatedIdentityCredential = defineResource<{
  name: string;
  resource_group_name: string;
  parent_id: string;
  audience: string[];
  issuer: string;
  subject: string;
}>('azurerm_federated_identity_credential');
export const AzPrivateDnsZone = defineResource<{ name: string; resource_group_name: string; tags?: Tags }>(
  'azurerm_private_dns_zone',
  'tags',
);
export const AzPrivateDnsZoneVnetLink = defineResource<{
  name: string;
  resource_group_name: string;
  private_dns_zone_name: string;
  virtual_network_id: string;
  tags?: Tags;
}>('azurerm_private_dns_zone_virtual_network_link', 'tags');
export const AzPostgresqlFlexibleServer = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  version: string;
  sku_name: string;
  storage_mb: number;
  auto_grow_enabled: boolean;
  zone: string;
  delegated_subnet_id: string;
  private_dns_zone_id: string;
  public_network_access_enabled: boolean;
  backup_retention_days: number;
  geo_redundant_backup_enabled: boolean;
  high_availability?: { mode: 'ZoneRedundant' | 'SameZone'; standby_availability_zone: string };
  authentication: {
    active_directory_auth_enabled: boolean;
    password_auth_enabled: boolean;
    tenant_id: string;
  };
  tags?: Tags;
}>('azurerm_postgresql_flexible_server', 'tags');
export const AzStorageAccount = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  account_kind: 'StorageV2';
  account_tier: 'Standard';
  account_replication_type: string;
  min_tls_version: 'TLS1_2';
  https_traffic_only_enabled: boolean;
  allow_nested_items_to_be_public: boolean;
  shared_access_key_enabled: boolean;
  infrastructure_encryption_enabled: boolean;
  public_network_access_enabled: boolean;
  /** Hierarchical namespace (ADLS Gen2); incompatible with blob versioning. */
  is_hns_enabled?: boolean;
  network_rules?: {
    default_action: 'Deny' | 'Allow';
    bypass: string[];
    virtual_network_subnet_ids: string[];
  };
  blob_properties: {
    versioning_enabled: boolean;
    change_feed_enabled: boolean;
    delete_retention_policy: { days: number };
    container_delete_retention_policy: { days: number };
  };
  tags?: Tags;
}>('azurerm_storage_account', 'tags');
export const AzStorageContainer = defineResource<{
  name: string;
  storage_account_id: string;
  container_access_type: 'private' | 'blob' | 'container';
}>('azurerm_storage_container');
export const AzStorageManagementPolicy = defineResource<{ storage_account_id: string; rule: Json[] }>(
  'azurerm_storage_management_policy',
);
export const AzCdnFrontdoorProfile = defineResource<{
  name: string;
  resource_group_name: string;
  sku_name: string;
  tags?: Tags;
}>('azurerm_cdn_frontdoor_profile', 'tags');
export const AzCdnFrontdoorEndpoint = defineResource<{
  name: string;
  cdn_frontdoor_profile_id: string;
  tags?: Tags;
}>('azurerm_cdn_frontdoor_endpoint', 'tags');
export const AzCdnFrontdoorOriginGroup = defineResource<{
  name: string;
  cdn_frontdoor_profile_id: string;
  session_affinity_enabled: boolean;
  load_balancing: { sample_size: number; successful_samples_required: number };
  health_probe: { protocol: string; interval_in_seconds: number; path: string; request_type: string };
}>('azurerm_cdn_frontdoor_origin_group');
export const AzCdnFrontdoorOrigin = defineResource<{
  name: string;
  cdn_frontdoor_origin_group_id: string;
  enabled: boolean;
  host_name: string;
  origin_host_header: string;
  certificate_name_check_enabled: boolean;
  http_port: number;
  https_port: number;
  priority: number;
  weight: number;
}>('azurerm_cdn_frontdoor_origin');
export const AzCdnFrontdoorRoute = defineResource<{
  name: string;
  cdn_frontdoor_endpoint_id: string;
  cdn_frontdoor_origin_group_id: string;
  cdn_frontdoor_origin_ids: string[];
  patterns_to_match: string[];
  supported_protocols: string[];
  forwarding_protocol: string;
  https_redirect_enabled: boolean;
  link_to_default_domain: boolean;
  cache: {
    query_string_caching_behavior: string;
    compression_enabled: boolean;
    content_types_to_compress: string[];
  };
}>('azurerm_cdn_frontdoor_route');
export const AzKeyVault = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  tenant_id: string;
  sku_name: 'standard' | 'premium';
  enable_rbac_authorization: boolean;
  purge_protection_enabled: boolean;
  soft_delete_retention_days: number;
  public_network_access_enabled: boolean;
  network_acls: { default_action: 'Deny' | 'Allow'; bypass: string; virtual_network_subnet_ids: string[] };
  tags?: Tags;
}>('azurerm_key_vault', 'tags');
export const AzKeyVaultSecret = defineResource<{
  name: string;
  key_vault_id: string;
  value: string;
  content_type: string;
  tags?: Tags;
}>('azurerm_key_vault_secret', 'tags');
export const AzServicebusNamespace = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  sku: string;
  capacity?: number;
  premium_messaging_partitions?: number;
  local_auth_enabled: boolean;
  minimum_tls_version: string;
  public_network_access_enabled: boolean;
  network_rule_set?: {
    default_action: 'Deny' | 'Allow';
    public_network_access_enabled: boolean;
    trusted_services_allowed: boolean;
    network_rules: { subnet_id: string; ignore_missing_vnet_service_endpoint: boolean }[];
  };
  tags?: Tags;
}>('azurerm_servicebus_namespace', 'tags');
export const AzServicebusTopic = defineResource<{
  name: string;
  namespace_id: string;
  partitioning_enabled: boolean;
}>('azurerm_servicebus_topic');
export const AzServicebusSubscription = defineResource<{
  name: string;
  topic_id: string;
  max_delivery_count: number;
  dead_lettering_on_message_expiration: boolean;
}>('azurerm_servicebus_subscription');
export const AzDnsZone = defineResource<{ name: string; resource_group_name: string; tags?: Tags }>(
  'azurerm_dns_zone',
  'tags',
);
export const AzDnsCnameRecord = defineResource<{
  name: string;
  zone_name: string;
  resource_group_name: string;
  ttl: number;
  record: string;
  tags?: Tags;
}>('azurerm_dns_cname_record', 'tags');
export const AzVirtualNetworkGateway = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  type: 'Vpn';
  vpn_type: 'RouteBased';
  sku: string;
  active_active: boolean;
  ip_configuration: {
    name: string;
    public_ip_address_id: string;
    private_ip_address_allocation: 'Dynamic';
    subnet_id: string;
  }[];
  tags?: Tags;
}>('azurerm_virtual_network_gateway', 'tags');
export const AzLocalNetworkGateway = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  gateway_address: string;
  address_space: string[];
  tags?: Tags;
}>('azurerm_local_network_gateway', 'tags');
export const AzVirtualNetworkGatewayConnection = defineResource<{
  name: string;
  location: string;
  resource_group_name: string;
  type: 'IPsec';
  virtual_network_gateway_id: string;
  local_network_gateway_id: string;
  shared_key: string;
  connection_protocol: 'IKEv2';
  tags?: Tags;
}>('azurerm_virtual_network_gateway_connection', 'tags');
export const AzClientConfig = defineData<Record<string, never>>('azurerm_client_config');
export const AzStorageDataLakeGen2Filesystem = defineResource<{ name: string; storage_account_id: string }>(
  'azurerm_storage_data_lake_gen2_filesystem',
);
export const AzSynapseWorkspace = defineResource<{
  name: string;
  resource_group_name: string;
  location: string;
  storage_data_lake_gen2_filesystem_id: string;
  azuread_authentication_only: boolean;
  managed_virtual_network_enabled: boolean;
  data_exfiltration_protection_enabled: boolean;
  public_network_access_enabled: boolean;
  identity: { type: 'SystemAssigned' };
  tags?: Tags;
}>('azurerm_synapse_workspace', 'tags');
export const AzRoleAssignment = defineResource<{
  scope: string;
  role_definition_name: string;
  principal_id: string;
}>('azurerm_role_assignment');
