import { type Command, Option } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerDocs(program: Command): void {
  const docs = program
    .command('docs')
    .description('Generate the operator docs: CLI reference, error codes and architecture diagrams.');
  const generate = docs
    .command('generate')
    .description(
      'Write docs/cli.md from the command definitions, docs/errors.md from the error catalogues and docs/architecture.md (Mermaid) from platform.yaml.',
    )
    .option('--out <dir>', 'docs directory', 'docs')
    .addOption(new Option('--only <part>', 'generate one part').choices(['cli', 'errors', 'architecture']))
    .option('--check', 'do not write; exit 1 if a generated file is out of date')
    .action(lazyAction(async () => (await import('./docs.ts')).docsGenerate));
  examples(generate, [
    ['regenerate everything', 'platformctl docs generate'],
    ['in CI: fail when docs/cli.md is stale', 'platformctl docs generate --only cli --check'],
  ]);
}
