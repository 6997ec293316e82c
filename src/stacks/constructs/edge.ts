/**
 * The environment's edge: a public DNS zone and a CDN in front of the content bucket of the
 * primary region (CloudFront with origin access control / Front Door / Cloud CDN backend bucket),
 * with `cdn.<domain>` pointing at it. The bucket stays private: only the CDN may read it.
 */
import type { Construct } from '../cdk.ts';
import * as aws from '../resources/aws.ts';
import * as az from '../resources/azure.ts';
import * as gcp from '../resources/gcp.ts';
import type { Site } from '../site.ts';
import { gcpProject } from './gcp-project.ts';
import type { Bucket } from './storage.ts';

export interface Edge {
  zone: string;
  nameServers: string[];
  cdnHost: string;
}

/** AWS managed cache policy "CachingOptimized". */
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';

function awsEdge(scope: Construct, site: Site, content: Bucket): Edge {
  const zone = new aws.AwsRoute53Zone(scope, 'zone', {
    name: site.domain,
    comment: `${site.prefix} public zone`,
  });
  const oac = new aws.AwsCloudfrontOriginAccessControl(scope, 'oac', {
    name: `${site.prefix}-content`,
    description: 'CloudFront reads the private content bucket',
    origin_access_control_origin_type: 's3',
    signing_behavior: 'always',
    signing_protocol: 'sigv4',
  });
  const cdn = new aws.AwsCloudfrontDistribution(scope, 'cdn', {
    enabled: true,
    comment: `${site.prefix} content`,
    price_class: site.isProd ? 'PriceClass_All' : 'PriceClass_100',
    http_version: 'http2and3',
    is_ipv6_enabled: true,
    origin: [
      { origin_id: 'content', domain_name: content.originHost, origin_access_control_id: oac.attr('id') },
    ],
    default_cache_behavior: {
      target_origin_id: 'content',
      viewer_protocol_policy: 'redirect-to-https',
      allowed_methods: ['GET', 'HEAD', 'OPTIONS'],
      cached_methods: ['GET', 'HEAD'],
      cache_policy_id: CACHING_OPTIMIZED,
      compress: true,
    },
    restrictions: { geo_restriction: { restriction_type: 'none', locations: [] } },
    viewer_certificate: { cloudfront_default_certificate: true, minimum_protocol_version: 'TLSv1.2_2021' },
  });
  new aws.AwsS3BucketPolicy(scope, 'content-cdn-read', {
    bucket: content.name,
    policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'CloudFrontReadOnly',
          Effect: 'Allow',
          Principal: { Service: 'cloudfront.amazonaws.com' },
          Action: 's3:GetObject',
          Resource: `${content.id}/*`,
          Condition: { StringEquals: { 'AWS:SourceArn': cdn.attr('arn') } },
        },
      ],
    }),
  });
  new aws.AwsRoute53Record(scope, 'cdn-record', {
    zone_id: zone.attr('zone_id'),
    name: `cdn.${site.domain}`,
    type: 'A',
    alias: {
      name: cdn.attr('domain_name'),
      zone_id: cdn.attr('hosted_zone_id'),
      evaluate_target_health: false,
    },
  });
  return {
    zone: zone.attr('name'),
    nameServers: zone.listAttr('name_servers'),
    cdnHost: cdn.attr('domain_name'),
  };
}

