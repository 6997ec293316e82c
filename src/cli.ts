/**
 * The root program: global flags and the list of verbs. Each verb group registers its commands from
 * a small `*.cmd.ts` file that declares flags and examples only; handlers are imported on demand.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Help, Option } from 'commander';
import { registerAnalytics } from './commands/analytics.cmd.ts';
import { registerAudit } from './commands/audit.cmd.ts';
import { registerCanary } from './commands/canary.cmd.ts';
import { registerChaos } from './commands/chaos.cmd.ts';
import { registerConfig } from './commands/config.cmd.ts';
import { registerDashboard } from './commands/dashboard.cmd.ts';
import { registerDb } from './commands/db.cmd.ts';
import { registerDemo } from './commands/demo.cmd.ts';
import { registerDeploy } from './commands/deploy.cmd.ts';
import { registerDocs } from './commands/docs.cmd.ts';
import { registerDoctor } from './commands/doctor.cmd.ts';
import { registerDrill } from './commands/drill.cmd.ts';
import { registerGitops } from './commands/gitops.cmd.ts';
import { registerGraph } from './commands/graph.cmd.ts';
import { registerIncident } from './commands/incident.cmd.ts';
import { registerInit } from './commands/init.cmd.ts';
import { registerLoad } from './commands/load.cmd.ts';
import { registerObservability } from './commands/observability.cmd.ts';
import { registerOnprem } from './commands/onprem.cmd.ts';
import { registerPipeline } from './commands/pipeline.cmd.ts';
import { registerPlan } from './commands/plan.cmd.ts';
import { registerPolicy } from './commands/policy.cmd.ts';
import { registerRelease } from './commands/release.cmd.ts';
import { registerSecrets } from './commands/secrets.cmd.ts';
import { registerService } from './commands/service.cmd.ts';
import { registerSynth } from './commands/synth.cmd.ts';
import { registerTraces } from './commands/traces.cmd.ts';
import { registerUp } from './commands/up.cmd.ts';

/** Injected by scripts/build.ts; undefined when the sources run unbundled (tests, docs generator). */
declare const PLATFORMCTL_VERSION: string | undefined;

function version(): string {
  if (typeof PLATFORMCTL_VERSION === 'string') return PLATFORMCTL_VERSION;
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Every verb group, in the order `--help` lists them. */
const REGISTRARS: readonly ((program: Command) => void)[] = [
  registerInit,
  registerConfig,
  registerDoctor,
  registerAudit,
  registerObservability,
  registerService,
  registerPipeline,
  registerGitops,
  registerChaos,
  registerSecrets,
  registerUp,
  registerDb,
  registerAnalytics,
  registerTraces,
  registerDashboard,
  registerRelease,
  registerDemo,
  registerOnprem,
  registerDocs,
  registerLoad,
  registerDeploy,
  registerCanary,
  registerDrill,
  registerIncident,
  registerSynth,
  registerPolicy,
  registerPlan,
  registerGraph,
];

/** What root `--help` shows of one top-level command, computed at build time (scripts/build.ts). */
export interface VerbEntry {
  name: string;
  /** Index into the registrars of the group that declares this command. */
  group: number;
  term: string;
  description: string;
}

/**
 * Builds the commander program. With no arguments every command is declared (the CLI reference
 * generator and tests use this). `main` declares only what a run needs: the one verb group
 * invoked, or, for root help, light stand-ins built from the build-time verb table — declaring
 * ~150 commands with their options and examples was half of `--help`'s start-up time.
 */
export function buildProgram(
  only?: readonly ((program: Command) => void)[],
  stubs?: readonly VerbEntry[],
): Command {
  const program = new Command('platformctl')
    .description(
      'Scaffold, synthesize, deploy, canary, load-test, break and drill a content and analytics platform.',
    )
    .version(version(), '-V, --version', 'print the platformctl version')
    .addOption(
      new Option('--json', 'print one machine-readable JSON document (or JSON lines for streams) on stdout'),
    )
    .addOption(
      new Option(
        '--no-input',
        'never prompt; a missing value is an error naming its flag (implied by CI=true)',
      ),
    )
    .addOption(new Option('-y, --yes', 'answer yes to confirmations (never unlocks a protected environment)'))
    .addOption(
      new Option('--config <file>', 'use this platform.yaml instead of searching upwards').env(
        'PLATFORMCTL_CONFIG',
      ),
    )
    .addOption(new Option('-v, --verbose', 'show debug output and stack traces'))
    .addOption(new Option('--no-color', 'disable colour (also NO_COLOR=1 or TERM=dumb)'))
    .addOption(new Option('-C, --cwd <dir>', 'run as if started in <dir>'))
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .exitOverride();

  for (const register of only ?? REGISTRARS) register(program);
  if (stubs) addStubs(program, stubs);

  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 thresholds failed, 4 rolled back,
            5 policy violation or drift, 6 chaos steady state deviated, 130 interrupted.
Docs: README.md and docs/cli.md`,
  );
  return program;
}

/** The top-level commands and which group declares each, for the build-time verb table. */
export function describeVerbs(): VerbEntry[] {
  const entries: VerbEntry[] = [];
  REGISTRARS.forEach((register, group) => {
    const probe = new Command('probe');
    register(probe);
    const help = probe.createHelp();
    for (const cmd of help.visibleCommands(probe).filter((c) => c.name() !== 'help'))
      entries.push({
        name: cmd.name(),
        group,
        term: help.subcommandTerm(cmd),
        description: cmd.description(),
      });
  });
  return entries;
}

function addStubs(program: Command, stubs: readonly VerbEntry[]): void {
  const terms = new Map(stubs.map((v) => [v.name, v.term]));
  for (const v of stubs) program.command(v.name).description(v.description);
  const standard = new Help();
  program.configureHelp({ subcommandTerm: (cmd) => terms.get(cmd.name()) ?? standard.subcommandTerm(cmd) });
}

/** Global options that take a value: their value is not the verb. */
const VALUE_OPTIONS = new Set(['--config', '-C', '--cwd']);

/** The first positional argument, i.e. the verb, or undefined when there is none. */
export function requestedVerb(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return args[i + 1];
    if (VALUE_OPTIONS.has(arg)) i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

function verbTable(): VerbEntry[] | undefined {
  try {
    return JSON.parse(readFileSync(new URL('./verbs.json', import.meta.url), 'utf8')) as VerbEntry[];
  } catch {
    return undefined; // unbundled run: declare everything
  }
}

function programFor(args: readonly string[]): Command {
  const table = verbTable();
  if (!table) return buildProgram();
  const verb = requestedVerb(args);
  if (verb === undefined) return buildProgram([], table);
  const entry = table.find((v) => v.name === verb);
  // `help <verb>`, typos (for suggestions) and anything unexpected get the whole program.
  return entry ? buildProgram([REGISTRARS[entry.group] as (program: Command) => void]) : buildProgram();
}

/** Entry point used by bin/platformctl. */
export async function main(argv: string[]): Promise<void> {
  // `platformctl ... | head` closes the pipe early; that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const program = programFor(argv.slice(2));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with code 0; everything else commander rejects is a usage error.
      // (Literal codes: importing errors.ts here would cost start-up time for every command.)
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    throw err;
  }
}
