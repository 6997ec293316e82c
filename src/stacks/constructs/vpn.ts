/**
 * Site-to-site VPN between the primary cloud's network and a secondary cloud's (IPsec, IKEv2,
 * static routes, a generated pre-shared key). Each cloud offers one side; `interconnect` wires two.
 * AWS only learns its tunnel address once the connection exists, so an AWS side always connects
 * first, to the other side's static gateway address.
 */
import type { Construct, TerraformResource } from '../cdk.ts';
import * as aws from '../resources/aws.ts';
import * as az from '../resources/azure.ts';
import * as gcp from '../resources/gcp.ts';
import * as random from '../resources/random.ts';
import type { Site } from '../site.ts';
import type { Network } from './network.ts';

interface VpnSide {
  cloud: Site['cloud'];
  /** The gateway's public address when known before connecting (Azure, GCP). */
  gatewayIp?: string;
  /** Connects to a peer; returns this side's tunnel address. */
  connect(peerIp: string, peerCidr: string, sharedKey: string): string;
}

function awsSide(scope: Construct, site: Site, net: Network): VpnSide {
  const id = `vpn-${site.cloud}`;
  const vgw = new aws.AwsVpnGateway(scope, `${id}-gateway`, { vpc_id: net.id, amazon_side_asn: 64512 });
  net.privateRouteTableIds.forEach((rt, i) => {
    new aws.AwsVpnGatewayRoutePropagation(scope, `${id}-propagation-${i}`, {
      vpn_gateway_id: vgw.attr('id'),
      route_table_id: rt,
    });
  });
  return {
    cloud: 'aws',
    connect: (peerIp, peerCidr, key) => {
      const cgw = new aws.AwsCustomerGateway(scope, `${id}-peer`, {
        bgp_asn: 65000,
        ip_address: peerIp,
        type: 'ipsec.1',
      });
      const conn = new aws.AwsVpnConnection(scope, `${id}-connection`, {
        vpn_gateway_id: vgw.attr('id'),
        customer_gateway_id: cgw.attr('id'),
        type: 'ipsec.1',
        static_routes_only: true,
        tunnel1_preshared_key: key,
        tunnel2_preshared_key: key,
      });
      new aws.AwsVpnConnectionRoute(scope, `${id}-route`, {
        vpn_connection_id: conn.attr('id'),
        destination_cidr_block: peerCidr,
      });
      return conn.attr('tunnel1_address');
    },
  };
}

function azureSide(scope: Construct, site: Site, net: Network): VpnSide {
  const id = `vpn-${site.cloud}`;
  const common = { location: site.region, resource_group_name: net.resourceGroup as string };
  const ip = new az.AzPublicIp(scope, `${id}-ip`, {
    ...common,
    name: `${site.regional}-vpn`,
    allocation_method: 'Static',
    sku: 'Standard',
    zones: site.zones,
  });
  const gateway = new az.AzVirtualNetworkGateway(scope, `${id}-gateway`, {
    ...common,
    name: `${site.regional}-vpn`,
    type: 'Vpn',
    vpn_type: 'RouteBased',
    sku: 'VpnGw1AZ',
    active_active: false,
    ip_configuration: [
      {
        name: 'vpn',
        public_ip_address_id: ip.attr('id'),
        private_ip_address_allocation: 'Dynamic',
        subnet_id: net.gatewaySubnetId as string,
      },
    ],
  });
  return {
    cloud: 'azure',
    gatewayIp: ip.attr('ip_address'),
    connect: (peerIp, peerCidr, key) => {
      const local = new az.AzLocalNetworkGateway(scope, `${id}-peer`, {
        ...common,
        name: `${site.regional}-peer`,
        gateway_address: peerIp,
        address_space: [peerCidr],
      });
      new az.AzVirtualNetworkGatewayConnection(scope, `${id}-connection`, {
        ...common,
        name: `${site.regional}-peer`,
        type: 'IPsec',
        virtual_network_gateway_id: gateway.attr('id'),
        local_network_gateway_id: local.attr('id'),
        shared_key: key,
        connection_protocol: 'IKEv2',
      });
      return ip.attr('ip_address');
    },
  };
}

function gcpSide(scope: Construct, site: Site, net: Network): VpnSide {
  const id = `vpn-${site.cloud}`;
  const address = new gcp.GcpComputeAddress(scope, `${id}-ip`, {
    name: `${site.regional}-vpn`,
    region: site.region,
  });
  const gateway = new gcp.GcpComputeVpnGateway(scope, `${id}-gateway`, {
    name: `${site.regional}-vpn`,
    region: site.region,
    network: net.id,
  });
  const rules: TerraformResource[] = [
    ['esp', 'ESP', undefined],
    ['udp500', 'UDP', '500'],
    ['udp4500', 'UDP', '4500'],
  ].map(
    ([name, protocol, port]) =>
      new gcp.GcpComputeForwardingRule(scope, `${id}-${name}`, {
        name: `${site.regional}-vpn-${name}`,
        region: site.region,
        ip_protocol: protocol as string,
        ...(port ? { port_range: port } : {}),
        ip_address: address.attr('address'),
        target: gateway.attr('id'),
      }),
  );
  return {
    cloud: 'gcp',
    gatewayIp: address.attr('address'),
    connect: (peerIp, peerCidr, key) => {
      const tunnel = new gcp.GcpComputeVpnTunnel(
        scope,
        `${id}-tunnel`,
        {
          name: `${site.regional}-peer`,
          region: site.region,
          peer_ip: peerIp,
          shared_secret: key,
          ike_version: 2,
          target_vpn_gateway: gateway.attr('id'),
          local_traffic_selector: [site.cidr],
          remote_traffic_selector: [peerCidr],
        },
        { dependsOn: rules },
      );
      new gcp.GcpComputeRoute(scope, `${id}-route`, {
        name: `${site.regional}-peer`,
        network: net.id,
        dest_range: peerCidr,
        priority: 1000,
        next_hop_vpn_tunnel: tunnel.attr('id'),
      });
      return address.attr('address');
    },
  };
}

function side(scope: Construct, site: Site, net: Network): VpnSide {
  if (site.cloud === 'aws') return awsSide(scope, site, net);
  if (site.cloud === 'azure') return azureSide(scope, site, net);
  return gcpSide(scope, site, net);
}

/** Links two networks on different clouds. */
export function interconnect(
  scope: Construct,
  a: { site: Site; net: Network },
  b: { site: Site; net: Network },
): { tunnels: number } {
  // AWS rejects a pre-shared key that starts with `0` (1 in 62 random keys would), and
  // random_password cannot constrain its first character, so a fixed letter leads.
  const random47 = new random.RandomPassword(scope, 'vpn-psk', { length: 47, special: false }).attr('result');
  const key = `k${random47}`;
  const sideA = side(scope, a.site, a.net);
  const sideB = side(scope, b.site, b.net);
  const [first, firstNet, second, secondNet] =
    sideA.gatewayIp === undefined ? [sideA, a.net, sideB, b.net] : [sideB, b.net, sideA, a.net];
  const firstIp = first.connect(second.gatewayIp as string, secondNet.cidr, key);
  second.connect(first.gatewayIp ?? firstIp, firstNet.cidr, key);
  return { tunnels: 1 };
}
