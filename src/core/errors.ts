/**
 * One error model for the whole CLI. Domain code throws a `PlatformError` (or a subclass) with a
 * stable `code` from the catalogue (error-codes.ts, which also fixes the exit code), a one-line
 * message and a hint saying what to do. The single top-level handler, `runCommand` in
 * src/commands/run-command.ts, renders it through the output host; nothing else prints errors.
 */

import { closest } from './closest.ts';
import { type CatalogueCode, ERROR_CODES } from './error-codes.ts';
import type { ExitCode } from './exit-codes.ts';

export { ExitCode } from './exit-codes.ts';

/** Whose fault an error is: the user's input/environment, or a bug in platformctl. */
export type ErrorSource = 'user' | 'internal';

export interface PlatformErrorOptions {
  /** What the user should do next, one line. */
  hint?: string;
  /**
   * Not an option: the exit code is declared once, with the code, in src/core/error-codes.ts.
   * (Typed so that passing one explains where it belongs.)
   */
  exitCode?: 'declare the exit code with the code in src/core/error-codes.ts';
  source?: ErrorSource;
  cause?: unknown;
  /** Structured details included in `--json` error output. */
  details?: Record<string, unknown>;
}

/** Base class of every error platformctl expects and knows how to explain. */
export class PlatformError extends Error {
  /** Stable machine-readable tag from the catalogue (error-codes.ts), e.g. `CONFIG_INVALID`. */
  readonly code: CatalogueCode;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly source: ErrorSource;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: CatalogueCode, message: string, options: PlatformErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PlatformError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = ERROR_CODES[code].exit;
    this.source = options.source ?? 'user';
    this.details = options.details;
  }
}

/** The catalogue codes whose exit code is 2 (usage): the only ones a UsageError may carry. */
export type UsageCode = {
  [K in CatalogueCode]: (typeof ERROR_CODES)[K]['exit'] extends typeof ExitCode.usage ? K : never;
}[CatalogueCode];

/** Bad flags, a missing required value in non-interactive mode, conflicting options. Exit 2. */
export class UsageError extends PlatformError {
  constructor(message: string, hint?: string, code: UsageCode = 'USAGE') {
    super(code, message, { hint });
    this.name = 'UsageError';
  }
}

/** A service name that platform.yaml does not declare; the hint lists the ones it does. */
export function unknownServiceError(services: Record<string, unknown>, name: string): UsageError {
  const guess = closest(name, Object.keys(services));
  return new UsageError(
    `no service "${name}" in platform.yaml`,
    `${guess ? `did you mean "${guess}"? ` : ''}services are: ${Object.keys(services).join(', ')}`,
    'UNKNOWN_SERVICE',
  );
}

/** One located problem in a configuration or scenario file. */
export interface ConfigProblem {
  file: string;
  line: number;
  column: number;
  /** Dotted path of the offending key, e.g. `services.auth.port`. */
  path: string;
  message: string;
  /** How to fix it. */
  fix?: string;
}

/** A config/scenario/experiment file is malformed. Lists every problem at once. Exit 2. */
export class ConfigError extends PlatformError {
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[], summary?: string) {
    const first = problems[0];
    super(
      'CONFIG_INVALID',
      summary ??
        (problems.length === 1 && first
          ? `${formatProblemLocation(first)}: ${first.message}`
          : `${problems.length} problems in ${first?.file ?? 'configuration'}`),
      {
        hint:
          problems.length === 1 ? first?.fix : 'fix each problem listed above, then run the command again',
        details: { problems },
      },
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** `file:line:column` of a problem, the form editors and terminals turn into links. */
export function formatProblemLocation(p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}`;
}

/** The message has already been shown (e.g. a failed check table); just exit with this code. */
export class ReportedError extends PlatformError {
  /** The exit code of the report already shown (thresholds failed, rolled back, …). */
  override readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode, message = 'already reported') {
    super('REPORTED', message);
    this.name = 'ReportedError';
    this.exitCode = exitCode;
  }
}

/** Raised when the user interrupts (Ctrl-C) after the operation has cleaned up. */
export class InterruptedError extends PlatformError {
  constructor(message = 'interrupted') {
    super('INTERRUPTED', message);
    this.name = 'InterruptedError';
  }
}

/** Wraps anything thrown into a PlatformError so the top-level handler has one shape to render. */
export function toPlatformError(err: unknown): PlatformError {
  if (err instanceof PlatformError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PlatformError('INTERNAL', message, {
    source: 'internal',
    cause: err,
    hint: 'this is a bug in platformctl: rerun with --verbose and report it with the output',
  });
}
