/**
 * Access lines into a real buffered pino destination (sonic-boom, as main.ts sets it up): gathered
 * and handed over in batches, never lost at a flush or when the gateway closes, unbatched for an
 * unbuffered destination, and dropped (counted, not held) once a stalled consumer fills the bound.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AccessEntry, AccessLog } from '../src/access-log.ts';
import { countDroppedLines, createLogDestination, LOG_BUFFER_MAX_BYTES } from '../src/log-destination.ts';
import { GatewayMetrics } from '../src/metrics.ts';
import { echoUpstream, startGateway } from './helpers.ts';

const dirs: string[] = [];
/** A duration as the access line must give it: JavaScript's text of it rounded to the microsecond. */
const printed = (ms: number) => `${Math.round(ms * 1000) / 1000}`;
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function entry(i: number): AccessEntry {
  return {
    reqId: `r-${i}`,
    traceId: 'abc',
    method: 'GET',
    path: i % 2 ? `/x/${i}` : `/caf\u00e9/"q"/${i}`,
    status: 200,
    durationMs: 1.5,
    service: 'content',
    version: 'v1',
    instance: 'content-1',
    attempts: 1,
    userId: i % 3 ? 'user-1' : undefined,
    error: undefined,
  };
}

function buffered() {
  const dir = mkdtempSync(join(tmpdir(), 'access-log-'));
  dirs.push(dir);
  const file = join(dir, 'out.log');
  const destination = pino.destination({ dest: file, sync: true, minLength: 8192 });
  const logger = pino({ level: 'info', base: { service: 'gateway' } }, destination);
  const lines = () => {
    destination.flushSync();
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  };
  return { log: new AccessLog(logger, true), lines };
}

/**
 * The access line as the gateway wrote it before lines were encoded as bytes (a template string per
 * line, as in 347980f): the reference the byte encoder must match exactly.
 */
function referenceLine(e: AccessEntry, base: Record<string, unknown>, iso: string): string {
  // What the gateway's AccessLog reads: the logger's own bindings (pino drops some base fields).
  const bindings = JSON.stringify(pino({ base: { ...base } }).bindings()).slice(1, -1);
  const prefix = bindings ? `,${bindings}` : '';
  const plain = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
  const path = plain.test(e.path) ? `"${e.path}"` : JSON.stringify(e.path);
  let line = `{"level":"${e.status >= 500 ? 'warn' : 'info'}","time":"${iso}"${prefix},"msg":"request","reqId":"${e.reqId}","traceId":"${e.traceId}","method":"${e.method}","path":${path},"status":${e.status},"durationMs":${printed(e.durationMs)}`;
  if (e.service) line += `,"upstream":${JSON.stringify(e.service)}`;
  if (e.version) line += `,"upstreamVersion":${JSON.stringify(e.version)}`;
  if (e.instance) line += `,"upstreamInstance":${JSON.stringify(e.instance)}`;
  if (e.attempts > 1) line += `,"attempts":${e.attempts}`;
  if (e.userId) line += `,"userId":${JSON.stringify(e.userId)}`;
  if (e.error) line += `,"error":${JSON.stringify(e.error)}`;
  return `${line}}\n`;
}

