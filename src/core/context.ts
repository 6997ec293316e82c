/**
 * What every command handler receives: the resolved global flags, the output host, and lazy access
 * to the platform config. Commands never read process.argv or process.env for these themselves.
 */
import { resolve } from 'node:path';
import { isatty } from 'node:tty';
import type { LoadedPlatform } from './config/load.ts';
import { loadCachedPlatform } from './config/validated-cache.ts';
import { colorAllowed, Output } from './output.ts';

/** The full loaders (YAML parser and schema), imported only when the cache cannot answer. */
interface Loaders {
  loadPlatform: typeof import('./config/load.ts').loadPlatform;
  loadPlatformOrRunning: typeof import('./config/running-config.ts').loadPlatformOrRunning;
}

/** Global flags, as parsed by commander on the root program. */
export interface GlobalFlags {
  json?: boolean;
  input?: boolean;
  yes?: boolean;
  config?: string;
  verbose?: boolean;
  color?: boolean;
  cwd?: string;
}

export class CommandContext {
  readonly cwd: string;
  readonly json: boolean;
  /** Prompts are allowed: stdin and stdout are TTYs, not CI, and --no-input was not given. */
  readonly interactive: boolean;
  readonly yes: boolean;
  readonly verbose: boolean;
  readonly configPath: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly out: Output;
  /** The command line as typed, for the audit log. */
  readonly argv: string[];
  /** Where the audit record goes when no platform.yaml existed before the command (e.g. init). */
  auditRoot: string | undefined;
  private platform: LoadedPlatform | undefined;
  private loaders: Loaders | undefined;

  constructor(flags: GlobalFlags, argv: string[], env: NodeJS.ProcessEnv = process.env) {
    this.env = env;
    this.argv = argv;
    this.cwd = resolve(flags.cwd ?? process.cwd());
    this.json = flags.json ?? false;
    this.yes = flags.yes ?? false;
    this.verbose = (flags.verbose ?? false) || Boolean(env.DEBUG);
    this.configPath = flags.config ?? env.PLATFORMCTL_CONFIG;
    const ci = env.CI !== undefined && env.CI !== '' && env.CI !== 'false';
    // isatty(0), not process.stdin.isTTY: touching process.stdin builds the stdin stream, and for a
    // file or /dev/null that loads fs streams, fs/promises and readline (~4 ms of every start).
    this.interactive = (flags.input ?? true) && !ci && isatty(0) && Boolean(process.stdout.isTTY);
    const stderrTTY = Boolean(process.stderr.isTTY);
    this.out = new Output({
      json: this.json,
      color: colorAllowed(flags.color ?? true, env, stderrTTY),
      verbose: this.verbose,
      interactive: this.interactive,
      liveProgress: stderrTTY,
    });
  }

  /**
   * Makes `loadPlatform` ready to answer synchronously: from the validated-config cache when
   * platform.yaml is unchanged (no YAML parser, no zod), else by importing the full loaders.
   * Never throws: problems with the file surface when a command asks for the platform.
   */
  async preparePlatform(): Promise<void> {
    if (this.platform || this.loaders) return;
    this.platform = loadCachedPlatform(this.cwd, this.configPath, this.env);
    if (this.platform) return;
    const [{ loadPlatform }, { loadPlatformOrRunning }] = await Promise.all([
      import('./config/load.ts'),
      import('./config/running-config.ts'),
    ]);
    this.loaders = { loadPlatform, loadPlatformOrRunning };
  }

  private requireLoaders(): Loaders {
    if (!this.loaders)
      throw new Error('CommandContext.preparePlatform() must run before loading the platform');
    return this.loaders;
  }

  /** The validated platform.yaml (loaded once, on first use; after `preparePlatform`). */
  loadPlatform(): LoadedPlatform {
    this.platform ??= this.requireLoaders().loadPlatform(this.cwd, this.configPath, this.env);
    return this.platform;
  }

  /**
   * loadPlatform for commands that operate what runs (`down`, `status`, `top`, `logs`): when
   * platform.yaml no longer loads, they work from the configuration the platform was started
   * with, after a warning, instead of refusing.
   */
  loadRunningPlatform(): LoadedPlatform {
    this.platform ??= this.requireLoaders().loadPlatformOrRunning(this.cwd, this.configPath, this.env, (m) =>
      this.out.warn(m),
    );
    return this.platform;
  }
}
