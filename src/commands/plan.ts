/**
 * `platformctl plan` / `apply`: terraform on the synthesized stacks, in dependency order. Terraform
 * output streams to stderr; the summary (stack, changes, applied) goes to stdout or --json.
 *
 * Exit codes: terraform plan's -detailed-exitcode 2 ("changes present") is success for us (exit 0,
 * `changes: true` in the summary): a plan with changes is the normal case, not an error. Policy
 * violations exit 5 before terraform runs; terraform failures exit 1; a protected environment
 * without --allow-prod exits 2.
 */
import { join } from 'node:path';
import type { CommandContext } from '../core/context.ts';
import { ExitCode, InterruptedError, PlatformError, UsageError } from '../core/errors.ts';
import { confirm } from '../core/prompts.ts';
import type { SynthesizedStack } from '../stacks/synth.ts';
import { renderPolicyReport } from './policy.ts';
import { outDir, parseClouds, parseEnvs } from './synth.ts';

interface PlanFlags {
  env?: string;
  stack?: string[];
  cloud?: string;
  dir?: string;
  synth?: boolean;
  allowProd?: boolean;
  dryRun?: boolean;
}

interface StackOutcome {
  stack: string;
  env: string;
  changes: boolean;
  applied: boolean;
}

/** Synthesizes (unless --no-synth), checks policy, and picks the stacks to run. */
async function prepare(
  ctx: CommandContext,
  opts: PlanFlags,
): Promise<{ outdir: string; stacks: SynthesizedStack[] } | ExitCode> {
  const { config, root } = ctx.loadPlatform();
  const envs = parseEnvs(opts.env);
  const outdir = outDir(ctx, opts.dir, root);
  const { readManifest, synthesize } = await import('../stacks/synth.ts');
  if (opts.synth !== false) {
    const synthesized = synthesize(config, { envs, clouds: parseClouds(opts.cloud), outdir });
    ctx.out.info(`synthesized ${synthesized.stacks.length} stacks into ${outdir}`);
    const { loadRules, readStacks, report } = await import('../policy/engine.ts');
    const policy = report(readStacks(outdir), loadRules(root));
    if (policy.errors > 0) {
      ctx.out.writeErr(`${renderPolicyReport(ctx, policy)}\n`);
      ctx.out.result({ outdir, policy, stacks: [] }, () => '');
      ctx.out.info(
        'refusing to run terraform while policy rules fail (fix them, or disable a rule in policies/*.yaml)',
      );
      return ExitCode.policyViolation;
    }
  }
  let manifest: ReturnType<typeof readManifest>;
  try {
    manifest = readManifest(outdir);
  } catch {
    throw new UsageError(
      `no synthesized stacks in ${outdir}`,
      'run `platformctl synth` first, or drop --no-synth',
    );
  }
  let stacks = manifest.stacks.filter((s) => envs.length === 0 || envs.includes(s.env));
  if (opts.stack?.length) {
    const unknown = opts.stack.filter((n) => !manifest.stacks.some((s) => s.name === n));
    if (unknown.length)
      throw new UsageError(
        `unknown stack ${unknown.map((u) => `"${u}"`).join(', ')}`,
        'list the stacks with `platformctl synth --json`',
        'UNKNOWN_STACK',
      );
    stacks = stacks.filter((s) => opts.stack?.includes(s.name));
  }
  if (stacks.length === 0) throw new UsageError('no stacks selected', 'check --env and --stack');
  return { outdir, stacks };
}

/**
 * Ctrl-C stops after the running terraform step. The terminal already sends SIGINT to terraform
 * (same process group), which then finishes cleanly and releases its state lock; forwarding a
 * second SIGINT would make it exit at once and leave the lock behind.
 */
function interruptible(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  // `on`, not `once`: while a listener stays, execa's exit hook does not re-raise the signal.
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}

/** Runs a terraform step; a failure caused by Ctrl-C is reported as an interruption. */
async function step<T>(signal: AbortSignal, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (signal.aborted) throw new InterruptedError('interrupted: terraform stopped after cleaning up');
    throw err;
  }
}

async function planAll(
  ctx: CommandContext,
  outdir: string,
  stacks: SynthesizedStack[],
  signal: AbortSignal,
): Promise<StackOutcome[]> {
  const tf = await import('../providers/terraform.ts');
  const outcomes: StackOutcome[] = [];
  for (const stack of stacks) {
    if (signal.aborted) throw new InterruptedError();
    const options = {
      cwd: join(outdir, 'stacks', stack.name),
      env: ctx.env,
      color: ctx.out.options.color,
      onOutput: (chunk: string) => ctx.out.writeErr(chunk),
    };
    ctx.out.info(`── ${stack.name}: terraform init`);
    await step(signal, () => tf.terraformInit(options));
    if (signal.aborted) throw new InterruptedError();
    ctx.out.info(`── ${stack.name}: terraform plan`);
    const { changes } = await step(signal, () => tf.terraformPlan(options));
    outcomes.push({ stack: stack.name, env: stack.env, changes, applied: false });
  }
  return outcomes;
}

