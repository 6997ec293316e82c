/**
 * Network: a VPC/VNet with public and private subnets across three zones and NAT for egress.
 * One API, three implementations; the outputs are what the cluster, database and VPN need.
 */
import type { Construct } from '../cdk.ts';
import * as aws from '../resources/aws.ts';
import * as az from '../resources/azure.ts';
import * as gcp from '../resources/gcp.ts';
import { podsCidr, type Site, subnetCidr } from '../site.ts';
import type { ConfigOf } from '../tf.ts';

export interface Network {
  /** VPC id / VNet id / network self link. */
  id: string;
  name: string;
  cidr: string;
  publicSubnetIds: string[];
  privateSubnetIds: string[];
  /** Azure: subnet delegated to PostgreSQL Flexible Server. */
  databaseSubnetId?: string;
  /** Azure: the GatewaySubnet the VPN gateway needs. */
  gatewaySubnetId?: string;
  /** AWS: private route tables, for VPN route propagation. */
  privateRouteTableIds: string[];
  /** Azure: the environment's resource group in this region. */
  resourceGroup?: string;
  location: string;
  /** GCP: secondary range names for GKE; the private services connection Cloud SQL waits for. */
  podsRange?: string;
  servicesRange?: string;
  privateServicesConnection?: InstanceType<typeof gcp.GcpServiceNetworkingConnection>;
}

function awsNetwork(scope: Construct, site: Site): Network {
  const vpc = new aws.AwsVpc(scope, 'vpc', {
    cidr_block: site.cidr,
    enable_dns_hostnames: true,
    enable_dns_support: true,
    tags: { Name: site.regional },
  });
  const igw = new aws.AwsInternetGateway(scope, 'igw', { vpc_id: vpc.attr('id') });
  const publicRt = new aws.AwsRouteTable(scope, 'public-rt', {
    vpc_id: vpc.attr('id'),
    tags: { Name: `${site.regional}-public` },
  });
  new aws.AwsRoute(scope, 'public-default', {
    route_table_id: publicRt.attr('id'),
    destination_cidr_block: '0.0.0.0/0',
    gateway_id: igw.attr('id'),
  });
  const publicSubnets = site.zones.map((zone, i) => {
    const subnet = new aws.AwsSubnet(scope, `public-${i}`, {
      vpc_id: vpc.attr('id'),
      cidr_block: subnetCidr(site, i),
      availability_zone: zone,
      map_public_ip_on_launch: false,
      tags: { Name: `${site.regional}-public-${zone}`, 'kubernetes.io/role/elb': '1' },
    });
    new aws.AwsRouteTableAssociation(scope, `public-${i}-rta`, {
      subnet_id: subnet.attr('id'),
      route_table_id: publicRt.attr('id'),
    });
    return subnet;
  });
  // One NAT per zone in prod (a zone outage keeps egress); one shared NAT elsewhere (cost).
  const natCount = site.sizing.natPerZone ? site.zones.length : 1;
  const nats = Array.from({ length: natCount }, (_, i) => {
    const eip = new aws.AwsEip(scope, `nat-${i}-eip`, {
      domain: 'vpc',
      tags: { Name: `${site.regional}-nat-${i}` },
    });
    return new aws.AwsNatGateway(scope, `nat-${i}`, {
      allocation_id: eip.attr('id'),
      subnet_id: (publicSubnets[i] as InstanceType<typeof aws.AwsSubnet>).attr('id'),
      tags: { Name: `${site.regional}-nat-${i}` },
    });
  });
  const routeTables: string[] = [];
  const privateSubnets = site.zones.map((zone, i) => {
    const subnet = new aws.AwsSubnet(scope, `private-${i}`, {
      vpc_id: vpc.attr('id'),
      cidr_block: subnetCidr(site, 3 + i),
      availability_zone: zone,
      map_public_ip_on_launch: false,
      tags: { Name: `${site.regional}-private-${zone}`, 'kubernetes.io/role/internal-elb': '1' },
    });
    const rt = new aws.AwsRouteTable(scope, `private-${i}-rt`, {
      vpc_id: vpc.attr('id'),
      tags: { Name: `${site.regional}-private-${zone}` },
    });
    new aws.AwsRoute(scope, `private-${i}-default`, {
      route_table_id: rt.attr('id'),
      destination_cidr_block: '0.0.0.0/0',
      nat_gateway_id: (nats[i % nats.length] as InstanceType<typeof aws.AwsNatGateway>).attr('id'),
    });
    new aws.AwsRouteTableAssociation(scope, `private-${i}-rta`, {
      subnet_id: subnet.attr('id'),
      route_table_id: rt.attr('id'),
    });
    routeTables.push(rt.attr('id'));
    return subnet;
  });
  return {
    id: vpc.attr('id'),
    name: site.regional,
    cidr: site.cidr,
    publicSubnetIds: publicSubnets.map((s) => s.attr('id')),
    privateSubnetIds: privateSubnets.map((s) => s.attr('id')),
    privateRouteTableIds: routeTables,
    location: site.region,
  };
}

