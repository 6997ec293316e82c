/**
 * Fluent Bit configuration for EFK on Kubernetes: tail container logs, keep the services' pino
 * JSON as structured fields (request and trace ids stay searchable), add Kubernetes metadata and
 * ship to Elasticsearch, with security audit events routed to their own index for a SIEM.
 */
import type { PlatformConfig } from '../core/config/schema.ts';

/**
 * `namespaces` are every namespace the platform's pods run in; the kubelet names container logs
 * `<pod>_<namespace>_<container>-<id>.log`, and tail takes comma-separated patterns.
 */
export function fluentBitConfig(
  config: PlatformConfig,
  namespaces: string[],
): { main: string; parsers: string } {
  const services = Object.keys(config.services).join('|');
  const main = `[SERVICE]
    Flush             1
    Log_Level         info
    Parsers_File      parsers.conf
    HTTP_Server       On
    HTTP_Listen       0.0.0.0
    HTTP_Port         2020
    storage.path      /var/fluent-bit/state
    storage.sync      normal

[INPUT]
    Name              tail
    Tag               kube.*
    Path              ${namespaces.map((ns) => `/var/log/containers/*_${ns}_*.log`).join(',')}
    multiline.parser  cri
    DB                /var/fluent-bit/state/tail.db
    Mem_Buf_Limit     50MB
    storage.type      filesystem
    Skip_Long_Lines   On

[FILTER]
    Name              kubernetes
    Match             kube.*
    Merge_Log         On
    Keep_Log          Off
    K8S-Logging.Parser On
    Labels            On

[FILTER]
    Name              grep
    Match             kube.*
    Regex             $kubernetes['labels']['app.kubernetes.io/name'] ^(${services})$

[FILTER]
    Name              rewrite_tag
    Match             kube.*
    Rule              $audit ^true$ audit.$TAG false

[OUTPUT]
    Name              es
    Match             kube.*
    Host              \${ES_HOST}
    Port              9200
    Logstash_Format   On
    Logstash_Prefix   ${config.name}-logs
    Suppress_Type_Name On
    Retry_Limit       False

[OUTPUT]
    Name              es
    Match             audit.*
    Host              \${ES_HOST}
    Port              9200
    Logstash_Format   On
    Logstash_Prefix   ${config.name}-audit
    Suppress_Type_Name On
    Retry_Limit       False
`;
  const parsers = `[PARSER]
    Name              pino
    Format            json
    Time_Key          time
    Time_Format       %s%L
    Time_Keep         On
`;
  return { main, parsers };
}