describe('access log', () => {
  it('gathers lines for a buffered destination and hands them over whole at flush', async () => {
    const { log, lines } = buffered();
    for (let i = 0; i < 10; i++) log.write(entry(i));
    expect(lines()).toHaveLength(0);
    log.flush();
    const written = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(written.map((l) => l.reqId)).toEqual(Array.from({ length: 10 }, (_, i) => `r-${i}`));
    expect(written[0]).toMatchObject({ path: '/caf\u00e9/"q"/0', upstream: 'content', service: 'gateway' });
    expect(written[1]).toMatchObject({ path: '/x/1', userId: 'user-1' });
    expect(written[0]).not.toHaveProperty('userId');
  });

  it('hands a full batch of 256 lines over at once, and the rest after a short wait', async () => {
    const { log, lines } = buffered();
    // Fewer lines than a batch stay gathered: each batch costs a destination write (thread pool).
    for (let i = 0; i < 255; i++) log.write(entry(i));
    expect(lines()).toHaveLength(0);
    for (let i = 255; i < 270; i++) log.write(entry(i));
    expect(lines()).toHaveLength(256);
    await new Promise((r) => setTimeout(r, 120));
    expect(lines()).toHaveLength(270);
  });

  it('has every request of a gateway in the file once it closed (fewer lines than a batch)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-log-'));
    dirs.push(dir);
    const file = join(dir, 'out.log');
    // As main.ts: a buffered destination, flushed synchronously once the gateway has closed.
    const destination = pino.destination({ dest: file, sync: true, minLength: 8192 });
    const up = await echoUpstream('up');
    const gw = await startGateway(
      {
        routes: [{ prefix: '/api', service: 'api', auth: 'none' }],
        services: { api: { instances: [{ id: 'api-1', url: up.url, version: '1' }] } },
      },
      { ACCESS_LOG: 'true' },
      pino({ level: 'info' }, destination),
    );
    try {
      for (let i = 0; i < 20; i++)
        await (await fetch(`${gw.url}/api/${i}`, { headers: { 'x-request-id': `close-${i}` } })).text();
    } finally {
      await gw.close();
      await up.close();
    }
    destination.flushSync();
    const ids = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { reqId?: string }).reqId)
      .filter((id) => id?.startsWith('close-'));
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => `close-${i}`));
  });

  it('drops lines past the bound when nobody reads the output, counts them and warns once per interval', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'access-log-'));
    dirs.push(dir);
    const fifo = join(dir, 'stdout');
    execFileSync('mkfifo', [fifo]);
    // A consumer that stalls: the pipe's reader is open but never reads, so once its 64 KiB are
    // full every write answers EAGAIN and sonic-boom keeps the rest in memory.
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const destination = createLogDestination(
      openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK),
      false,
    );
    const metrics = new GatewayMetrics();
    const warnings: number[] = [];
    let clock = 0;
    countDroppedLines(
      destination,
      (lines) => metrics.logLinesDropped(lines),
      (lines) => warnings.push(lines),
      { intervalMs: 60_000, now: () => clock },
    );
    const log = new AccessLog(pino({ level: 'info' }, destination), true);
    const held = destination as unknown as { _len: number; _bufs: string[]; _writingBuf: string };
    const dropped = async () =>
      (await metrics.registry.getSingleMetric('gateway_access_log_dropped_lines_total')?.get())?.values[0]
        ?.value ?? 0;
    const heldLines = () => [held._writingBuf, ...held._bufs].join('').split('\n').length - 1;

    // ~60k lines (~14 MiB) in one go: nothing is released while they are pushed, so every line is
    // either held or counted as dropped.
    const first = 60_000;
    for (let i = 0; i < first; i++) log.write(entry(i));
    log.flush();
    expect(held._len).toBeLessThanOrEqual(LOG_BUFFER_MAX_BYTES);
    expect(held._len).toBeGreaterThan(LOG_BUFFER_MAX_BYTES / 2);
    const droppedFirst = await dropped();
    expect(droppedFirst).toBeGreaterThan(first / 2);
    expect(droppedFirst + heldLines()).toBe(first);
    // Warned at the first drop (one batch), and not again within the interval.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toBeGreaterThan(0);

    // The pipe took what it could; the consumer still stalls, so the next burst is dropped too, and
    // warned about once more only because the interval has passed.
    await once(destination, 'write');
    clock = 30_000;
    for (let i = 0; i < 20_000; i++) log.write(entry(i));
    log.flush();
    expect(warnings).toHaveLength(1);
    clock = 60_000;
    for (let i = 0; i < 20_000; i++) log.write(entry(i));
    log.flush();
    expect(held._len).toBeLessThanOrEqual(LOG_BUFFER_MAX_BYTES);
    const droppedNow = await dropped();
    expect(droppedNow).toBeGreaterThan(droppedFirst + 30_000);
    expect(warnings).toHaveLength(2);
    expect((warnings[0] as number) + (warnings[1] as number)).toBeLessThanOrEqual(droppedNow);

    // Without a reader the retried write fails (EPIPE) instead of waiting forever; then close.
    destination.on('error', () => {});
    closeSync(reader);
    await once(destination, 'error');
    destination.destroy();
  });

  it('writes each line at once to an unbuffered destination', () => {
    const chunks: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk.toString());
        cb();
      },
    });
    const log = new AccessLog(pino({ level: 'info' }, stream), true);
    log.write(entry(1));
    log.write(entry(2));
    expect(chunks).toHaveLength(2);
    expect(JSON.parse(chunks[1] as string)).toMatchObject({ reqId: 'r-2', msg: 'request' });
  });

  it('writes a duration exactly as JavaScript prints it rounded to the microsecond', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = new AccessLog(pino({ level: 'info' }, stream), true);
    const durationOf = (ms: number) => {
      log.write({ ...entry(0), durationMs: ms });
      return /"durationMs":([^,}]*)/.exec(lines.pop() as string)?.[1];
    };
    for (const ms of [0, 0.0004, 0.0005, 0.001, 0.05, 0.1, 1, 1.5, 1.05, 1.005, 12.25, 999.999, 3_600_000])
      expect(durationOf(ms)).toBe(printed(ms));
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e9, noNaN: true }), (ms) => durationOf(ms) === printed(ms)),
      { numRuns: 20_000 },
    );
  });
  describe('bytes of a line', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Every line `log` writes for `entries`, as the bytes that reach a buffered file destination. */
    function written(entries: AccessEntry[], bindings: Record<string, unknown>, batched: boolean): Buffer {
      const dir = mkdtempSync(join(tmpdir(), 'access-log-'));
      dirs.push(dir);
      const file = join(dir, 'out.log');
      const destination = pino.destination({ dest: file, sync: true, minLength: batched ? 8192 : 0 });
      const log = new AccessLog(pino({ level: 'info', base: { ...bindings } }, destination), true);
      for (const e of entries) log.write(e);
      log.flush();
      destination.flushSync();
      return readFileSync(file);
    }

    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.constantFrom(
        '',
        '/',
        '/api/v1/items',
        '/caf\u00e9',
        '/"q"\\',
        '/\u0000\u001f\u007f',
        '/\ud800x',
        '/\u2028😀',
      ),
    );
    const optional = fc.option(text, { nil: undefined });
    const accessEntry: fc.Arbitrary<AccessEntry> = fc.record({
      reqId: fc.oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/)),
      traceId: fc.stringMatching(/^[0-9a-f]{32}$/),
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'PATCH', 'M-SEARCH', 'PRI'),
      path: text,
      status: fc.oneof(
        fc.constantFrom(200, 204, 301, 404, 429, 499, 500, 503),
        fc.integer({ min: 0, max: 999 }),
      ),
      durationMs: fc.oneof(
        fc.double({ min: 0, max: 1e7, noNaN: true }),
        fc.constantFrom(0, 0.001, 0.0104, 1.5, 12.25, 999.999, 3_600_000, -1, Number.POSITIVE_INFINITY),
      ),
      service: optional,
      version: optional,
      instance: optional,
      attempts: fc.integer({ min: 0, max: 12 }),
      userId: optional,
      error: fc.option(
        fc.oneof(text, fc.constantFrom('UPSTREAM_TIMEOUT', 'Redis unavailable', 'a "quoted"\nline')),
        {
          nil: undefined,
        },
      ),
    });
    const bindings = fc.oneof(
      fc.constant({}),
      fc.record({ service: fc.constant('gateway'), instance: text, pid: fc.nat() }),
    );

    it('are the bytes of the JSON line it replaced, for any request', () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      fc.assert(
        fc.property(
          fc.array(accessEntry, { minLength: 1, maxLength: 30 }),
          bindings,
          fc.boolean(),
          fc.integer({ min: 0, max: 4_102_444_800_000 }),
          (entries, base, batched, now) => {
            vi.setSystemTime(now);
            const iso = new Date(now).toISOString();
            const expected = Buffer.from(entries.map((e) => referenceLine(e, base, iso)).join(''), 'utf8');
            // Compared as Latin-1 so that a difference in any byte shows (a UTF-8 decode would hide some).
            expect(written(entries, base, batched).toString('latin1')).toBe(expected.toString('latin1'));
          },
        ),
        { numRuns: 300 },
      );
    });

    it('are the same for lines longer than a batch and batches that fill the buffer early', () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(1_800_000_000_000);
      const iso = new Date(1_800_000_000_000).toISOString();
      const long = (i: number): AccessEntry => ({
        ...entry(i),
        path: `/${'\u00e9"'.repeat(i % 7 === 0 ? 40_000 : 300)}/${i}`,
        error: i % 5 === 0 ? 'x'.repeat(200_000) : undefined,
      });
      const entries = Array.from({ length: 600 }, (_, i) => (i % 3 === 0 ? long(i) : entry(i)));
      const expected = Buffer.from(
        entries.map((e) => referenceLine(e, { service: 'gateway' }, iso)).join(''),
      );
      expect(written(entries, { service: 'gateway' }, true).equals(expected)).toBe(true);
    });

    it('gives a year past 9999 its longer ISO time', () => {
      vi.useFakeTimers({ toFake: ['Date'] });
      const far = 253_402_300_800_000; // 10000-01-01
      vi.setSystemTime(far);
      const e = entry(1);
      const expected = referenceLine(e, {}, new Date(far).toISOString());
      expect(written([e], {}, true).toString()).toBe(expected);
    });
  });
});