function azureNetwork(scope: Construct, site: Site): Network {
  const rg = new az.AzResourceGroup(scope, 'rg', { name: `${site.regional}-rg`, location: site.region });
  const common = { location: site.region, resource_group_name: rg.attr('name') };
  const vnet = new az.AzVirtualNetwork(scope, 'vnet', {
    ...common,
    name: `${site.regional}-vnet`,
    address_space: [site.cidr],
  });
  const subnet = (id: string, name: string, n: number, extra: Partial<ConfigOf<typeof az.AzSubnet>> = {}) =>
    new az.AzSubnet(scope, id, {
      name,
      resource_group_name: rg.attr('name'),
      virtual_network_name: vnet.attr('name'),
      address_prefixes: [subnetCidr(site, n)],
      default_outbound_access_enabled: false,
      ...extra,
    });
  // Azure subnets span all zones of a region, so one public and one private subnet cover three zones.
  const pub = subnet('public', 'public', 0);
  const priv = subnet('private', 'private', 3, {
    service_endpoints: ['Microsoft.Storage', 'Microsoft.KeyVault', 'Microsoft.ServiceBus'],
  });
  const db = subnet('database', 'database', 6, {
    delegation: [
      {
        name: 'postgres',
        service_delegation: {
          name: 'Microsoft.DBforPostgreSQL/flexibleServers',
          actions: ['Microsoft.Network/virtualNetworks/subnets/join/action'],
        },
      },
    ],
  });
  const gateway = subnet('gateway', 'GatewaySubnet', 7);
  const nsg = new az.AzNetworkSecurityGroup(scope, 'private-nsg', {
    ...common,
    name: `${site.regional}-private-nsg`,
    security_rule: [
      {
        name: 'allow-vnet-inbound',
        priority: 100,
        direction: 'Inbound',
        access: 'Allow',
        protocol: '*',
        source_port_range: '*',
        destination_port_range: '*',
        source_address_prefix: 'VirtualNetwork',
        destination_address_prefix: 'VirtualNetwork',
      },
      {
        name: 'deny-internet-inbound',
        priority: 4000,
        direction: 'Inbound',
        access: 'Deny',
        protocol: '*',
        source_port_range: '*',
        destination_port_range: '*',
        source_address_prefix: 'Internet',
        destination_address_prefix: '*',
      },
    ],
  });
  new az.AzSubnetNsgAssociation(scope, 'private-nsg-assoc', {
    subnet_id: priv.attr('id'),
    network_security_group_id: nsg.attr('id'),
  });
  const natIp = new az.AzPublicIp(scope, 'nat-ip', {
    ...common,
    name: `${site.regional}-nat-ip`,
    allocation_method: 'Static',
    sku: 'Standard',
    zones: site.sizing.natPerZone ? site.zones : ['1'],
  });
  const nat = new az.AzNatGateway(scope, 'nat', {
    ...common,
    name: `${site.regional}-nat`,
    sku_name: 'Standard',
    idle_timeout_in_minutes: 10,
  });
  new az.AzNatGatewayPublicIpAssociation(scope, 'nat-ip-assoc', {
    nat_gateway_id: nat.attr('id'),
    public_ip_address_id: natIp.attr('id'),
  });
  new az.AzSubnetNatGatewayAssociation(scope, 'private-nat', {
    subnet_id: priv.attr('id'),
    nat_gateway_id: nat.attr('id'),
  });
  return {
    id: vnet.attr('id'),
    name: vnet.attr('name'),
    cidr: site.cidr,
    publicSubnetIds: [pub.attr('id')],
    privateSubnetIds: [priv.attr('id')],
    databaseSubnetId: db.attr('id'),
    gatewaySubnetId: gateway.attr('id'),
    privateRouteTableIds: [],
    resourceGroup: rg.attr('name'),
    location: site.region,
  };
}