function render(ctx: CommandContext, outcomes: StackOutcome[], verb: 'plan' | 'apply'): void {
  ctx.out.result({ changes: outcomes.some((o) => o.changes), stacks: outcomes }, () =>
    ctx.out.table(
      verb === 'plan' ? ['STACK', 'CHANGES'] : ['STACK', 'CHANGES', 'APPLIED'],
      outcomes.map((o) =>
        verb === 'plan'
          ? [o.stack, o.changes ? 'yes' : 'no']
          : [o.stack, o.changes ? 'yes' : 'no', o.applied ? 'yes' : 'no'],
      ),
    ),
  );
}

export async function plan(ctx: CommandContext, _args: string[], opts: PlanFlags): Promise<ExitCode> {
  const prepared = await prepare(ctx, opts);
  if (typeof prepared === 'number') return prepared;
  const interrupt = interruptible();
  try {
    const { applyOrder } = await import('../stacks/apply-order.ts');
    const outcomes = await planAll(ctx, prepared.outdir, applyOrder(prepared.stacks), interrupt.signal);
    render(ctx, outcomes, 'plan');
    return ExitCode.ok;
  } finally {
    interrupt.dispose();
  }
}

export async function apply(ctx: CommandContext, _args: string[], opts: PlanFlags): Promise<ExitCode> {
  const { config } = ctx.loadPlatform();
  const prepared = await prepare(ctx, opts);
  if (typeof prepared === 'number') return prepared;
  // Judged on the stacks actually selected, before terraform runs at all.
  const protectedEnvs = [
    ...new Set(
      prepared.stacks.filter((s) => s.protected || config.environments[s.env]?.protected).map((s) => s.env),
    ),
  ];
  if (protectedEnvs.length && !opts.allowProd && !opts.dryRun)
    throw new PlatformError(
      'PROTECTED_ENVIRONMENT',
      `refusing to apply to protected environment ${protectedEnvs.map((e) => `"${e}"`).join(', ')}`,
      {
        hint: 'pass --allow-prod (and confirm, or --yes in CI) to apply there; --yes alone never unlocks it',
      },
    );
  const { applyOrder } = await import('../stacks/apply-order.ts');
  const order = applyOrder(prepared.stacks);
  const selected = new Set(order.map((s) => s.name));
  const waits = (s: SynthesizedStack) => s.dependsOn.filter((d) => selected.has(d));
  if (opts.dryRun) {
    ctx.out.info('dry run: stacks would be planned and applied in this order, each after the ones it reads:');
    ctx.out.result(
      { dryRun: true, order: order.map((s) => ({ stack: s.name, env: s.env, after: waits(s) })) },
      () =>
        ctx.out.table(
          ['#', 'STACK', 'AFTER'],
          order.map((s, i) => [String(i + 1), s.name, waits(s).join(', ') || '-']),
        ),
    );
    return ExitCode.ok;
  }
  const interrupt = interruptible();
  const outcomes: StackOutcome[] = [];
  try {
    const tf = await import('../providers/terraform.ts');
    // One stack at a time: a stack that reads another's outputs is planned only once those exist.
    for (const stack of order) {
      const [outcome] = await planAll(ctx, prepared.outdir, [stack], interrupt.signal);
      if (!outcome) continue;
      outcomes.push(outcome);
      if (!outcome.changes) continue;
      const ok = await confirm(ctx, `apply ${stack.name} (${stack.env}) as planned above?`);
      if (!ok) {
        ctx.out.warn(`${stack.name} not applied; the stacks after it were not planned`);
        render(ctx, outcomes, 'apply');
        return ExitCode.failure;
      }
      if (interrupt.signal.aborted) throw new InterruptedError();
      ctx.out.info(`── ${stack.name}: terraform apply`);
      await step(interrupt.signal, () =>
        tf.terraformApply({
          cwd: join(prepared.outdir, 'stacks', stack.name),
          env: ctx.env,
          color: ctx.out.options.color,
          onOutput: (chunk: string) => ctx.out.writeErr(chunk),
        }),
      );
      outcome.applied = true;
    }
    if (!outcomes.some((o) => o.changes)) ctx.out.info('no changes: nothing to apply');
    render(ctx, outcomes, 'apply');
    return ExitCode.ok;
  } finally {
    interrupt.dispose();
  }
}
