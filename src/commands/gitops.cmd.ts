import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerGitops(program: Command): void {
  const gitops = program
    .command('gitops')
    .description(
      'Render Kubernetes manifests into a GitOps directory (Argo CD or Flux) and promote images by pull request.',
    );
  const render = gitops
    .command('render')
    .description(
      "Write an environment's manifests (a Kustomize base and overlay per service) with Argo CD Applications (app-of-apps), or Flux Kustomizations with --flux.",
    )
    .requiredOption('--env <name>', 'environment from platform.yaml')
    .option('--out <dir>', 'the GitOps directory', 'gitops')
    .option('--flux', 'write Flux GitRepository + Kustomizations instead of Argo CD Applications')
    .option('--repo-url <url>', 'Git URL Argo CD / Flux pull from (default: the origin remote)')
    .option('--revision <branch>', 'branch Argo CD / Flux follow', 'main')
    .option(
      '--terraform-outputs <file...>',
      "`terraform output -json` of the environment's core and data stacks: database, broker, bucket and workload identity for the overlays",
    )
    .option('--dry-run', 'list the files and write nothing')
    .option('--check', 'write nothing; exit 5 if the directory differs from what platform.yaml renders')
    .action(lazyAction(async () => (await import('./gitops.ts')).render, { mutating: true }));
  examples(render, [
    ['Argo CD app-of-apps for staging', 'platformctl gitops render --env staging'],
    ['Flux for prod, into deploy/', 'platformctl gitops render --env prod --flux --out deploy'],
    ['fail CI when the committed directory is stale', 'platformctl gitops render --env staging --check'],
    [
      'with the managed backends Terraform created',
      'platformctl gitops render --env staging --terraform-outputs core.json data.json',
    ],
    ['check an overlay renders', 'kubectl kustomize gitops/services/content/overlays/staging'],
  ]);
  const promote = gitops
    .command('promote <service>')
    .description(
      "Bump the service's image tag in an environment's overlay and open a pull request (token from GITHUB_TOKEN or GH_TOKEN).",
    )
    .requiredOption('--to <env>', 'environment to promote into, e.g. prod')
    .option('--image-tag <tag>', 'the tag to pin (default: the one the --from overlay pins)')
    .option('--from <env>', 'environment whose tag is promoted when --image-tag is not given', 'staging')
    .option('--repo <owner/name>', 'repository (default: GITHUB_REPOSITORY, then the origin remote)')
    .option('--base <branch>', 'branch the pull request targets', 'main')
    .option('--path <dir>', 'the GitOps directory inside the repository', 'gitops')
    .action(lazyAction(async () => (await import('./gitops.ts')).promote, { mutating: true }));
  examples(promote, [
    ['promote what staging runs to prod', 'platformctl gitops promote content --to prod'],
    ['pin an exact tag', 'platformctl gitops promote content --to prod --image-tag 1.4.2'],
  ]);
}
