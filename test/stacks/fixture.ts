/** A platform.yaml that exercises every stack kind: three environments, prod in two regions, VPNs. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlatform } from '../../src/core/config/load.ts';
import type { PlatformConfig } from '../../src/core/config/schema.ts';

export const PLATFORM_YAML = `apiVersion: platformctl/v1
name: acme
owner: platform-team
environments:
  dev:
    cloud: aws
    region: eu-west-1
    provider: local
  staging:
    cloud: aws
    region: eu-west-1
    provider: kubernetes
    secondary: { cloud: gcp, region: europe-west1 }
  prod:
    cloud: aws
    region: eu-west-1
    extraRegions: [us-east-1]
    provider: kubernetes
    protected: true
    secondary: { cloud: azure, region: westeurope }
services:
  gateway: { path: builtin:gateway, port: 8080, kind: gateway, dependsOn: [content] }
  content: { path: builtin:content, port: 8082, routes: [/content] }
`;

export function loadFixture(yaml = PLATFORM_YAML): PlatformConfig {
  const dir = mkdtempSync(join(tmpdir(), 'platformctl-stacks-'));
  try {
    writeFileSync(join(dir, 'platform.yaml'), yaml);
    return loadPlatform(dir, undefined, {}).config;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function tempDir(): { dir: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'platformctl-synth-'));
  return { dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
