/** `platformctl policy check|rules`: thin handlers over src/policy. */
import type { CommandContext } from '../core/context.ts';
import { ExitCode, PlatformError } from '../core/errors.ts';
import type { PolicyReport } from '../policy/engine.ts';
import { outDir } from './synth.ts';

/** The human report: a table of violations, then one summary line. */
export function renderPolicyReport(ctx: CommandContext, report: PolicyReport): string {
  const { style } = ctx.out;
  const summary = `policy: ${report.rules} rules over ${report.resources} resources in ${report.stacks} stacks: `;
  if (report.violations.length === 0) return `${summary}${style.green('no violations')}`;
  const table = ctx.out.table(
    ['RULE', 'RESOURCE', 'STACK', 'MESSAGE', 'FIX'],
    report.violations.map((v) => [
      v.severity === 'error' ? style.red(v.rule) : style.yellow(v.rule),
      v.resource,
      v.stack,
      v.message,
      v.fix,
    ]),
  );
  return `${table}\n\n${summary}${style.red(`${report.errors} errors`)}, ${report.warnings} warnings`;
}

export async function check(ctx: CommandContext, _args: string[], opts: { dir?: string }): Promise<ExitCode> {
  const root = tryRoot(ctx);
  const dir = outDir(ctx, opts.dir, root ?? ctx.cwd);
  const { loadRules, readStacks, report } = await import('../policy/engine.ts');
  const result = report(readStacks(dir), loadRules(root));
  if (root && result.violations.length > 0) {
    // Violations are security events too (`platformctl audit events --type policy`).
    const { recordPolicyViolations } = await import('../observability/audit-events.ts');
    recordPolicyViolations(root, result.violations);
  }
  ctx.out.result({ dir, ...result }, () => renderPolicyReport(ctx, result));
  return result.errors > 0 ? ExitCode.policyViolation : ExitCode.ok;
}

export async function rules(ctx: CommandContext): Promise<void> {
  const { loadRules, summarizeRules } = await import('../policy/engine.ts');
  const set = loadRules(tryRoot(ctx));
  const list = summarizeRules(set);
  ctx.out.result({ rules: list, files: set.files, disabled: set.disabled }, () =>
    ctx.out.table(
      ['RULE', 'SEVERITY', 'SOURCE', 'DESCRIPTION'],
      list.map((r) => [r.id, r.severity, r.source, r.description]),
    ),
  );
}

/** policy check works on a directory alone; platform.yaml only adds policies/*.yaml. */
function tryRoot(ctx: CommandContext): string | undefined {
  try {
    return ctx.loadPlatform().root;
  } catch (err) {
    if (err instanceof PlatformError && err.code === 'CONFIG_NOT_FOUND') return undefined;
    throw err;
  }
}
