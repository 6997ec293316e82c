import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli.ts';
import { CLI_REFERENCE_COMMAND, renderCliReference } from '../../src/docs/cli-reference.ts';
import { REPO_ROOT } from '../helpers/cli.ts';

const FILE = join(REPO_ROOT, 'docs', 'cli.md');

describe('docs/cli.md', () => {
  it('matches the commander definitions', () => {
    const expected = renderCliReference(buildProgram());
    const actual = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '';
    if (actual !== expected) {
      const a = actual.split('\n');
      const e = expected.split('\n');
      const line = e.findIndex((l, i) => l !== a[i]);
      expect.fail(
        `docs/cli.md is out of date with the command definitions (first difference at line ${line + 1}:\n` +
          `  docs/cli.md: ${JSON.stringify(a[line] ?? '<end of file>')}\n  expected:    ${JSON.stringify(e[line] ?? '<end of file>')})\n` +
          `Regenerate it with:  ${CLI_REFERENCE_COMMAND}  and commit docs/cli.md`,
      );
    }
  });

  it('documents every command, option and example', () => {
    const text = renderCliReference(buildProgram());
    const walk = (cmd: ReturnType<typeof buildProgram>, path: string[]): void => {
      for (const sub of cmd.createHelp().visibleCommands(cmd)) {
        if (sub.name() === 'help') continue;
        const full = [...path, sub.name()];
        expect(text).toContain(`## ${full.join(' ')}`);
        for (const opt of sub
          .createHelp()
          .visibleOptions(sub)
          .filter((o) => o.long !== '--help'))
          expect(text).toContain(`\`${opt.flags}\``);
        walk(sub, full);
      }
    };
    walk(buildProgram(), ['platformctl']);
    expect(text).toContain('$ platformctl secrets set "*.SESSION_SECRET" --generate');
    // Placeholders survive Markdown rendering.
    expect(text).toContain('&lt;dir&gt;');
  });
});
