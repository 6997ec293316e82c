import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerService(program: Command): void {
  const service = program
    .command('service')
    .description('Scaffold new services from templates/ and keep them in step with the templates.');
  const create = service
    .command('new <name>')
    .description(
      'Generate a service (code on runtime/lib, tests, Dockerfile, Kustomize base + overlays, optional Helm chart, GitHub Actions workflow) and register it in platform.yaml.',
    )
    .option('--template <name>', 'node-http or worker (prompted on a terminal)')
    .option('--port <port>', 'local port (default: the next free one)')
    .option('--owner <team>', 'owning team (prompted on a terminal)')
    .option('--helm', 'also generate a Helm chart')
    .option(
      '--registry <registry>',
      "container registry for the image (default: the one platform.yaml's Kubernetes environments pull from)",
    )
    .option('--dry-run', 'list the files that would be written, write nothing')
    .action(lazyAction(async () => (await import('./service.ts')).create, { mutating: true }));
  examples(create, [
    ['answer the questions interactively', 'platformctl service new billing'],
    [
      'in CI, fully from flags',
      'platformctl service new billing --template node-http --owner payments --no-input',
    ],
    [
      'see what would be generated',
      'platformctl service new thumbnails --template worker --owner media --dry-run',
    ],
  ]);
  const upgrade = service
    .command('upgrade <name>')
    .description(
      'Re-render a generated service with the current template and three-way-merge: your edits are kept, conflicts are marked and listed (exit 1).',
    )
    .option('--dry-run', 'show what would change, write nothing')
    .action(lazyAction(async () => (await import('./service.ts')).upgrade, { mutating: true }));
  examples(upgrade, [
    ['bring template fixes into a service', 'platformctl service upgrade billing'],
    ['preview first', 'platformctl service upgrade billing --dry-run --json'],
  ]);
  const adopt = service
    .command('adopt <name>')
    .description(
      "Give an existing service (e.g. the built-in runtime) the template's Dockerfile, Kustomize manifests and workflow; existing files are kept, and `service upgrade` manages them from then on.",
    )
    .option('--template <name>', 'template whose deploy files to use', 'node-http')
    .option('--owner <team>', 'owning team', 'platform')
    .option('--helm', 'also generate a Helm chart')
    .option(
      '--registry <registry>',
      "container registry for the image (default: the one platform.yaml's Kubernetes environments pull from)",
    )
    .option('--dry-run', 'list the files that would be written, write nothing')
    .action(lazyAction(async () => (await import('./service.ts')).adopt, { mutating: true }));
  examples(adopt, [
    ['deploy files for the built-in content service', 'platformctl service adopt content --owner media'],
  ]);
}
