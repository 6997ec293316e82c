/**
 * docs/errors.md: the two error catalogues as tables, the CLI's codes with their exit codes and the
 * runtime's problem codes with their HTTP statuses. Generated, and checked by a test, so the page
 * is never behind the code.
 */
import { PROBLEM_CODES } from '../../runtime/contract/problem-codes.ts';
import { ERROR_CODES } from '../core/error-codes.ts';
import { ExitCode } from '../core/exit-codes.ts';

/** How to regenerate docs/errors.md. */
export const ERROR_DOCS_COMMAND = 'npm run build && node bin/platformctl docs generate --only errors';

const EXIT_NAMES = Object.fromEntries(Object.entries(ExitCode).map(([name, code]) => [code, name]));

/** The markdown of docs/errors.md. */
export function renderErrorCodes(): string {
  const cli = Object.entries(ERROR_CODES).map(
    ([code, spec]) => `| \`${code}\` | ${spec.exit} (${EXIT_NAMES[spec.exit]}) | ${spec.meaning} |`,
  );
  const runtime = Object.entries(PROBLEM_CODES).map(
    ([code, spec]) => `| \`${code}\` | ${spec.status} | ${spec.meaning} |`,
  );
  return [
    '# Error codes',
    '',
    `<!-- Generated from src/core/error-codes.ts and runtime/contract/problem-codes.ts: ${ERROR_DOCS_COMMAND} -->`,
    '',
    'Scripts branch on these codes, never on message text. The CLI prints its code with `--json`',
    '(`error.code`) and records it in the audit log; the runtime sends its code in every',
    'RFC 9457 problem (`application/problem+json`, member `code`).',
    '',
    '## CLI error codes',
    '',
    "Each code always ends the process with the same exit code (see the README's exit code table).",
    '',
    '| code | exit | meaning |',
    '| --- | --- | --- |',
    ...cli,
    '',
    '## Runtime problem codes',
    '',
    '| code | HTTP status | meaning |',
    '| --- | --- | --- |',
    ...runtime,
    '',
  ].join('\n');
}
