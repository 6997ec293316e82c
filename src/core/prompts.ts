/**
 * Prompts that can never hang a CI job: without an interactive terminal, a missing value is a usage
 * error naming the flag that supplies it. @inquirer/prompts loads only when a prompt is shown.
 */

import type { CommandContext } from './context.ts';
import { UsageError } from './errors.ts';

/** Answers injected by tests (PLATFORMCTL_PROMPT_ANSWERS, JSON keyed by flag) stand in for a human. */
function injected(ctx: CommandContext, flag: string): string | undefined {
  const raw = ctx.env.PLATFORMCTL_PROMPT_ANSWERS;
  if (!raw) return undefined;
  const answers = JSON.parse(raw) as Record<string, string>;
  return answers[flag];
}

function missing(flag: string, what: string): UsageError {
  return new UsageError(
    `missing ${what}: pass --${flag}`,
    `in CI or with --no-input every value must come from a flag, e.g. --${flag} <value>`,
    'MISSING_FLAG',
  );
}

/** Returns `value` if given, else asks on a TTY, else fails naming `--flag`. */
export async function askText(
  ctx: CommandContext,
  opts: {
    flag: string;
    message: string;
    value?: string;
    default?: string;
    validate?: (v: string) => true | string;
  },
): Promise<string> {
  if (opts.value !== undefined) return opts.value;
  const answer = injected(ctx, opts.flag);
  if (answer !== undefined) return answer;
  if (!ctx.interactive) {
    if (opts.default !== undefined) return opts.default;
    throw missing(opts.flag, opts.message.replace(/[?:]\s*$/, '').toLowerCase());
  }
  const { input } = await import('@inquirer/prompts');
  return input({ message: opts.message, default: opts.default, validate: opts.validate });
}

/** Like askText for a fixed set of choices. */
export async function askChoice<T extends string>(
  ctx: CommandContext,
  opts: { flag: string; message: string; value?: T; choices: readonly T[]; default?: T },
): Promise<T> {
  const given = opts.value ?? (injected(ctx, opts.flag) as T | undefined);
  if (given !== undefined) {
    if (!opts.choices.includes(given))
      throw new UsageError(`--${opts.flag} must be one of ${opts.choices.join(', ')} (got "${given}")`);
    return given;
  }
  if (!ctx.interactive) {
    if (opts.default !== undefined) return opts.default;
    throw missing(opts.flag, opts.message.replace(/[?:]\s*$/, '').toLowerCase());
  }
  const { select } = await import('@inquirer/prompts');
  return select({
    message: opts.message,
    choices: opts.choices.map((c) => ({ value: c, name: c })),
    default: opts.default,
  });
}

/** Asks for confirmation of a risky action; `--yes` answers yes; without a TTY it refuses. */
export async function confirm(ctx: CommandContext, message: string): Promise<boolean> {
  if (ctx.yes) return true;
  const answer = injected(ctx, 'yes');
  if (answer !== undefined) return answer === 'true' || answer === 'y';
  if (!ctx.interactive)
    throw new UsageError(
      `${message} — refusing without confirmation`,
      'pass --yes to confirm in CI or with --no-input',
      'CONFIRMATION_REQUIRED',
    );
  const { confirm: ask } = await import('@inquirer/prompts');
  return ask({ message, default: false });
}
