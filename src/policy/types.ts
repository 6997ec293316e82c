/** Shapes shared by the policy engine, its rules and the command that renders the report. */

export type Severity = 'error' | 'warning';

/** One synthesized stack as the rules see it. */
export interface StackDoc {
  name: string;
  env: string;
  tier: string;
  cloud: string;
  /** The parsed cdk.tf.json. */
  doc: { resource?: Record<string, Record<string, Record<string, unknown>>>; [k: string]: unknown };
}

export interface Violation {
  rule: string;
  severity: Severity;
  stack: string;
  /** `type.name` as in Terraform addresses. */
  resource: string;
  message: string;
  fix: string;
}

/** A rule written in TypeScript, for relations between resources and arithmetic. */
export interface TypedRule {
  id: string;
  description: string;
  severity: Severity;
  check(stack: StackDoc): Omit<Violation, 'rule' | 'severity' | 'stack'>[];
}

/** Every resource of a stack as [type, name, arguments]. */
export function resourcesOf(stack: StackDoc): [string, string, Record<string, unknown>][] {
  const out: [string, string, Record<string, unknown>][] = [];
  for (const [type, byName] of Object.entries(stack.doc.resource ?? {})) {
    for (const [name, args] of Object.entries(byName)) out.push([type, name, args]);
  }
  return out;
}
