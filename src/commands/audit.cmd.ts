import type { Command } from 'commander';
import { lazyAction } from './action.ts';
import { examples } from './help.ts';

export function registerAudit(program: Command): void {
  const audit = program
    .command('audit')
    .description('Read and verify the hash-chained audit log of mutating commands.');
  const verify = audit
    .command('verify')
    .description(
      'Verify the chain of .platform/audit.log; exit 5 and name the first bad line if it was tampered with.',
    )
    .action(lazyAction(async () => (await import('./audit.ts')).verify));
  examples(verify, [['check nobody edited the log', 'platformctl audit verify']]);
  const list = audit
    .command('list')
    .description('List audit records, newest last.')
    .option('--command <prefix>', 'only records whose command starts with this')
    .option('--since <iso>', 'only records at or after this ISO time')
    .option('--failed', 'only records of commands that failed')
    .action(lazyAction(async () => (await import('./audit.ts')).list));
  examples(list, [
    ['what failed today', 'platformctl audit list --failed --since 2026-01-01T00:00:00Z --json'],
  ]);
  const events = audit
    .command('events')
    .description(
      'Security events for a SIEM (ECS fields): login failures, refresh-token reuse, admin API use, policy violations, CLI changes.',
    )
    .option(
      '--type <action>',
      'only this event.action or prefix (auth.login_failed, auth, gateway.admin, policy)',
    )
    .option('--since <when>', 'only events newer than a duration (15m) or at/after an ISO time')
    .option('--service <name>', 'only events of this service (auth, gateway, platformctl)')
    .action(lazyAction(async () => (await import('./audit.ts')).events));
  examples(events, [
    ['failed logins in the last hour', 'platformctl audit events --type auth.login_failed --since 1h'],
    ['ship to a SIEM as JSON lines', 'platformctl audit events --json > security.ndjson'],
  ]);
}
