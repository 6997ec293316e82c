import { type Command, Option } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

const load = async () => await import('./secrets.ts');

function common(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('-e, --env <env>', 'environment whose secrets to use').default('dev').env('PLATFORMCTL_ENV'),
    )
    .addOption(
      new Option(
        '--backend <backend>',
        'secret backend (default: secrets.backend in platform.yaml, else local)',
      ).choices(['local', 'vault']),
    );
}

export function registerSecrets(program: Command): void {
  const secrets = program
    .command('secrets')
    .description(
      'Manage secrets: an AES-256-GCM encrypted local store or HashiCorp Vault KV v2; injected into local services at `up`.',
    );
  secrets.addHelpText(
    'after',
    `
Naming: <service>.<ENV_VAR> is injected into that service, *.<ENV_VAR> into every service.
Master key (local backend): PLATFORMCTL_MASTER_KEY (32 bytes, base64 or hex) or .platform/master.key (0600, created on first set).
Vault backend: VAULT_ADDR, and VAULT_TOKEN or VAULT_ROLE_ID + VAULT_SECRET_ID (AppRole).`,
  );

  const set = common(secrets.command('set').argument('<name>', 'secret name, e.g. auth.JWT_SIGNING_KEY'))
    .description(
      'Store a secret. The value comes from stdin, a hidden prompt, --from-file or --generate — never from a flag.',
    )
    .option('--from-file <path>', 'read the value from a file (one trailing newline is removed)')
    .option('--generate', 'generate a random value (base64url); `rotate <name>` can regenerate it later')
    .addOption(new Option('--bytes <n>', 'random bytes for --generate').default('32'))
    .option('--allow-prod', 'allow writing to a protected environment')
    .option('--dry-run', 'validate and show what would be stored (never the value), change nothing')
    .action(lazyAction(async () => (await load()).secretsSet, { mutating: true }));
  examples(set, [
    ['type the value at a hidden prompt', 'platformctl secrets set auth.JWT_SIGNING_KEY'],
    [
      'pipe it in (CI)',
      'printf %s "$DB_PASSWORD" | platformctl secrets set content.DATABASE_PASSWORD --env staging',
    ],
    ['a random value every service receives', 'platformctl secrets set "*.SESSION_SECRET" --generate'],
  ]);

  const get = common(secrets.command('get').argument('<name>', 'secret name'))
    .description('Show a secret: masked as *** unless --reveal.')
    .option('--reveal', 'print the value itself')
    .action(lazyAction(async () => (await load()).secretsGet));
  examples(get, [
    ['check it exists (masked)', 'platformctl secrets get auth.JWT_SIGNING_KEY'],
    ['use the value in a script', 'export TOKEN="$(platformctl secrets get ci.TOKEN --reveal)"'],
  ]);

  const list = common(secrets.command('list'))
    .description('List secret names, versions and which services receive them (never values; no key needed).')
    .action(lazyAction(async () => (await load()).secretsList));
  examples(list, [
    ['names in dev', 'platformctl secrets list'],
    ['names in Vault for staging, as JSON', 'platformctl secrets list --env staging --backend vault --json'],
  ]);

  const rm = common(secrets.command('rm').argument('<name>', 'secret name'))
    .description('Delete a secret (all versions).')
    .option('--allow-prod', 'allow deleting from a protected environment')
    .option('--dry-run', 'show what would be deleted, change nothing')
    .action(lazyAction(async () => (await load()).secretsRm, { mutating: true }));
  examples(rm, [['delete without a prompt', 'platformctl secrets rm content.OLD_TOKEN --yes']]);

  const rotate = common(secrets.command('rotate').argument('[name]', 'a generated secret to regenerate'))
    .description(
      'Without a name: re-encrypt every local store under a new master key. With a name: regenerate a secret created with --generate.',
    )
    .option('--allow-prod', 'allow rotating a secret of a protected environment')
    .option('--dry-run', 'show what would be rotated, change nothing')
    .action(lazyAction(async () => (await load()).secretsRotate, { mutating: true }));
  examples(rotate, [
    ['new master key file, all environments re-encrypted', 'platformctl secrets rotate'],
    [
      'the key lives in the environment: give the new one too',
      'PLATFORMCTL_NEW_MASTER_KEY="$(openssl rand -base64 32)" platformctl secrets rotate',
    ],
    ['regenerate one generated secret', 'platformctl secrets rotate "*.SESSION_SECRET" --env staging'],
  ]);

  const render = common(secrets.command('render-external'))
    .description(
      'Write External Secrets Operator manifests (SecretStore + one ExternalSecret per service) for Vault, AWS, Azure or GCP.',
    )
    .addOption(
      new Option('--store <store>', 'cloud secret store the cluster reads')
        .choices(['vault', 'aws', 'azure', 'gcp'])
        .makeOptionMandatory(),
    )
    .option('--out <dir>', 'output directory ("-" for stdout)', 'deploy/external-secrets/<env>')
    .option('--names-from <env>', "take secret names from this environment's store (default: --env)")
    .option('--cluster-store', 'render a ClusterSecretStore instead of a namespaced SecretStore')
    .option('--refresh <interval>', 'ExternalSecret refreshInterval', '1h')
    .option(
      '--terraform-outputs <file...>',
      "`terraform output -json` of the environment's core stack: the identity the store's service account assumes",
    )
    .action(lazyAction(async () => (await load()).secretsRenderExternal));
  examples(render, [
    ['prod from Vault', 'platformctl secrets render-external --env prod --store vault'],
    [
      'AWS Secrets Manager, names taken from dev, to stdout',
      'platformctl secrets render-external --env prod --store aws --names-from dev --out -',
    ],
  ]);
}
