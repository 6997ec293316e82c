/**
 * The AWS resources the constructs use (hashicorp/aws ~> 6.0), declared as thin typed classes
 * (decision 0001). Argument names are Terraform's; nested blocks are objects (one) or arrays.
 */
import { defineData, defineResource } from '../tf.ts';

type Tags = Record<string, string>;
type Json = Record<string, unknown>;

export const AwsVpc = defineResource<{
  cidr_block: string;
  enable_dns_hostnames: boolean;
  enable_dns_support: boolean;
  tags?: Tags;
}>('aws_vpc', 'tags');
export const AwsSubnet = defineResource<{
  vpc_id: string;
  cidr_block: string;
  availability_zone: string;
  map_public_ip_on_launch: boolean;
  tags?: Tags;
}>('aws_subnet', 'tags');
export const AwsInternetGateway = defineResource<{ vpc_id: string; tags?: Tags }>(
  'aws_internet_gateway',
  'tags',
);
export const AwsEip = defineResource<{ domain: 'vpc'; tags?: Tags }>('aws_eip', 'tags');
export const AwsNatGateway = defineResource<{ allocation_id: string; subnet_id: string; tags?: Tags }>(
  'aws_nat_gateway',
  'tags',
);
export const AwsRouteTable = defineResource<{ vpc_id: string; tags?: Tags }>('aws_route_table', 'tags');
export const AwsRoute = defineResource<{
  route_table_id: string;
  destination_cidr_block: string;
  gateway_id?: string;
  nat_gateway_id?: string;
}>('aws_route');
export const AwsRouteTableAssociation = defineResource<{ subnet_id: string; route_table_id: string }>(
  'aws_route_table_association',
);
/**
 * Inline rules are "attributes as blocks": in JSON every field is required, so `sgRule` fills
 * the ones a rule does not use.
 */
