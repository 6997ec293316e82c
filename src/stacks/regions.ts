/**
 * Regions and zones per cloud. `--cloud` can retarget an environment to another cloud (to compare
 * or plan a move), so each region has a counterpart on the other clouds in the same geography.
 */
import type { Cloud } from '../core/config/schema.ts';

/** Equivalent regions, one row per geography: [aws, azure, gcp]. */
const GEOGRAPHIES: [string, string, string][] = [
  ['eu-west-1', 'westeurope', 'europe-west1'],
  ['eu-west-2', 'uksouth', 'europe-west2'],
  ['eu-central-1', 'germanywestcentral', 'europe-west3'],
  ['eu-north-1', 'swedencentral', 'europe-north1'],
  ['us-east-1', 'eastus', 'us-east1'],
  ['us-east-2', 'eastus2', 'us-east4'],
  ['us-west-2', 'westus2', 'us-west1'],
  ['ca-central-1', 'canadacentral', 'northamerica-northeast1'],
  ['sa-east-1', 'brazilsouth', 'southamerica-east1'],
  ['ap-southeast-1', 'southeastasia', 'asia-southeast1'],
  ['ap-southeast-2', 'australiaeast', 'australia-southeast1'],
  ['ap-northeast-1', 'japaneast', 'asia-northeast1'],
  ['ap-south-1', 'centralindia', 'asia-south1'],
];

const COLUMN: Record<Cloud, number> = { aws: 0, azure: 1, gcp: 2 };

function cloudOf(region: string): Cloud | undefined {
  for (const row of GEOGRAPHIES) {
    const i = row.indexOf(region);
    if (i >= 0) return (['aws', 'azure', 'gcp'] as const)[i];
  }
  return undefined;
}

/**
 * The region to use on `target` for a region given on any cloud. A region already on `target`
 * (or unknown to the table, when the target is its own cloud) is kept; `undefined` when there is
 * no known counterpart.
 */
export function translateRegion(region: string, from: Cloud, target: Cloud): string | undefined {
  if (from === target) return region;
  const source = cloudOf(region);
  if (source === target) return region;
  const row = GEOGRAPHIES.find((r) => r[COLUMN[from]] === region);
  return row?.[COLUMN[target]];
}

/** Three availability zones of a region, in the form each provider expects. */
export function zonesOf(cloud: Cloud, region: string): string[] {
  if (cloud === 'aws') return ['a', 'b', 'c'].map((z) => `${region}${z}`);
  if (cloud === 'gcp') return ['b', 'c', 'd'].map((z) => `${region}-${z}`);
  return ['1', '2', '3'];
}

/** A short region code for names with length limits (Azure storage accounts: 24 chars). */
export function regionCode(region: string): string {
  const parts = region.split('-');
  if (parts.length > 1) return parts.map((p) => (/^\d+$/.test(p) ? p : p.slice(0, 2))).join('');
  return region.slice(0, 6);
}
