/**
 * Reading the routing file named by `GATEWAY_CONFIG` (its schema is runtime/contract's). The local
 * provider writes it once at start and then changes instances, weights and faults live through the
 * admin API.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { type GatewayConfig, gatewayConfigSchema } from '../../contract/gateway-config.ts';

export class GatewayConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayConfigError';
  }
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
}

export function parseGatewayConfig(value: unknown, source = 'gateway config'): GatewayConfig {
  const parsed = gatewayConfigSchema.safeParse(value);
  if (!parsed.success) throw new GatewayConfigError(`${source} is invalid:\n${describeIssues(parsed.error)}`);
  for (const route of parsed.data.routes) {
    if (!parsed.data.services[route.service]) {
      // A route may exist before its instances do (the provider adds them live), so declare it empty.
      parsed.data.services[route.service] = { instances: [] };
    }
  }
  return parsed.data;
}

export function loadGatewayConfig(file: string | undefined): GatewayConfig {
  if (!file) return parseGatewayConfig({});
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayConfigError(`cannot read GATEWAY_CONFIG ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new GatewayConfigError(`GATEWAY_CONFIG ${file} is not JSON: ${(err as Error).message}`);
  }
  return parseGatewayConfig(json, `GATEWAY_CONFIG ${file}`);
}

export { describeIssues };
