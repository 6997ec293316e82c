/**
 * The root program: global flags and the list of verbs. Each verb group registers its commands from
 * a small `*.cmd.ts` file that declares flags and examples only; handlers are imported on demand.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
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

/** Builds the commander program (exported for the CLI reference generator and tests). */
export function buildProgram(): Command {
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

  registerInit(program);
  registerConfig(program);
  registerDoctor(program);
  registerAudit(program);
  registerObservability(program);
  registerService(program);
  registerPipeline(program);
  registerGitops(program);
  registerChaos(program);
  registerSecrets(program);
  registerUp(program);
  registerDb(program);
  registerAnalytics(program);
  registerTraces(program);
  registerDashboard(program);
  registerRelease(program);
  registerDemo(program);
  registerOnprem(program);
  registerDocs(program);
  registerLoad(program);
  registerDeploy(program);
  registerCanary(program);
  registerDrill(program);
  registerSynth(program);
  registerPolicy(program);
  registerPlan(program);
  registerGraph(program);

  program.addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 failure, 2 usage or config error, 3 thresholds failed, 4 rolled back,
            5 policy violation or drift, 6 chaos steady state deviated, 130 interrupted.
Docs: README.md and docs/cli.md`,
  );
  return program;
}

/** Entry point used by bin/platformctl. */
export async function main(argv: string[]): Promise<void> {
  // `platformctl ... | head` closes the pipe early; that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const program = buildProgram();
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
