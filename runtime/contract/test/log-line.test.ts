import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/logger.ts';
import { levelRank, parseLogLine } from '../log-line.ts';

describe('log-line format', () => {
  it('reads what the runtime logger writes', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (c: Buffer) => lines.push(...c.toString('utf8').split('\n').filter(Boolean)));
    const log = createLogger({ service: 'web', version: 'v1', instance: 'web-1', destination: out });
    log.child({ reqId: 'r-7' }).warn('slow upstream');
    await new Promise((r) => setImmediate(r));
    const e = parseLogLine(lines[0] as string, 0);
    expect(e).toMatchObject({ level: 'warn', msg: 'slow upstream', reqId: 'r-7', service: 'web' });
    expect(e.time).toBeGreaterThan(0);
  });

  it('accepts pino numbers and any-case labels, and ranks unknown levels as info', () => {
    expect(parseLogLine('{"level":40,"time":5,"msg":"x"}').level).toBe('warn');
    expect(parseLogLine('{"level":"WARN","msg":"x"}').level).toBe('warn');
    expect(levelRank('WARN')).toBe(levelRank('warn'));
    expect(levelRank('notice')).toBe(levelRank('info'));
    expect(parseLogLine('plain text', 9)).toMatchObject({ level: 'info', msg: 'plain text', time: 9 });
  });
});
