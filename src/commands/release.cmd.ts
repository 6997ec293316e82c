import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerRelease(program: Command): void {
  const release = program
    .command('release')
    .description('Build and list immutable, versioned service releases.');
  const build = release
    .command('build')
    .argument('<service>', 'service to build')
    .description(
      'Bundle a service into .platform/releases/<service>/<version>/ with a manifest (version, git sha, checksum).',
    )
    .option(
      '--release <version>',
      'release version (default: the next patch version after the newest release, e.g. 0.1.1)',
    )
    .option('--dry-run', 'bundle in memory and print the version and checksum; write nothing')
    .action(lazyAction(async () => (await import('./release.ts')).build, { mutating: true }));
  examples(build, [
    ['build the next version of content from the current sources', 'platformctl release build content'],
    ['build a named version for a canary', 'platformctl release build content --release 2.0.0'],
  ]);
  const list = release
    .command('list')
    .argument('[service]', 'only this service')
    .description('List built releases, oldest first.')
    .action(lazyAction(async () => (await import('./release.ts')).list));
  examples(list, [['every release of content', 'platformctl release list content']]);
}
