/**
 * Declarative policy rules: which resources (type globs), which stacks (env/tier/cloud), an
 * optional filter on the resource, and an assertion on JSON paths of the synthesized resource.
 * Built-in rules and the user's `policies/*.yaml` share this schema.
 */
import { z } from 'zod';

export const OPERATORS = [
  'equals',
  'notEquals',
  'in',
  'notIn',
  'exists',
  'absent',
  'truthy',
  'falsy',
  'gte',
  'lte',
  'hasKeys',
  'contains',
  'notContains',
  'matches',
] as const;
export type Operator = (typeof OPERATORS)[number];

export const conditionSchema = z.strictObject({
  /** Dotted path into the resource's arguments; `[n]` picks a list item, lists are searched otherwise. */
  path: z.string().min(1),
  op: z.enum(OPERATORS),
  value: z.unknown().optional(),
});
export type Condition = z.output<typeof conditionSchema>;

const assertionSchema = z.union([
  conditionSchema,
  z.strictObject({ all: z.array(conditionSchema).min(1) }),
  z.strictObject({ any: z.array(conditionSchema).min(1) }),
]);
export type Assertion = z.output<typeof assertionSchema>;

export const declarativeRuleSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, { error: 'lowercase letters, digits, dots and dashes' }),
  description: z.string().min(1),
  severity: z.enum(['error', 'warning']).default('error'),
  /** Resource type globs, e.g. `aws_s3_*`, `google_storage_bucket`. */
  resources: z.array(z.string().min(1)).min(1),
  /** Only stacks matching all given lists. */
  when: z
    .strictObject({
      env: z.array(z.string()).optional(),
      tier: z.array(z.enum(['dev', 'staging', 'prod'])).optional(),
      cloud: z.array(z.enum(['aws', 'azure', 'gcp'])).optional(),
    })
    .optional(),
  /** Only resources for which every condition holds. */
  where: z.array(conditionSchema).optional(),
  assert: assertionSchema,
  message: z.string().min(1),
  fix: z.string().min(1),
});
export type DeclarativeRule = z.output<typeof declarativeRuleSchema>;
export type DeclarativeRuleInput = z.input<typeof declarativeRuleSchema>;

/** A `policies/*.yaml` file: more rules, and built-in rules switched off by id. */
export const policyFileSchema = z.strictObject({
  rules: z.array(declarativeRuleSchema).default([]),
  disable: z.array(z.string()).default([]),
});
export type PolicyFile = z.output<typeof policyFileSchema>;
