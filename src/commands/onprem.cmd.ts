import { type Command, Option } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerOnprem(program: Command): void {
  const onprem = program
    .command('onprem')
    .description(
      'On-prem nodes: an Ansible playbook for nginx at the edge, container runtime, node exporter and OS tuning.',
    );
  const render = onprem
    .command('render')
    .description(
      'Render the Ansible playbook, role and group vars (services, ports, gateway upstream) for this platform.',
    )
    .option('--out <dir>', 'output directory', 'onprem')
    .addOption(
      new Option('-e, --env <env>', 'environment the nodes serve').default('prod').env('PLATFORMCTL_ENV'),
    )
    .option('--server-name <name>', 'nginx server_name (DNS name of the edge)', '_')
    .action(lazyAction(async () => (await import('./onprem.ts')).onpremRender));
  examples(render, [
    [
      'render into ./onprem and check it',
      'platformctl onprem render && ansible-playbook -i onprem/inventory/hosts.ini --syntax-check onprem/site.yml',
    ],
    [
      'staging edge with its DNS name',
      'platformctl onprem render --env staging --out onprem-staging --server-name staging.example.com',
    ],
    [
      'apply (after editing onprem/inventory/hosts.ini)',
      'cd onprem && ansible-playbook site.yml --check --diff && ansible-playbook site.yml',
    ],
  ]);
}
