/**
 * The effective delivery strategy of one service: platform `delivery` defaults, overridden by
 * `services.<name>.delivery`, overridden by command-line flags. Conditions are compiled here, so a
 * typo in platform.yaml is reported at file:line before anything is deployed.
 */
import { relative } from 'node:path';
import type { LoadedPlatform } from '../core/config/load.ts';
import type { AnalysisSpec, DeliverySpec, PlatformConfig } from '../core/config/schema.ts';
import { readYamlFile } from '../core/config/yaml-source.ts';
import { ConfigError, type ConfigProblem, unknownServiceError } from '../core/errors.ts';
import { type Condition, ConditionSyntaxError, type ParseOptions, parseCondition } from './conditions.ts';

export type StrategyName = DeliverySpec['strategy'];

/** A resolved step: analysis steps carry their full settings and compiled conditions. */
export type ResolvedStep =
  | { kind: 'setWeight'; weight: number }
  | { kind: 'pause'; durationMs: number }
  | { kind: 'pauseUntilPromoted' }
  | { kind: 'analysis'; analysis: AnalysisSpec };

export interface ResolvedStrategy {
  strategy: StrategyName;
  steps: ResolvedStep[];
  /** The platform/service analysis settings (used by blue/green and rolling, which have no steps). */
  analysis: AnalysisSpec;
  blueGreen: DeliverySpec['blueGreen'];
  /** Post-promotion bake at 100%, ms (0 = none). */
  bake: number;
}

export interface StrategyOverrides {
  strategy?: StrategyName;
  /** Overrides every analysis interval (`--step-interval`). */
  intervalMs?: number;
}

/** Where a list of conditions came from in platform.yaml, for located errors. */
interface ConditionOrigin {
  path: (string | number)[];
  conditions: string[];
}

export function resolveStrategy(
  config: PlatformConfig,
  service: string,
  overrides: StrategyOverrides = {},
): { strategy: ResolvedStrategy; origins: ConditionOrigin[] } {
  const svc = config.services[service];
  if (!svc) throw unknownServiceError(config.services, service);
  const base = config.delivery;
  const own = svc.delivery ?? {};
  const analysis: AnalysisSpec = { ...base.analysis, ...definedOnly(own.analysis ?? {}) };
  if (overrides.intervalMs !== undefined) analysis.interval = overrides.intervalMs;
  const stepsFromService = own.steps !== undefined;
  const rawSteps = own.steps ?? base.steps;
  const origins: ConditionOrigin[] = [];
  const analysisPath = own.analysis?.conditions
    ? ['services', service, 'delivery', 'analysis', 'conditions']
    : ['delivery', 'analysis', 'conditions'];
  origins.push({ path: analysisPath, conditions: analysis.conditions });
  const steps: ResolvedStep[] = rawSteps.map((step, i) => {
    if ('setWeight' in step) return { kind: 'setWeight', weight: step.setWeight };
    if ('pause' in step) {
      return typeof step.pause === 'number'
        ? { kind: 'pause', durationMs: step.pause }
        : { kind: 'pauseUntilPromoted' };
    }
    const merged: AnalysisSpec = { ...analysis, ...definedOnly(step.analysis) };
    if (overrides.intervalMs !== undefined) merged.interval = overrides.intervalMs;
    if (step.analysis.conditions) {
      const prefix = stepsFromService ? ['services', service, 'delivery', 'steps'] : ['delivery', 'steps'];
      origins.push({ path: [...prefix, i, 'analysis', 'conditions'], conditions: step.analysis.conditions });
    }
    return { kind: 'analysis', analysis: merged };
  });
  return {
    strategy: {
      strategy: overrides.strategy ?? own.strategy ?? base.strategy,
      steps,
      analysis,
      blueGreen: { ...base.blueGreen, ...definedOnly(own.blueGreen ?? {}) },
      bake: own.bake ?? base.bake,
    },
    origins,
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Compiles every condition of the strategy. Syntax errors become one ConfigError listing each
 * problem at its file:line:column in platform.yaml.
 */
export function compileConditions(
  platform: Pick<LoadedPlatform, 'file'> | undefined,
  origins: ConditionOrigin[],
  options: ParseOptions = {},
): Map<string, Condition> {
  const compiled = new Map<string, Condition>();
  const problems: ConfigProblem[] = [];
  let source: ReturnType<typeof readYamlFile> | undefined;
  for (const origin of origins) {
    origin.conditions.forEach((text, i) => {
      if (compiled.has(text)) return;
      try {
        compiled.set(text, parseCondition(text, options));
      } catch (err) {
        if (!(err instanceof ConditionSyntaxError)) throw err;
        let line = 1;
        let column = 1;
        const rel = platform ? relative(process.cwd(), platform.file) : 'platform.yaml';
        const file = rel && !rel.startsWith('..') ? rel : (platform?.file ?? 'platform.yaml');
        try {
          source ??= platform ? readYamlFile(platform.file) : undefined;
          const at = source?.locate([...origin.path, i]);
          // Conditions are usually quoted strings: the column points inside the quotes.
          if (at) ({ line, column } = { line: at.line, column: at.column + err.column });
        } catch {
          // the file was readable a moment ago; fall back to line 1
        }
        problems.push({
          file,
          line,
          column,
          path: [...origin.path, i].join('.'),
          message: `${err.reason} (condition "${err.condition}")`,
          ...(err.hint ? { fix: err.hint } : {}),
        });
      }
    });
  }
  if (problems.length) throw new ConfigError(problems);
  return compiled;
}
