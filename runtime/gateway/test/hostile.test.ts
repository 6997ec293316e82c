import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ADMIN_TOKEN,
  echoUpstream,
  listen,
  rawStatus,
  startGateway,
  type TestGateway,
  type TestServer,
} from './helpers.ts';

/** Path characters a client can put on the request line, with the usual troublemakers weighted in. */
const pathChar = fc.oneof(
  fc.constantFrom(
    '/',
    '.',
    '..',
    '%',
    '%2e',
    '%2F',
    '%00',
    '%ff',
    '%%',
    '\\',
    '?',
    '#',
    ';',
    '*',
    '~',
    '@',
    ':',
  ),
  fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 8 }),
);
const hostilePath = fc
  .tuple(
    fc.constantFrom('/', '/api', '/api/', '/admin', '/admin/', '/metrics', '/auth/', '//', '/content/', ''),
    fc.array(pathChar, { maxLength: 12 }),
  )
  .map(([prefix, parts]) => (prefix + parts.join('')).replace(/[ \r\n]/g, ''));

const tokenName = fc.stringMatching(/^[a-zA-Z0-9!#$&'*+.^_`|~-]{1,20}$/);
const headerValue = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 60,
});
const interesting = fc.constantFrom(
  'authorization',
  'x-user-id',
  'x-canary',
  'cookie',
  'traceparent',
  'x-request-id',
  'content-length',
  'transfer-encoding',
  'connection',
  'expect',
  'x-forwarded-for',
  'host',
);
const bearer = fc.oneof(
  headerValue.map((v) => `Bearer ${v}`),
  fc
    .tuple(fc.base64String({ maxLength: 40 }), fc.base64String({ maxLength: 40 }))
    .map(([a, b]) => `Bearer ${Buffer.from('{"alg":"EdDSA","kid":"x"}').toString('base64url')}.${a}.${b}`),
);
const headers = fc.array(
  fc.oneof(
    fc.tuple(fc.oneof(interesting, tokenName), headerValue),
    fc.tuple(fc.constant('authorization'), bearer),
  ),
  { maxLength: 6 },
);

describe.each(['lean', 'node'] as const)('hostile requests (%s server)', (server) => {
  let upstream: TestServer;
  let jwks: TestServer;
  let gw: TestGateway;

  beforeAll(async () => {
    upstream = await echoUpstream('api');
    jwks = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":[]}');
    });
    gw = await startGateway(
      {
        routes: [
          { prefix: '/api', service: 'api', auth: 'none' },
          { prefix: '/auth', service: 'api' },
          { prefix: '/content', service: 'api' },
        ],
        services: {
          api: {
            instances: [{ id: 'a', url: upstream.url, version: 'v1' }],
            weights: { v1: 100 },
            cookie: 'v',
          },
        },
      },
      {
        ADMIN_TOKEN,
        AUTH_JWKS_URL: `${jwks.url}/jwks.json`,
        RATE_LIMIT_RPS: '100000',
        GATEWAY_HTTP_SERVER: server,
      },
    );
  });

  afterAll(async () => {
    await gw.close();
    await upstream.close();
    await jwks.close();
  });

  it('never answers 5xx of its own to odd paths and headers, and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(hostilePath, headers, async (path, hs) => {
        const extra = hs.map(([n, v]) => `${n}: ${v.trim()}\r\n`).join('');
        const status = await rawStatus(gw.url, path || '/', extra);
        // 0: the server closed the connection on a malformed request (node's parser), fine too.
        expect(
          status === 0 || (status >= 200 && status < 500),
          `${status} for ${path} ${JSON.stringify(hs)}`,
        ).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect((await fetch(`${gw.url}/api/still-alive`)).status).toBe(200);
  });
});

describe.each(['lean', 'node'] as const)('a bad request pipelined behind an answer (%s server)', (server) => {
  it('closes the connection without writing an error into the answer under way', async () => {
    // An upstream that sends its head and a first chunk, then holds the rest.
    let release: () => void = () => {};
    const upstream = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first,');
      release = () => res.end('last');
    });
    const gw = await startGateway(
      {
        routes: [{ prefix: '/', service: 'slow', auth: 'none' }],
        services: { slow: { instances: [{ id: 's1', url: upstream.url, version: 'v1' }] } },
      },
      { GATEWAY_HTTP_SERVER: server },
    );
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
    let received = '';
    socket.on('data', (c: Buffer) => {
      received += c.toString('latin1');
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write('GET /stream HTTP/1.1\r\nhost: gw\r\n\r\n');
    await vi.waitFor(() => expect(received).toContain('first,'), { timeout: 5000, interval: 20 });
    // A malformed request line pipelined while the first answer is streaming.
    socket.write('GET /next HTPT/1.1\r\n\r\n');
    await closed;
    release();
    expect(received.startsWith('HTTP/1.1 200')).toBe(true);
    // One status line only: the client got a cut answer, never a 400 inside it.
    expect(received.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
    await gw.close();
    await upstream.close();
  });
});
