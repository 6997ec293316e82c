import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AuditRecord, anchorFile, appendAudit, redactArgs, verifyAudit } from './audit.ts';

describe('redactArgs', () => {
  it('hides values of secret-looking flags in every form', () => {
    expect(
      redactArgs(['secrets', 'set', '--token', 'abc', '--password=hunter2', 'API_KEY=zzz', '--env', 'dev']),
    ).toEqual(['secrets', 'set', '--token', '***', '--password=***', 'API_KEY=***', '--env', 'dev']);
  });
});

describe('anchored audit chain', () => {
  const key = Buffer.alloc(32, 7);
  const input = { command: 'deploy', args: ['deploy', 'content'], result: 'ok' as const, exitCode: 0 };

  function logWith(n: number): string {
    const dir = mkdtempSync(join(tmpdir(), 'audit-'));
    const file = join(dir, 'audit.log');
    for (let i = 0; i < n; i++)
      appendAudit(file, { ...input, args: [...input.args, `#${i}`] }, new Date(), key);
    return file;
  }

  /** What an attacker without the key does: rewrite a line and recompute every hash after it. */
  function rehashFrom(file: string, index: number, edit: (r: AuditRecord) => void): void {
    const records = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
    edit(records[index] as AuditRecord);
    for (let i = index; i < records.length; i++) {
      const { hash: _h, mac, ...body } = records[i] as AuditRecord;
      body.prev = i === 0 ? '0'.repeat(64) : (records[i - 1] as AuditRecord).hash;
      const hash = createHash('sha256').update(JSON.stringify(body)).digest('hex');
      records[i] = { ...body, hash, ...(mac ? { mac } : {}) };
    }
    writeFileSync(file, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  }

  it('verifies an intact, anchored log', () => {
    expect(verifyAudit(logWith(4), key)).toEqual({ ok: true, records: 4, anchored: true });
  });

  it('detects the last line deleted, and says where', () => {
    const file = logWith(4);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    writeFileSync(file, `${lines.slice(0, 3).join('\n')}\n`);
    // The bare hash chain is still consistent: only the anchor shows the cut.
    expect(verifyAudit(file).ok).toBe(true);
    expect(verifyAudit(file, key)).toMatchObject({
      ok: false,
      badLine: 4,
      reason: expect.stringMatching(/truncated/),
    });
  });

  it('detects an edited and re-hashed tail at the first rewritten line', () => {
    const file = logWith(5);
    rehashFrom(file, 3, (r) => {
      r.result = 'error';
    });
    expect(verifyAudit(file).ok).toBe(true);
    expect(verifyAudit(file, key)).toMatchObject({
      ok: false,
      badLine: 4,
      reason: expect.stringMatching(/keyed MAC/),
    });
  });

  it('detects MACs stripped and the whole chain re-hashed, a deleted anchor and a forged one', () => {
    const stripped = logWith(3);
    rehashFrom(stripped, 0, (r) => {
      r.result = 'error';
    });
    const lines = readFileSync(stripped, 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const { mac: _m, ...r } = JSON.parse(l) as AuditRecord;
        return JSON.stringify(r);
      });
    writeFileSync(stripped, `${lines.join('\n')}\n`);
    expect(verifyAudit(stripped, key)).toMatchObject({ ok: false, reason: expect.stringMatching(/anchor/) });

    const noAnchor = logWith(2);
    rmSync(anchorFile(noAnchor));
    expect(verifyAudit(noAnchor, key)).toMatchObject({ ok: false, reason: expect.stringMatching(/missing/) });

    const forged = logWith(2);
    writeFileSync(anchorFile(forged), JSON.stringify({ seq: 1, hash: 'x', mac: '0'.repeat(64) }));
    expect(verifyAudit(forged, key)).toMatchObject({ ok: false, reason: expect.stringMatching(/valid MAC/) });
    expect(verifyAudit(logWith(2), Buffer.alloc(32, 8))).toMatchObject({ ok: false, badLine: 1 });
  });

  it('anchors a log written before anchoring from its next record on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'audit-'));
    const file = join(dir, 'audit.log');
    appendAudit(file, input);
    appendAudit(file, input);
    expect(verifyAudit(file, key)).toEqual({ ok: true, records: 2, anchored: false });
    appendAudit(file, input, new Date(), key);
    expect(verifyAudit(file, key)).toEqual({ ok: true, records: 3, anchored: true });
  });
});
