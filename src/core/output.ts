/**
 * The output host: the only place that writes to the terminal. Data goes to stdout (a JSON document
 * with `--json`, human text otherwise); progress, diagnostics and errors go to stderr. Colour and
 * spinners appear only on a TTY and never with NO_COLOR, TERM=dumb or --no-color.
 */
import type { Writable } from 'node:stream';
import { Chalk, type ChalkInstance } from 'chalk';
import { formatProblemLocation, type PlatformError } from './errors.ts';

export interface OutputOptions {
  json: boolean;
  color: boolean;
  verbose: boolean;
  /** Both stdin and stdout are TTYs and prompts were not disabled with --no-input. */
  interactive: boolean;
  /** stderr is a TTY: spinners and live redraws are allowed there. */
  liveProgress: boolean;
}

/** A long operation's progress: a spinner on a TTY, plain timestamped lines otherwise. */
export interface Progress {
  update(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

interface Streams {
  stdout: Writable;
  stderr: Writable;
}

/** Decides whether colour is allowed from flags, environment and the streams. */
export function colorAllowed(flag: boolean, env: NodeJS.ProcessEnv, isTTY: boolean): boolean {
  if (!flag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return isTTY;
}

export class Output {
  readonly options: OutputOptions;
  /** Colour functions; all identity functions when colour is off. */
  readonly style: ChalkInstance;
  private readonly streams: Streams;

  constructor(options: OutputOptions, streams: Streams = { stdout: process.stdout, stderr: process.stderr }) {
    this.options = options;
    this.streams = streams;
    this.style = new Chalk({ level: options.color ? 1 : 0 });
  }

  /** The command's result: JSON with --json, else the human rendering. */
  result(value: unknown, human: () => string): void {
    if (this.options.json) this.writeOut(`${JSON.stringify(value, null, 2)}\n`);
    else {
      const text = human();
      if (text) this.writeOut(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  /** One JSON line on stdout (streams of decisions/events under --json). */
  jsonLine(value: unknown): void {
    this.writeOut(`${JSON.stringify(value)}\n`);
  }

  /** Human text on stdout; suppressed under --json so stdout stays one JSON document. */
  print(text: string): void {
    if (!this.options.json) this.writeOut(text.endsWith('\n') ? text : `${text}\n`);
  }

  info(message: string): void {
    this.writeErr(`${message}\n`);
  }

  success(message: string): void {
    this.writeErr(`${this.style.green('✓')} ${message}\n`);
  }

  warn(message: string): void {
    this.writeErr(`${this.style.yellow('warning:')} ${message}\n`);
  }

  debug(message: string): void {
    if (this.options.verbose) this.writeErr(`${this.style.dim(`debug: ${message}`)}\n`);
  }

  /** Renders an error: one line of what, one of what to do; details only with --verbose. */
  error(err: PlatformError): void {
    if (this.options.json) {
      this.writeOut(
        `${JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint, details: err.details } }, null, 2)}\n`,
      );
    }
    const problems = (err.details?.problems ?? []) as Parameters<typeof formatProblemLocation>[0][];
    if (problems.length > 1) {
      for (const p of problems) {
        this.writeErr(`${this.style.red('error:')} ${formatProblemLocation(p)}: ${p.message}\n`);
        if (p.fix) this.writeErr(`  ${this.style.dim('fix:')} ${p.fix}\n`);
      }
    }
    this.writeErr(`${this.style.red('error:')} ${err.message}\n`);
    if (err.hint) this.writeErr(`${this.style.cyan('hint:')} ${err.hint}\n`);
    if (this.options.verbose && err.stack) this.writeErr(`${this.style.dim(stackWithCauses(err))}\n`);
  }

  /** Starts progress for a long operation. Spinners load lazily and only on a TTY. */
  async progress(text: string): Promise<Progress> {
    if (this.options.liveProgress && !this.options.json && this.options.color) {
      const { default: ora } = await import('ora');
      const spinner = ora({ text, stream: this.streams.stderr as NodeJS.WriteStream }).start();
      return {
        update: (t) => {
          spinner.text = t;
        },
        succeed: (t) => spinner.succeed(t),
        fail: (t) => spinner.fail(t),
        stop: () => spinner.stop(),
      };
    }
    this.info(`… ${text}`);
    return {
      update: (t) => this.info(`… ${t}`),
      succeed: (t) => this.success(t ?? text),
      fail: (t) => this.writeErr(`${this.style.red('✗')} ${t ?? text}\n`),
      stop: () => {},
    };
  }

  /** Renders rows as an aligned text table. */
  table(headers: string[], rows: (string | number)[][]): string {
    const cells = rows.map((r) => r.map((c) => String(c)));
    const widths = headers.map((h, i) =>
      Math.max(visibleLength(h), ...cells.map((r) => visibleLength(r[i] ?? ''))),
    );
    const line = (r: string[]) =>
      r
        .map((c, i) => c + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleLength(c))))
        .join('  ')
        .trimEnd();
    return [line(headers.map((h) => this.style.bold(h))), ...cells.map(line)].join('\n');
  }

  writeOut(text: string): void {
    this.streams.stdout.write(text);
  }

  writeErr(text: string): void {
    this.streams.stderr.write(text);
  }
}

// Escape sequences take no columns; strip them before measuring so coloured tables still align.
const ANSI = /\u001b\[[0-9;]*m/g;
function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}

function stackWithCauses(err: Error): string {
  let text = err.stack ?? String(err);
  let cause = err.cause;
  while (cause instanceof Error) {
    text += `\nCaused by: ${cause.stack ?? cause.message}`;
    cause = cause.cause;
  }
  return text;
}
