/**
 * Terraform through execa, safe for automation: never prompts (`-input=false`, TF_INPUT=0),
 * `TF_IN_AUTOMATION=1` so it prints no "next steps" advice, plans saved to `plan.tfplan` and
 * applied exactly as planned, `-detailed-exitcode` turned into a `changes` flag. Output streams to
 * a callback (the command forwards it to stderr); nothing here prints.
 */
import { execa } from 'execa';
import { InterruptedError, PlatformError } from '../core/errors.ts';

export const PLAN_FILE = 'plan.tfplan';

export interface TerraformOptions {
  /** The stack's directory (holds cdk.tf.json). */
  cwd: string;
  /** The terraform binary; default `terraform` from PATH (or PLATFORMCTL_TERRAFORM). */
  binary?: string;
  /** Base environment; TF_IN_AUTOMATION and TF_INPUT are always set on top. */
  env?: NodeJS.ProcessEnv;
  color?: boolean;
  /** Every chunk terraform writes, stdout and stderr alike. */
  onOutput?: (chunk: string) => void;
  /** Aborting sends terraform SIGINT, which lets it release state locks cleanly. */
  signal?: AbortSignal;
}

export interface PlanOutcome {
  /** Terraform's -detailed-exitcode said 2: the plan has changes. */
  changes: boolean;
  planFile: string;
}

function binaryOf(opts: TerraformOptions): string {
  return opts.binary ?? opts.env?.PLATFORMCTL_TERRAFORM ?? 'terraform';
}

/** Runs terraform with the automation settings; resolves with its exit code. */
export async function runTerraform(args: string[], opts: TerraformOptions): Promise<number> {
  const binary = binaryOf(opts);
  const colorArgs = opts.color ? [] : ['-no-color'];
  const env = { ...(opts.env ?? process.env), TF_IN_AUTOMATION: '1', TF_INPUT: '0' };
  const [sub, ...rest] = args;
  const child = execa(binary, [sub as string, ...colorArgs, ...rest], {
    cwd: opts.cwd,
    env,
    extendEnv: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
    reject: false,
    cancelSignal: opts.signal,
    killSignal: 'SIGINT',
    forceKillAfterDelay: 30_000,
  });
  child.all?.setEncoding('utf8');
  child.all?.on('data', (chunk: string) => opts.onOutput?.(chunk));
  const result = await child;
  if (result.isCanceled) throw new InterruptedError('terraform was interrupted');
  const code = (result as { code?: string }).code;
  if (
    code === 'ENOENT' ||
    (result.failed && result.exitCode === undefined && /ENOENT/.test(String(result.message)))
  )
    throw new PlatformError(
      'TERRAFORM_NOT_FOUND',
      `terraform was not found (looked for "${binary}" on PATH)`,
      {
        hint: 'install Terraform >= 1.10 (S3 native locking needs it), or set PLATFORMCTL_TERRAFORM to its path',
      },
    );
  return result.exitCode ?? 1;
}

function failed(step: string, cwd: string, exitCode: number): PlatformError {
  return new PlatformError('TERRAFORM_FAILED', `terraform ${step} failed in ${cwd} (exit ${exitCode})`, {
    hint: 'read terraform output above; rerun with --verbose for details',
    details: { step, cwd, exitCode },
  });
}

export async function terraformInit(opts: TerraformOptions): Promise<void> {
  const code = await runTerraform(['init', '-input=false'], opts);
  if (code !== 0) throw failed('init', opts.cwd, code);
}

/** `plan -detailed-exitcode`: 0 no changes, 2 changes, anything else a failure. */
export async function terraformPlan(opts: TerraformOptions, destroy = false): Promise<PlanOutcome> {
  const args = [
    'plan',
    '-input=false',
    `-out=${PLAN_FILE}`,
    '-detailed-exitcode',
    ...(destroy ? ['-destroy'] : []),
  ];
  const code = await runTerraform(args, opts);
  if (code === 0) return { changes: false, planFile: PLAN_FILE };
  if (code === 2) return { changes: true, planFile: PLAN_FILE };
  throw failed('plan', opts.cwd, code);
}

/** Applies exactly the saved plan (no new plan, no prompt). */
export async function terraformApply(opts: TerraformOptions): Promise<void> {
  const code = await runTerraform(['apply', '-input=false', PLAN_FILE], opts);
  if (code !== 0) throw failed('apply', opts.cwd, code);
}
