import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, type Scenario, type ScenarioOverrides } from '../../src/load/scenario.ts';

/** Writes YAML to a temporary scenario file and loads it. */
export function scenarioFrom(yaml: string, overrides: ScenarioOverrides = {}): Scenario {
  const dir = mkdtempSync(join(tmpdir(), 'load-scenario-'));
  const file = join(dir, 'scenario.yaml');
  writeFileSync(file, yaml);
  return loadScenario(file, overrides);
}
