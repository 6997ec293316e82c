import { type Command, Option } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

function common(cmd: Command): Command {
  return cmd
    .addOption(new Option('--env <env>', 'environment name(s), comma-separated, or "all"').default('all'))
    .option('--stack <name...>', 'only these stacks (names as in `platformctl synth`)')
    .option('--cloud <cloud>', "target cloud(s) as for synth (default: each environment's own)")
    .option('--dir <dir>', 'synthesized output (default: cdktf.out beside platform.yaml)')
    .option('--no-synth', 'use the existing output instead of synthesizing (and policy-checking) first');
}

export function registerPlan(program: Command): void {
  const plan = common(
    program
      .command('plan')
      .description(
        'Synthesize, policy-check, then `terraform init` + `plan` each stack (plan.tfplan saved beside it). Exit 0 with or without changes; see "changes" in the summary.',
      ),
  ).action(lazyAction(async () => (await import('./plan.ts')).plan));
  examples(plan, [
    ['plan staging', 'platformctl plan --env staging'],
    ['plan one stack, JSON summary on stdout', 'platformctl plan --stack dev-aws-eu-west-1-core --json'],
  ]);
  const apply = common(
    program
      .command('apply')
      .description(
        'Plan, confirm, then `terraform apply` the saved plans of stacks with changes. Protected environments need --allow-prod.',
      ),
  )
    .option('--allow-prod', 'allow applying to a protected environment (in addition to confirming)')
    .option('--dry-run', 'plan and show what would be applied, apply nothing')
    .action(lazyAction(async () => (await import('./plan.ts')).apply, { mutating: true }));
  examples(apply, [
    ['apply dev after reviewing the plan', 'platformctl apply --env dev'],
    ['apply prod from CI (explicit consent)', 'platformctl apply --env prod --allow-prod --yes'],
  ]);
}