export interface AwsSgRule {
  description: string;
  protocol: string;
  from_port: number;
  to_port: number;
  cidr_blocks: string[];
  ipv6_cidr_blocks: string[];
  prefix_list_ids: string[];
  security_groups: string[];
  self: boolean;
}
export function sgRule(
  rule: Pick<AwsSgRule, 'description' | 'protocol' | 'from_port' | 'to_port'> & Partial<AwsSgRule>,
): AwsSgRule {
  return {
    cidr_blocks: [],
    ipv6_cidr_blocks: [],
    prefix_list_ids: [],
    security_groups: [],
    self: false,
    ...rule,
  };
}
export const AwsSecurityGroup = defineResource<{
  name: string;
  description: string;
  vpc_id: string;
  ingress: AwsSgRule[];
  egress: AwsSgRule[];
  tags?: Tags;
}>('aws_security_group', 'tags');
export const AwsVpcSecurityGroupIngressRule = defineResource<{
  security_group_id: string;
  description: string;
  ip_protocol: string;
  from_port?: number;
  to_port?: number;
  cidr_ipv4?: string;
  referenced_security_group_id?: string;
  tags?: Tags;
}>('aws_vpc_security_group_ingress_rule', 'tags');
export const AwsKmsKey = defineResource<{
  description: string;
  enable_key_rotation: boolean;
  deletion_window_in_days: number;
  tags?: Tags;
}>('aws_kms_key', 'tags');
export const AwsKmsAlias = defineResource<{ name: string; target_key_id: string }>('aws_kms_alias');
export const AwsIamRole = defineResource<{
  name: string;
  assume_role_policy: string;
  tags?: Tags;
}>('aws_iam_role', 'tags');
export const AwsIamRolePolicyAttachment = defineResource<{ role: string; policy_arn: string }>(
  'aws_iam_role_policy_attachment',
);
export const AwsIamRolePolicy = defineResource<{ name: string; role: string; policy: string }>(
  'aws_iam_role_policy',
);
export const AwsEksCluster = defineResource<{
  name: string;
  role_arn: string;
  version: string;
  vpc_config: {
    subnet_ids: string[];
    endpoint_private_access: boolean;
    endpoint_public_access: boolean;
    public_access_cidrs?: string[];
  };
  encryption_config: { resources: string[]; provider: { key_arn: string } };
  access_config: { authentication_mode: string };
  enabled_cluster_log_types: string[];
  tags?: Tags;
}>('aws_eks_cluster', 'tags');
export const AwsEksNodeGroup = defineResource<{
  cluster_name: string;
  node_group_name: string;
  node_role_arn: string;
  subnet_ids: string[];
  instance_types: string[];
  capacity_type: string;
  scaling_config: { min_size: number; max_size: number; desired_size: number };
  update_config: { max_unavailable: number };
  lifecycle?: Json;
  tags?: Tags;
}>('aws_eks_node_group', 'tags');
export const AwsIamOpenidConnectProvider = defineResource<{
  url: string;
  client_id_list: string[];
  tags?: Tags;
}>('aws_iam_openid_connect_provider', 'tags');
export const AwsDbSubnetGroup = defineResource<{ name: string; subnet_ids: string[]; tags?: Tags }>(
  'aws_db_subnet_group',
  'tags',
);
export const AwsDbInstance = defineResource<{
  identifier: string;
  engine: 'postgres';
  engine_version: string;
  instance_class: string;
  allocated_storage: number;
  max_allocated_storage: number;
  storage_type: string;
  storage_encrypted: boolean;
  kms_key_id: string;
  db_name: string;
  username: string;
  password: string;
  multi_az: boolean;
  publicly_accessible: boolean;
  db_subnet_group_name: string;
  vpc_security_group_ids: string[];
  backup_retention_period: number;
  backup_window: string;
  deletion_protection: boolean;
  skip_final_snapshot: boolean;
  final_snapshot_identifier?: string;
  copy_tags_to_snapshot: boolean;
  iam_database_authentication_enabled: boolean;
  performance_insights_enabled: boolean;
  performance_insights_kms_key_id?: string;
  tags?: Tags;
}>('aws_db_instance', 'tags');
export const AwsS3Bucket = defineResource<{ bucket: string; force_destroy: boolean; tags?: Tags }>(
  'aws_s3_bucket',
  'tags',
);
export const AwsS3BucketPublicAccessBlock = defineResource<{
  bucket: string;
  block_public_acls: boolean;
  block_public_policy: boolean;
  ignore_public_acls: boolean;
  restrict_public_buckets: boolean;
}>('aws_s3_bucket_public_access_block');
export const AwsS3BucketOwnershipControls = defineResource<{
  bucket: string;
  rule: { object_ownership: string };
}>('aws_s3_bucket_ownership_controls');
export const AwsS3BucketServerSideEncryptionConfiguration = defineResource<{
  bucket: string;
  rule: {
    apply_server_side_encryption_by_default: { sse_algorithm: string; kms_master_key_id?: string };
    bucket_key_enabled: boolean;
  }[];
}>('aws_s3_bucket_server_side_encryption_configuration');
export const AwsS3BucketVersioning = defineResource<{
  bucket: string;
  versioning_configuration: { status: 'Enabled' | 'Suspended' };
}>('aws_s3_bucket_versioning');
export const AwsS3BucketLifecycleConfiguration = defineResource<{
  bucket: string;
  rule: Json[];
}>('aws_s3_bucket_lifecycle_configuration');
export const AwsS3BucketPolicy = defineResource<{ bucket: string; policy: string }>('aws_s3_bucket_policy');
export const AwsCloudfrontOriginAccessControl = defineResource<{
  name: string;
  description: string;
  origin_access_control_origin_type: 's3';
  signing_behavior: 'always';
  signing_protocol: 'sigv4';
}>('aws_cloudfront_origin_access_control');
export const AwsCloudfrontDistribution = defineResource<{
  enabled: boolean;
  comment: string;
  price_class: string;
  http_version: string;
  is_ipv6_enabled: boolean;
  origin: { origin_id: string; domain_name: string; origin_access_control_id: string }[];
  default_cache_behavior: {
    target_origin_id: string;
    viewer_protocol_policy: string;
    allowed_methods: string[];
    cached_methods: string[];
    cache_policy_id: string;
    compress: boolean;
  };
  restrictions: { geo_restriction: { restriction_type: 'none'; locations: string[] } };
  viewer_certificate: { cloudfront_default_certificate: boolean; minimum_protocol_version: string };
  tags?: Tags;
}>('aws_cloudfront_distribution', 'tags');
export const AwsSecretsmanagerSecret = defineResource<{
  name: string;
  description: string;
  kms_key_id: string;
  recovery_window_in_days: number;
  tags?: Tags;
}>('aws_secretsmanager_secret', 'tags');
export const AwsSecretsmanagerSecretVersion = defineResource<{ secret_id: string; secret_string: string }>(
  'aws_secretsmanager_secret_version',
);
export const AwsMqBroker = defineResource<{
  broker_name: string;
  engine_type: 'RabbitMQ';
  engine_version: string;
  host_instance_type: string;
  deployment_mode: string;
  publicly_accessible: boolean;
  auto_minor_version_upgrade: boolean;
  subnet_ids: string[];
  security_groups: string[];
  encryption_options: { use_aws_owned_key: boolean; kms_key_id?: string };
  logs: { general: boolean };
  user: { username: string; password: string }[];
  tags?: Tags;
}>('aws_mq_broker', 'tags');
export const AwsRoute53Zone = defineResource<{ name: string; comment: string; tags?: Tags }>(
  'aws_route53_zone',
  'tags',
);
export const AwsRoute53Record = defineResource<{
  zone_id: string;
  name: string;
  type: string;
  ttl?: number;
  records?: string[];
  alias?: { name: string; zone_id: string; evaluate_target_health: boolean };
}>('aws_route53_record');
export const AwsVpnGateway = defineResource<{ vpc_id: string; amazon_side_asn: number; tags?: Tags }>(
  'aws_vpn_gateway',
  'tags',
);
export const AwsCustomerGateway = defineResource<{
  bgp_asn: number;
  ip_address: string;
  type: 'ipsec.1';
  tags?: Tags;
}>('aws_customer_gateway', 'tags');
export const AwsVpnConnection = defineResource<{
  vpn_gateway_id: string;
  customer_gateway_id: string;
  type: 'ipsec.1';
  static_routes_only: boolean;
  tunnel1_preshared_key: string;
  tunnel2_preshared_key: string;
  tags?: Tags;
}>('aws_vpn_connection', 'tags');
export const AwsVpnConnectionRoute = defineResource<{
  vpn_connection_id: string;
  destination_cidr_block: string;
}>('aws_vpn_connection_route');
export const AwsVpnGatewayRoutePropagation = defineResource<{
  vpn_gateway_id: string;
  route_table_id: string;
}>('aws_vpn_gateway_route_propagation');
export const AwsCallerIdentity = defineData<Record<string, never>>('aws_caller_identity');
export const AwsGlueCatalogDatabase = defineResource<{ name: string; description: string; tags?: Tags }>(
  'aws_glue_catalog_database',
  'tags',
);
export const AwsGlueCatalogTable = defineResource<{
  database_name: string;
  name: string;
  description: string;
  table_type: 'EXTERNAL_TABLE';
  parameters: Record<string, string>;
  partition_keys: { name: string; type: string; comment: string }[];
  storage_descriptor: {
    location: string;
    input_format: string;
    output_format: string;
    compressed: boolean;
    ser_de_info: { serialization_library: string };
    columns: { name: string; type: string; comment: string }[];
  };
}>('aws_glue_catalog_table');
