/** Builds a validated platform config whose `delivery` section is the given YAML snippet. */
import { parse } from 'yaml';
import { type PlatformConfig, platformSchema } from '../../src/core/config/schema.ts';

export function parseConfigText(delivery: string, extra = ''): PlatformConfig {
  const text = `
name: demo
environments:
  dev: { cloud: aws, region: eu-west-1, provider: local }
services:
  api: { path: builtin:content, port: 8101 }
delivery:
${delivery}
${extra}`;
  return platformSchema.parse(parse(text));
}