function gcpNetwork(scope: Construct, site: Site): Network {
  const network = new gcp.GcpComputeNetwork(scope, 'vpc', {
    name: site.regional,
    auto_create_subnetworks: false,
    routing_mode: 'REGIONAL',
  });
  // GCP subnets are regional (they span every zone), so one public and one private subnet suffice.
  const pub = new gcp.GcpComputeSubnetwork(scope, 'public', {
    name: `${site.regional}-public`,
    region: site.region,
    network: network.attr('id'),
    ip_cidr_range: subnetCidr(site, 0),
    private_ip_google_access: true,
  });
  const priv = new gcp.GcpComputeSubnetwork(scope, 'private', {
    name: `${site.regional}-private`,
    region: site.region,
    network: network.attr('id'),
    ip_cidr_range: subnetCidr(site, 3),
    private_ip_google_access: true,
    secondary_ip_range: [
      { range_name: 'pods', ip_cidr_range: podsCidr(site) },
      { range_name: 'services', ip_cidr_range: subnetCidr(site, 8) },
    ],
    log_config: {
      aggregation_interval: 'INTERVAL_5_SEC',
      flow_sampling: 0.5,
      metadata: 'INCLUDE_ALL_METADATA',
    },
  });
  const router = new gcp.GcpComputeRouter(scope, 'router', {
    name: `${site.regional}-router`,
    region: site.region,
    network: network.attr('id'),
  });
  new gcp.GcpComputeRouterNat(scope, 'nat', {
    name: `${site.regional}-nat`,
    router: router.attr('name'),
    region: site.region,
    nat_ip_allocate_option: 'AUTO_ONLY',
    source_subnetwork_ip_ranges_to_nat: 'ALL_SUBNETWORKS_ALL_IP_RANGES',
    log_config: { enable: true, filter: 'ERRORS_ONLY' },
  });
  new gcp.GcpComputeFirewall(scope, 'allow-internal', {
    name: `${site.regional}-allow-internal`,
    network: network.attr('id'),
    direction: 'INGRESS',
    priority: 1000,
    source_ranges: [site.cidr, podsCidr(site)],
    allow: [{ protocol: 'tcp' }, { protocol: 'udp' }, { protocol: 'icmp' }],
    description: 'traffic between workloads inside the VPC',
  });
  const peering = new gcp.GcpComputeGlobalAddress(scope, 'private-services-range', {
    name: `${site.regional}-private-services`,
    // Block 6 of the site's space (the database block): Cloud SQL's private IP is then inside the
    // VPC range the services' NetworkPolicy lets PostgreSQL traffic reach. Left to Google, the
    // range could be any /20 of 10.0.0.0/8.
    address: subnetCidr(site, 6).split('/')[0] as string,
    purpose: 'VPC_PEERING',
    address_type: 'INTERNAL',
    prefix_length: 20,
    network: network.attr('id'),
  });
  const connection = new gcp.GcpServiceNetworkingConnection(scope, 'private-services', {
    network: network.attr('id'),
    service: 'servicenetworking.googleapis.com',
    reserved_peering_ranges: [peering.attr('name')],
  });
  return {
    id: network.attr('id'),
    name: network.attr('name'),
    cidr: site.cidr,
    publicSubnetIds: [pub.attr('id')],
    privateSubnetIds: [priv.attr('id')],
    privateRouteTableIds: [],
    location: site.region,
    podsRange: 'pods',
    servicesRange: 'services',
    privateServicesConnection: connection,
  };
}

export function network(scope: Construct, site: Site): Network {
  if (site.cloud === 'aws') return awsNetwork(scope, site);
  if (site.cloud === 'azure') return azureNetwork(scope, site);
  return gcpNetwork(scope, site);
}
