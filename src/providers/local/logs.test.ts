import { describe, expect, it } from 'vitest';
import { matches, parseLine } from './logs.ts';

describe('log lines', () => {
  it('parses pino lines (numeric levels) and keeps non-JSON lines as messages', () => {
    const e = parseLine(
      '{"level":40,"time":1000,"msg":"slow","reqId":"r1","service":"content"}',
      'x',
      'content-1',
    );
    expect(e).toMatchObject({
      level: 'warn',
      time: 1000,
      msg: 'slow',
      reqId: 'r1',
      service: 'content',
      instance: 'content-1',
    });
    expect(parseLine('Error: boom', 'auth', 'auth-1', 5)).toMatchObject({
      level: 'info',
      msg: 'Error: boom',
      time: 5,
    });
  });

  it('filters by level, age and request id', () => {
    const e = parseLine('{"level":50,"time":1000,"msg":"x","reqId":"abc"}', 's', 's-1');
    expect(matches(e, { level: 'warn' })).toBe(true);
    expect(matches(e, { level: 'fatal' })).toBe(false);
    expect(matches(e, { sinceMs: 500 }, 2000)).toBe(false);
    expect(matches(e, { sinceMs: 5000 }, 2000)).toBe(true);
    expect(matches(e, { requestId: 'abc' })).toBe(true);
    expect(matches(e, { requestId: 'zzz' })).toBe(false);
  });
});

describe('readLogs', () => {
  it('tail 0 skips history (follow only new lines); tail n keeps the last n', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { readLogs } = await import('./logs.ts');
    const dir = mkdtempSync(join(tmpdir(), 'pctl-logs-'));
    try {
      const path = join(dir, 'api-1.log');
      writeFileSync(
        path,
        ['a', 'b', 'c'].map((m, i) => JSON.stringify({ level: 30, time: i, msg: m })).join('\n') + '\n',
      );
      const files = () => [{ service: 'api', instance: 'api-1', path }];
      const collect = async (tail?: number) => {
        const out: string[] = [];
        for await (const e of readLogs(files, { tail })) out.push(e.msg);
        return out;
      };
      expect(await collect()).toEqual(['a', 'b', 'c']);
      expect(await collect(2)).toEqual(['b', 'c']);
      expect(await collect(0)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