function azureEdge(scope: Construct, site: Site, content: Bucket): Edge {
  const rg = new az.AzResourceGroup(scope, 'edge-rg', {
    name: `${site.prefix}-edge-rg`,
    location: site.region,
  });
  const zone = new az.AzDnsZone(scope, 'zone', { name: site.domain, resource_group_name: rg.attr('name') });
  const profile = new az.AzCdnFrontdoorProfile(scope, 'frontdoor', {
    name: `${site.prefix}-fd`,
    resource_group_name: rg.attr('name'),
    sku_name: site.isProd ? 'Premium_AzureFrontDoor' : 'Standard_AzureFrontDoor',
  });
  const endpoint = new az.AzCdnFrontdoorEndpoint(scope, 'endpoint', {
    name: `${site.prefix}-content`,
    cdn_frontdoor_profile_id: profile.attr('id'),
  });
  const group = new az.AzCdnFrontdoorOriginGroup(scope, 'origin-group', {
    name: 'content',
    cdn_frontdoor_profile_id: profile.attr('id'),
    session_affinity_enabled: false,
    load_balancing: { sample_size: 4, successful_samples_required: 3 },
    health_probe: { protocol: 'Https', interval_in_seconds: 100, path: '/', request_type: 'HEAD' },
  });
  const origin = new az.AzCdnFrontdoorOrigin(scope, 'origin', {
    name: 'content-storage',
    cdn_frontdoor_origin_group_id: group.attr('id'),
    enabled: true,
    host_name: content.originHost,
    origin_host_header: content.originHost,
    certificate_name_check_enabled: true,
    http_port: 80,
    https_port: 443,
    priority: 1,
    weight: 1000,
  });
  new az.AzCdnFrontdoorRoute(scope, 'route', {
    name: 'content',
    cdn_frontdoor_endpoint_id: endpoint.attr('id'),
    cdn_frontdoor_origin_group_id: group.attr('id'),
    cdn_frontdoor_origin_ids: [origin.attr('id')],
    patterns_to_match: ['/*'],
    supported_protocols: ['Http', 'Https'],
    forwarding_protocol: 'HttpsOnly',
    https_redirect_enabled: true,
    link_to_default_domain: true,
    cache: {
      query_string_caching_behavior: 'IgnoreQueryString',
      compression_enabled: true,
      content_types_to_compress: [
        'text/html',
        'text/css',
        'application/javascript',
        'application/json',
        'image/svg+xml',
      ],
    },
  });
  new az.AzDnsCnameRecord(scope, 'cdn-record', {
    name: 'cdn',
    zone_name: zone.attr('name'),
    resource_group_name: rg.attr('name'),
    ttl: 300,
    record: endpoint.attr('host_name'),
  });
  return {
    zone: zone.attr('name'),
    nameServers: zone.listAttr('name_servers'),
    cdnHost: endpoint.attr('host_name'),
  };
}

function gcpEdge(scope: Construct, site: Site, content: Bucket): Edge {
  const zone = new gcp.GcpDnsManagedZone(scope, 'zone', {
    name: `${site.prefix}-public`,
    dns_name: `${site.domain}.`,
    description: `${site.prefix} public zone`,
    visibility: 'public',
    dnssec_config: { state: 'on' },
  });
  const project = gcpProject(scope);
  // Cloud CDN fills from a private bucket through its own service account, never anonymously.
  new gcp.GcpStorageBucketIamMember(scope, 'content-cdn-read', {
    bucket: content.name,
    role: 'roles/storage.objectViewer',
    member: `serviceAccount:service-${project.attr('number')}@cloud-cdn-fill.iam.gserviceaccount.com`,
  });
  const backend = new gcp.GcpComputeBackendBucket(scope, 'cdn-backend', {
    name: `${site.prefix}-content`,
    bucket_name: content.name,
    enable_cdn: true,
    compression_mode: 'AUTOMATIC',
    cdn_policy: {
      cache_mode: 'CACHE_ALL_STATIC',
      default_ttl: 3600,
      max_ttl: 86400,
      serve_while_stale: 86400,
    },
  });
  const urlMap = new gcp.GcpComputeUrlMap(scope, 'cdn-urlmap', {
    name: `${site.prefix}-cdn`,
    default_service: backend.attr('id'),
  });
  const cert = new gcp.GcpComputeManagedSslCertificate(scope, 'cdn-cert', {
    name: `${site.prefix}-cdn`,
    managed: { domains: [`cdn.${site.domain}.`] },
  });
  const proxy = new gcp.GcpComputeTargetHttpsProxy(scope, 'cdn-proxy', {
    name: `${site.prefix}-cdn`,
    url_map: urlMap.attr('id'),
    ssl_certificates: [cert.attr('id')],
  });
  const ip = new gcp.GcpComputeGlobalAddress(scope, 'cdn-ip', { name: `${site.prefix}-cdn` });
  new gcp.GcpComputeGlobalForwardingRule(scope, 'cdn-https', {
    name: `${site.prefix}-cdn-https`,
    target: proxy.attr('id'),
    port_range: '443',
    ip_address: ip.attr('address'),
    load_balancing_scheme: 'EXTERNAL_MANAGED',
  });
  new gcp.GcpDnsRecordSet(scope, 'cdn-record', {
    name: `cdn.${site.domain}.`,
    managed_zone: zone.attr('name'),
    type: 'A',
    ttl: 300,
    rrdatas: [ip.attr('address')],
  });
  return {
    zone: zone.attr('dns_name'),
    nameServers: zone.listAttr('name_servers'),
    cdnHost: `cdn.${site.domain}`,
  };
}

export function edge(scope: Construct, site: Site, content: Bucket): Edge {
  if (site.cloud === 'aws') return awsEdge(scope, site, content);
  if (site.cloud === 'azure') return azureEdge(scope, site, content);
  return gcpEdge(scope, site, content);
}
