import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, workspace } from '../helpers/cli.ts';

const disposers: (() => void)[] = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d();
});

const FLAGS = [
  '--no-input',
  '--force',
  '--name',
  'acme',
  '--owner',
  'ops',
  '--cloud',
  'aws',
  '--region',
  'eu-west-1',
];

async function projectWithHistory(): Promise<string> {
  const ws = workspace();
  disposers.push(ws.dispose);
  for (let i = 0; i < 3; i++) expect((await runCli(['init', ...FLAGS], { cwd: ws.dir })).exitCode).toBe(0);
  return ws.dir;
}

describe('audit log', () => {
  it('records mutating commands in a verifiable chain', async () => {
    const cwd = await projectWithHistory();
    const verify = await runCli(['--json', 'audit', 'verify'], { cwd });
    expect(verify.exitCode).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, records: 3, anchored: true });
    const list = JSON.parse((await runCli(['--json', 'audit', 'list'], { cwd })).stdout);
    expect(list.map((r: { command: string }) => r.command)).toEqual(['init', 'init', 'init']);
    expect(list[0].args).toContain('--name');
  });

  it('names the first edited line and exits 5', async () => {
    const cwd = await projectWithHistory();
    const file = join(cwd, '.platform', 'audit.log');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines[1] = (lines[1] as string).replace('"result":"ok"', '"result":"error"');
    writeFileSync(file, lines.join('\n'));
    const r = await runCli(['audit', 'verify'], { cwd });
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toMatch(/audit\.log:2: content does not match its hash/);
  });

  it('detects a deleted line', async () => {
    const cwd = await projectWithHistory();
    const file = join(cwd, '.platform', 'audit.log');
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.splice(1, 1);
    writeFileSync(file, lines.join('\n'));
    const r = await runCli(['audit', 'verify'], { cwd });
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toMatch(/audit\.log:2: chain broken/);
  });
});

describe('audit log anchor', () => {
  it('detects the last line deleted, which the bare hash chain cannot', async () => {
    const cwd = await projectWithHistory();
    const file = join(cwd, '.platform', 'audit.log');
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    writeFileSync(file, `${lines.slice(0, -1).join('\n')}\n`);
    const r = await runCli(['audit', 'verify'], { cwd });
    expect(r.exitCode).toBe(5);
    expect(r.stderr).toMatch(/audit\.log:3: truncated: the anchor records 3 lines, the log has 2/);
  });
});
