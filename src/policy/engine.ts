/**
 * Runs the policy rules over synthesized stacks: built-in declarative rules, typed rules, and
 * the user's `policies/*.yaml`, minus any rule ids a policy file disables.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readYamlFile, validateWith } from '../core/config/yaml-source.ts';
import { PlatformError, UsageError } from '../core/errors.ts';
import { BUILTIN_DESCRIPTIONS, BUILTIN_RULES } from './builtin-rules.ts';
import { checkAssertion, check as checkCondition, globMatch } from './matcher.ts';
import { type DeclarativeRule, declarativeRuleSchema, policyFileSchema } from './rule-schema.ts';
import { TYPED_RULES } from './typed-rules.ts';
import { resourcesOf, type StackDoc, type TypedRule, type Violation } from './types.ts';

export interface RuleSet {
  declarative: DeclarativeRule[];
  typed: TypedRule[];
  /** Policy files that were read, for the report. */
  files: string[];
  disabled: string[];
}

export interface RuleSummary {
  id: string;
  severity: string;
  source: 'builtin' | 'user';
  description: string;
}

const builtins = BUILTIN_RULES.map((r) => declarativeRuleSchema.parse(r));

/** Built-in rules plus `<root>/policies/*.yaml` (or `.json`, a YAML subset), sorted by file name. */
export function loadRules(root: string | undefined): RuleSet {
  let declarative: DeclarativeRule[] = [...builtins];
  let typed = [...TYPED_RULES];
  const files: string[] = [];
  const disabled: string[] = [];
  const dir = root ? join(root, 'policies') : undefined;
  if (dir && existsSync(dir)) {
    for (const name of readdirSync(dir)
      .filter((f) => /\.(ya?ml|json)$/.test(f))
      .sort()) {
      const file = join(dir, name);
      const policy = validateWith(policyFileSchema, readYamlFile(file, join('policies', name)));
      files.push(join('policies', name));
      declarative.push(...policy.rules);
      disabled.push(...policy.disable);
    }
  }
  if (disabled.length) {
    const off = new Set(disabled);
    declarative = declarative.filter((r) => !off.has(r.id));
    typed = typed.filter((r) => !off.has(r.id));
  }
  return { declarative, typed, files, disabled };
}

/** One line per rule id (several declarative entries may share one). */
export function summarizeRules(rules: RuleSet): RuleSummary[] {
  const seen = new Map<string, RuleSummary>();
  for (const r of [...rules.declarative, ...rules.typed]) {
    if (seen.has(r.id)) continue;
    const builtin = builtins.includes(r as DeclarativeRule) || TYPED_RULES.includes(r as TypedRule);
    seen.set(r.id, {
      id: r.id,
      severity: r.severity,
      source: builtin ? 'builtin' : 'user',
      description: (builtin && BUILTIN_DESCRIPTIONS[r.id]) || r.description,
    });
  }
  return [...seen.values()].sort((a, b) => a.id.localeCompare(b.id));
}

function applies(rule: DeclarativeRule, stack: StackDoc): boolean {
  const w = rule.when;
  if (!w) return true;
  if (w.env && !w.env.includes(stack.env)) return false;
  if (w.tier && !w.tier.includes(stack.tier as 'dev')) return false;
  if (w.cloud && !w.cloud.includes(stack.cloud as 'aws')) return false;
  return true;
}

/** All violations in the given stacks, ordered by stack, resource and rule. */
export function evaluate(stacks: StackDoc[], rules: RuleSet): Violation[] {
  const out: Violation[] = [];
  for (const stack of stacks) {
    const resources = resourcesOf(stack);
    for (const rule of rules.declarative) {
      if (!applies(rule, stack)) continue;
      for (const [type, name, args] of resources) {
        if (!rule.resources.some((g) => globMatch(g, type))) continue;
        if (rule.where && !rule.where.every((c) => checkCondition(args, c))) continue;
        if (checkAssertion(args, rule.assert)) continue;
        out.push({
          rule: rule.id,
          severity: rule.severity,
          stack: stack.name,
          resource: `${type}.${name}`,
          message: rule.message,
          fix: rule.fix,
        });
      }
    }
    for (const rule of rules.typed) {
      for (const v of rule.check(stack))
        out.push({ ...v, rule: rule.id, severity: rule.severity, stack: stack.name });
    }
  }
  const key = (v: Violation) => `${v.stack}\u0000${v.resource}\u0000${v.rule}\u0000${v.message}`;
  return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

interface ManifestStack {
  name: string;
  env: string;
  tier: string;
  cloud: string;
  file: string;
}

/** Reads the stacks a `platformctl synth` wrote into `outdir`. */
export function readStacks(outdir: string): StackDoc[] {
  const manifestFile = join(outdir, 'manifest.json');
  if (!existsSync(manifestFile))
    throw new UsageError(
      `no synthesized stacks in ${outdir}`,
      'run `platformctl synth` first, or pass --dir',
      'NOT_SYNTHESIZED',
    );
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
    generator?: string;
    stacks?: ManifestStack[];
  };
  if (manifest.generator !== 'platformctl' || !Array.isArray(manifest.stacks))
    throw new PlatformError('MANIFEST_INVALID', `${manifestFile} was not written by platformctl synth`, {
      hint: 'run `platformctl synth` to regenerate it',
    });
  return manifest.stacks.map((s) => ({
    name: s.name,
    env: s.env,
    tier: s.tier,
    cloud: s.cloud,
    doc: JSON.parse(readFileSync(join(outdir, s.file), 'utf8')),
  }));
}

export interface PolicyReport {
  stacks: number;
  resources: number;
  rules: number;
  files: string[];
  violations: Violation[];
  errors: number;
  warnings: number;
}

export function report(stacks: StackDoc[], rules: RuleSet): PolicyReport {
  const violations = evaluate(stacks, rules);
  return {
    stacks: stacks.length,
    resources: stacks.reduce((n, s) => n + resourcesOf(s).length, 0),
    rules: summarizeRules(rules).length,
    files: rules.files,
    violations,
    errors: violations.filter((v) => v.severity === 'error').length,
    warnings: violations.filter((v) => v.severity === 'warning').length,
  };
}
