/**
 * Renders docs/cli.md from the commander definitions themselves (the same objects `--help` uses),
 * so the reference cannot drift from the CLI: a test regenerates it and compares.
 */
import type { Argument, Command, Help, Option } from 'commander';

export const CLI_REFERENCE_COMMAND = 'npm run build && node bin/platformctl docs generate --only cli';

/** Escapes text for Markdown outside code spans: `<flag>` would otherwise vanish as an HTML tag. */
function md(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('')
    .replace(/\|/g, '\\|');
}

function code(text: string): string {
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function anchor(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9 -]/g, '')
    .replace(/ /g, '-');
}

/** The text added with addHelpText (examples, notes): full help minus the generated part. */
function extraHelp(cmd: Command): string {
  let full = '';
  cmd.configureOutput({
    writeOut: (s) => {
      full += s;
    },
    writeErr: () => {},
    getOutHelpWidth: () => 100,
    getErrHelpWidth: () => 100,
    getOutHasColors: () => false,
    getErrHasColors: () => false,
  });
  cmd.outputHelp();
  const body = cmd.helpInformation();
  const at = full.indexOf(body);
  const after = at === -1 ? '' : full.slice(at + body.length);
  return after.replace(/^\n+/, '').replace(/\s+$/, '');
}

function optionRow(opt: Option): string {
  const notes: string[] = [];
  if (opt.mandatory) notes.push('required');
  if (opt.argChoices) notes.push(`one of: ${opt.argChoices.map((c) => code(c)).join(', ')}`);
  if (opt.defaultValue !== undefined && opt.defaultValue !== false)
    notes.push(
      `default: ${code(typeof opt.defaultValue === 'string' ? opt.defaultValue : JSON.stringify(opt.defaultValue))}`,
    );
  if (opt.envVar) notes.push(`env: ${code(opt.envVar)}`);
  return `| ${code(opt.flags)} | ${md(opt.description)}${notes.length ? ` (${notes.join('; ')})` : ''} |`;
}

function argumentRow(arg: Argument): string {
  const term = arg.required
    ? `<${arg.name()}${arg.variadic ? '...' : ''}>`
    : `[${arg.name()}${arg.variadic ? '...' : ''}]`;
  return `| ${code(term)} | ${md(arg.description || '')} |`;
}

function visibleCommands(help: Help, cmd: Command): Command[] {
  return help.visibleCommands(cmd).filter((c) => c.name() !== 'help');
}

function section(cmd: Command, depth: number): string[] {
  const help = cmd.createHelp();
  const title = fullName(cmd);
  const lines: string[] = [`${'#'.repeat(Math.min(depth, 4))} ${title}`, ''];
  if (cmd.description()) lines.push(md(cmd.description()), '');
  lines.push('```', help.commandUsage(cmd), '```', '');
  const args = cmd.registeredArguments;
  if (args.length > 0)
    lines.push('| Argument | Description |', '| --- | --- |', ...args.map(argumentRow), '');
  const options = help.visibleOptions(cmd).filter((o) => o.long !== '--help');
  if (options.length > 0)
    lines.push('| Option | Description |', '| --- | --- |', ...options.map(optionRow), '');
  const subs = visibleCommands(help, cmd);
  if (subs.length > 0)
    lines.push(
      '| Command | Description |',
      '| --- | --- |',
      ...subs.map(
        (s) => `| [${code(s.name())}](#${anchor(fullName(s))}) | ${md(s.summary() || s.description())} |`,
      ),
      '',
    );
  const extra = extraHelp(cmd);
  if (extra) lines.push('```text', extra, '```', '');
  for (const sub of subs) lines.push(...section(sub, depth + 1));
  return lines;
}

/** The whole reference as Markdown. Deterministic: no dates, versions or terminal widths in it. */
export function renderCliReference(program: Command): string {
  const help = program.createHelp();
  const top = visibleCommands(help, program);
  const toc = top.flatMap((c) => [
    `- [${fullName(c)}](#${anchor(fullName(c))})`,
    ...visibleCommands(help, c).map((s) => `  - [${fullName(s)}](#${anchor(fullName(s))})`),
  ]);
  const global = help.visibleOptions(program).filter((o) => o.long !== '--help');
  const lines = [
    '# platformctl CLI reference',
    '',
    `<!-- Generated from the commander definitions in src/commands/*.cmd.ts. Do not edit: run \`${CLI_REFERENCE_COMMAND}\`. -->`,
    '',
    md(program.description()),
    '',
    '## Global options',
    '',
    'Accepted by every command, before or after the command name.',
    '',
    '| Option | Description |',
    '| --- | --- |',
    ...global.map(optionRow),
    '',
    '## Commands',
    '',
    ...toc,
    '',
  ];
  const extra = extraHelp(program);
  if (extra) lines.push('```text', extra, '```', '');
  for (const cmd of top) lines.push(...section(cmd, 2));
  return `${lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}
