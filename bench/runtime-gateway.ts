/**
 * bench:runtime:gateway — wrk through the gateway vs through nginx proxying the same upstream.
 *
 * The upstream is its own nginx instance answering `return 200` (so the upstream is never the
 * bottleneck and costs both proxies the same). The reference proxy is a second nginx instance
 * with one worker, keep-alive to the upstream and an access log, against the gateway (one Node
 * process on the lean HTTP/1.1 server runtime/lib/http1-server.ts, its lean HTTP/1.1 keep-alive
 * pool runtime/lib/http1-client.ts, batched access log), and the same gateway on node:http's
 * server (GATEWAY_HTTP_SERVER=node), which always runs beside it. A third contender, a minimal node:http +
 * http.request proxy with a keep-alive agent, shows what undici's dispatch path buys over the
 * obvious Node implementation; a bare undici dispatch proxy is the floor of the gateway's design
 * (the gap is what routing, auth, metrics, stats and the access log cost); the same bare proxy reading requests with node's
 * llhttp straight off the socket, without node:http's server objects, shows what node:http's server side costs; a node:http server answering by itself (no proxying) gives the
 * ceiling of any proxy built on Node's HTTP stack on this machine. Phases alternate per round (nginx, gateway, node:http, ...)
 * after a warm-up each, so background noise on the shared machine hits all alike; the ratio of
 * the medians is the figure. On a shared machine req/s mostly measures who got the CPU, so the
 * CPU time each proxy process spent per request (from /proc) is reported too: its inverse ratio
 * is what the req/s ratio would be with a core each. Targets, for the gateway with every feature on
 * (access log, a bearer JWT verified per request, rate limiting): >= 0.5 × nginx req/s, p99 <= 2 ×
 * nginx p99; the 1-minute load average is recorded with each run.
 *
 * Env: DURATION (10s), THREADS (2), CONNECTIONS (50), ROUNDS (2), WARMUP (2s); CONTENDERS (names to
 * run besides nginx and the every-feature gateway, `;`-separated; default all; `none` for only those;
 * an unknown name stops the run); BASELINE
 * (`;`-separated checkouts whose every-feature gateways run interleaved too, to measure a change in
 * the same run).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/core/ports.ts';
import { benchSigner } from './bench-token.ts';
import { median, printTable, writeResult } from './harness.ts';

const DURATION = process.env.DURATION ?? '10s';
const WARMUP = process.env.WARMUP ?? '2s';
const THREADS = Number(process.env.THREADS ?? 2);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const RPS_TARGET = 0.5;
const P99_TARGET = 2;
const GATEWAY_MAIN = join(import.meta.dirname, '..', 'runtime', 'gateway', 'src', 'main.ts');
const FEATURES = 'gateway, every feature (access log, JWT, rate limit)';
/** The sketch of nginx as the data plane with the same features (see docs/decisions/0004). */
const NGINX_FEATURES = 'nginx, every feature (JSON log, auth_request + token cache, limit_req)';
/** Other checkouts (`;`-separated) whose every-feature gateways run interleaved as baselines. */
const BASELINES = (process.env.BASELINE ?? '')
  .split(';')
  .map((s) => s.trim())
  .filter(Boolean);
/** `;`-separated contender names to run besides nginx and the every-feature gateway(s); empty = all. */
const CONTENDERS = (process.env.CONTENDERS ?? '')
  .split(';')
  .map((s) => s.trim())
  .filter(Boolean);

interface WrkResult {
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
  non2xx: number;
  /** CPU time the proxy process(es) spent per request (user + system), in microseconds. */
  cpuUsPerReq?: number;
  /** 1-minute load average when the run started. */
  load1?: number;
}

function which(bin: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n;
}

function parseWrk(out: string): WrkResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1] as string, m[2] as string) : Number.NaN;
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return { rps, p50Ms: pct('50'), p90Ms: pct('90'), p99Ms: pct('99'), requests, errors, non2xx };
}

function wrk(url: string, duration: string, headers: string[] = []): WrkResult {
  const head = headers.flatMap((h) => ['-H', h]);
  const out = execFileSync(
    'wrk',
    [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${duration}`, '--latency', ...head, url],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  return parseWrk(out);
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** user+system CPU milliseconds consumed so far by these processes (all their threads). */
function cpuMs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }
  return (ticks * 1000) / CLK_TCK;
}

/** A process and its direct children (nginx's master and workers). */
function withChildren(pid: number): number[] {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

function nginxConf(dir: string, name: string, server: string, workers = 1): string {
  const prefix = join(dir, name);
  rmSync(prefix, { recursive: true, force: true });
  execFileSync('mkdir', ['-p', join(prefix, 'logs'), join(prefix, 'tmp')]);
  const file = join(prefix, 'nginx.conf');
  writeFileSync(
    file,
    `worker_processes ${workers};
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  keepalive_requests 1000000;
${server}
}
`,
  );
  return file;
}

async function waitForHttp(url: string, child?: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child && child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not come up`);
}

const NODE_HTTP_PROXY = `
const http = require('node:http');
const [port, upstream] = [Number(process.env.PORT), new URL(process.env.UPSTREAM)];
const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
http.createServer((req, res) => {
  const headers = { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress };
  delete headers.connection;
  const up = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, agent }, (ur) => {
    res.writeHead(ur.statusCode, ur.headers);
    ur.pipe(res);
  });
  up.on('error', () => { res.writeHead(502); res.end(); });
  req.pipe(up);
}).listen(port, '127.0.0.1');
`;

/**
 * The floor of the gateway's own design: undici Pool.dispatch straight into the response, with
 * no routing, auth, metrics, stats or logs. The gap to the gateway is what its features cost.
 */
const UNDICI_BARE = `
const http = require('node:http');
const { Pool } = require(${JSON.stringify(join(import.meta.dirname, '..', 'node_modules', 'undici'))});
const pool = new Pool(process.env.UPSTREAM, { connections: 128 });
http.createServer((req, res) => {
  pool.dispatch({ path: req.url, method: req.method, headers: { 'x-forwarded-for': req.socket.remoteAddress } }, {
    onRequestStart() {},
    onResponseStart(c, status, headers) { delete headers.connection; delete headers['keep-alive']; res.writeHead(status, headers); },
    onResponseData(c, chunk) { res.write(chunk); },
    onResponseEnd() { res.end(); },
    onResponseError() { if (!res.headersSent) res.writeHead(502); res.end(); },
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/**
 * For the nginx data-plane sketch: the gateway's own JwtVerifier behind nginx's `auth_request`,
 * answering 200 with the verified identity (cacheable until the token's expiry, at most 60 s) or
 * 401.
 */
const JWT_VERIFY_SERVICE = `
const { createServer } = await import('node:http');
const { JwtVerifier, bearerToken } = await import(${JSON.stringify(join(import.meta.dirname, '..', 'runtime', 'gateway', 'src', 'jwt.ts'))});
const verifier = new JwtVerifier({ jwksUrl: process.env.JWKS_URL, issuer: 'platformctl-auth', audience: 'platform', cooldownMs: 30000 });
createServer(async (req, res) => {
  const token = bearerToken(req.headers.authorization);
  const result = token ? await verifier.verify(token) : { ok: false };
  if (!result.ok) return res.writeHead(401, { 'content-length': 0 }).end();
  res.writeHead(200, { 'x-user-id': result.identity.userId, 'cache-control': 'max-age=60', 'content-length': 0 }).end();
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** The floor of the gateway's design since issue 21: the kit's HTTP/1.1 client with no features. */
const HTTP1_BARE = `
const { createServer } = await import('node:http');
const { Http1Pool } = await import(${JSON.stringify(join(import.meta.dirname, '..', 'runtime', 'lib', 'http1-client.ts'))});
const pool = new Http1Pool(process.env.UPSTREAM, { connections: 128 });
// As the gateway does: bodyless requests handed over already ended, the last chunk sent by res.end().
createServer({ optimizeEmptyRequests: true }, (req, res) => {
  pool.dispatch({ method: req.method, path: req.url, headers: ['x-forwarded-for', req.socket.remoteAddress] }, {
    onResponseStart(c, status, headers) { delete headers.connection; delete headers['keep-alive']; res.writeHead(status, headers); },
    onResponseData(c, chunk, last) { if (last) res.end(chunk); else res.write(chunk); },
    onResponseEnd() { if (!res.writableEnded) res.end(); },
    onResponseError() { if (!res.headersSent) res.writeHead(502); res.end(); },
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/**
 * What node:http's server side costs a proxy: the same bare proxy on the kit's client, but reading
 * requests with node's own llhttp parser straight off the socket (`_http_common`'s HTTPParser,
 * consuming the socket in C++ as node:http does) and writing each answer as one latin1 head plus
 * the body, with no IncomingMessage, ServerResponse or stream machinery. Not a server anyone
 * should run (no timeouts, pipelining order, bodies or errors); it measures the lever of a lean
 * inbound path for docs/decisions/0004.
 */
const LLHTTP_BARE = `
const net = await import('node:net');
const { createRequire } = await import('node:module');
const { HTTPParser } = createRequire(import.meta.url)('_http_common');
const { Http1Pool } = await import(${JSON.stringify(join(import.meta.dirname, '..', 'runtime', 'lib', 'http1-client.ts'))});
const pool = new Http1Pool(process.env.UPSTREAM, { connections: 128 });
net.createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {});
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {}, 0, 0);
  const ip = socket.remoteAddress;
  parser[HTTPParser.kOnHeadersComplete] = (major, minor, raw, method, url) => {
    const headers = ['x-forwarded-for', ip];
    for (let i = 0; i < raw.length; i += 2)
      if (raw[i].length !== 4 || raw[i].toLowerCase() !== 'host') headers.push(raw[i], raw[i + 1]);
    let head = '';
    pool.dispatch({ method: 'GET', path: url, headers }, {
      onResponseStart(c, status, h) {
        head = 'HTTP/1.1 ' + status + ' OK\\r\\n';
        for (const k in h) head += k + ': ' + h[k] + '\\r\\n';
        head += '\\r\\n';
      },
      onResponseData(c, chunk) {
        if (head) socket.write(head, 'latin1');
        head = '';
        socket.write(chunk);
      },
      onResponseEnd() { if (head) socket.write(head, 'latin1'); },
      onResponseError() { socket.destroy(); },
    });
  };
  parser[HTTPParser.kOnBody] = () => {};
  parser[HTTPParser.kOnMessageComplete] = () => {};
  socket._handle._consumed = true;
  parser.consume(socket._handle);
  parser[HTTPParser.kOnExecute] = (ret) => { if (ret instanceof Error) socket.destroy(); };
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** Not a proxy: the ceiling of any proxy built on node:http on this machine. */
const NODE_HELLO = `
require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 });
  res.end('ok\\n');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

async function main(): Promise<void> {
  for (const bin of ['wrk', 'nginx']) {
    if (!which(bin)) {
      console.error(`${bin} is not installed: apt-get install -y ${bin}`);
      process.exit(1);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-gateway-'));
  const children: ChildProcess[] = [];
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.on('exit', cleanup);
  // Interrupted (Ctrl-C, a timeout's SIGTERM): stop the servers it started instead of orphaning them.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      cleanup();
      // As in the finally below: let the servers exit before their directory goes.
      setTimeout(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(130);
      }, 200);
    });
  try {
    const [upPort, nginxPort, nginx2Port, nginxFeaturesPort, verifyPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const upstream = `http://127.0.0.1:${upPort}`;
    // The every-feature gateway verifies a bearer JWT per request (cached verification, as in
    // production); the upstream nginx also serves the signing key as the JWKS (the benchmark's own
    // event loop is blocked while wrk runs, so it cannot serve it).
    const { jwks, token: sign } = await benchSigner('bench');
    const token = await sign('bench-user', { role: 'viewer' });

    const upConf = nginxConf(
      dir,
      'upstream',
      `  access_log off;
  server {
    listen 127.0.0.1:${upPort} reuseport;
    location = /.well-known/jwks.json { default_type application/json; return 200 '${jwks}'; }
    location / { return 200 "ok\\n"; }
  }`,
    );
    const proxyServer = (name: string, port: number) => `  access_log ${dir}/${name}/logs/access.log;
  upstream up { server 127.0.0.1:${upPort}; keepalive 128; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Request-Id $request_id;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }`;
    const proxyConf = nginxConf(dir, 'proxy', proxyServer('proxy', nginxPort));
    const proxy2Conf = nginxConf(dir, 'proxy2', proxyServer('proxy2', nginx2Port), 2);
    // What nginx as the data plane would pay for the gateway's features (decision 0004): a JSON
    // access line, a rate-limit bucket per client, and the JWT checked by the gateway's verifier
    // through auth_request, its answers cached per token (the verified-token cache) so most
    // requests never leave nginx.
    const featuresConf = nginxConf(
      dir,
      'proxy-features',
      `  log_format gw escape=json '{"time":"$time_iso8601","msg":"request","reqId":"$request_id","method":"$request_method","path":"$uri","status":$status,"durationMs":$request_time,"upstream":"$upstream_addr","userId":"$jwt_user"}';
  access_log ${dir}/proxy-features/logs/access.log gw;
  proxy_cache_path ${dir}/proxy-features/tmp/tokens keys_zone=tokens:10m max_size=64m inactive=60s;
  limit_req_zone $binary_remote_addr zone=perclient:10m rate=1000000r/s;
  upstream up { server 127.0.0.1:${upPort}; keepalive 128; }
  upstream verify { server 127.0.0.1:${verifyPort}; keepalive 16; }
  server {
    listen 127.0.0.1:${nginxFeaturesPort};
    location = /_verify {
      internal;
      proxy_pass http://verify;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_cache tokens;
      proxy_cache_key $http_authorization;
    }
    location / {
      limit_req zone=perclient burst=1000000 nodelay;
      auth_request /_verify;
      auth_request_set $jwt_user $upstream_http_x_user_id;
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Request-Id $request_id;
      proxy_set_header X-User-Id $jwt_user;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }`,
    );
    // nginx's workers run as an unprivileged user when started by root: they must reach the token
    // cache under the (private) temporary directory.
    chmodSync(dir, 0o755);
    mkdirSync(join(dir, 'proxy-features', 'tmp', 'tokens'), { recursive: true, mode: 0o777 });
    chmodSync(join(dir, 'proxy-features', 'tmp', 'tokens'), 0o777);
    const [, nginxProxy, nginxProxy2] = [upConf, proxyConf, proxy2Conf].map((conf) => {
      const c = spawn('nginx', ['-p', dir, '-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(c);
      return c;
    });
    await waitForHttp(`${upstream}/`);
    await waitForHttp(`http://127.0.0.1:${nginxPort}/`);
    await waitForHttp(`http://127.0.0.1:${nginx2Port}/`);
    /** nginx with every feature (and the verifier it asks), started only when that contender runs. */
    const startNginxFeatures = async () => {
      const verifier = spawn(process.execPath, ['--input-type=module', '-e', JWT_VERIFY_SERVICE], {
        env: { ...process.env, PORT: String(verifyPort), JWKS_URL: `${upstream}/.well-known/jwks.json` },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      children.push(verifier);
      const c = spawn('nginx', ['-p', dir, '-c', featuresConf], { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(c);
      const headers = [`Authorization: Bearer ${token}`];
      let status = 0;
      for (let i = 0; i < 200 && status !== 200; i++) {
        const r = await fetch(`http://127.0.0.1:${nginxFeaturesPort}/bench`, {
          headers: { authorization: `Bearer ${token}` },
        }).catch(() => undefined);
        await r?.arrayBuffer();
        status = r?.status ?? 0;
        if (status !== 200) await new Promise((done) => setTimeout(done, 50));
      }
      if (status !== 200) {
        const log = readFileSync(join(dir, 'proxy-features', 'logs', 'error.log'), 'utf8');
        throw new Error(`nginx with every feature answers ${status}; its error log:\n${log.slice(-2000)}`);
      }
      // nginx and the verifier together: the verifier's CPU is part of what this data plane costs.
      return {
        url: `http://127.0.0.1:${nginxFeaturesPort}/bench`,
        pids: [...withChildren(c.pid!), verifier.pid!],
        headers,
      };
    };

    const gwConfig = join(dir, 'gateway.json');
    writeFileSync(
      gwConfig,
      JSON.stringify({
        routes: [{ prefix: '/', service: 'up', auth: 'none' }],
        services: { up: { instances: [{ id: 'up-1', url: upstream, version: 'v1' }] } },
      }),
    );
    const featuresConfig = join(dir, 'gateway-features.json');
    writeFileSync(
      featuresConfig,
      JSON.stringify({
        routes: [{ prefix: '/', service: 'up', auth: 'required' }],
        services: { up: { instances: [{ id: 'up-1', url: upstream, version: 'v1' }] } },
      }),
    );
    const nodeArgs = process.env.GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    /** Starts a Node contender on a free port; returns its URL and pid once it answers. */
    const startNode = async (name: string, args: string[], env: Record<string, string>, ready = '/') => {
      const port = await freePort();
      const log = openSync(join(dir, `${name.replace(/\W+/g, '-')}.log`), 'w');
      const c = spawn(process.execPath, args, {
        env: { ...process.env, ...env, PORT: String(port) },
        stdio: ['ignore', log, 'inherit'],
      });
      children.push(c);
      await waitForHttp(`http://127.0.0.1:${port}${ready}`, c);
      // A clustered gateway's workers are its children; give them a moment to all listen.
      if (env.GATEWAY_WORKERS) await new Promise((r) => setTimeout(r, 1000));
      return { url: `http://127.0.0.1:${port}/bench`, pids: withChildren(c.pid!) };
    };
    const gatewayEnv = { GATEWAY_CONFIG: gwConfig, DATA_DIR: join(dir, 'gw-data') };
    /** The gateway with every feature on, from this checkout or (BASELINE) another one. */
    const featuresGateway = async (name: string, main: string, extra: Record<string, string> = {}) => ({
      ...(await startNode(
        name,
        [...nodeArgs, main],
        {
          GATEWAY_CONFIG: featuresConfig,
          DATA_DIR: join(dir, `${name}-data`),
          AUTH_JWKS_URL: `${upstream}/.well-known/jwks.json`,
          // On, with a budget the benchmark never exhausts: the bucket is checked per request.
          RATE_LIMIT_RPS: '1000000000',
          RATE_LIMIT_BURST: '1000000000',
          ...extra,
        },
        '/readyz',
      )),
      headers: [`Authorization: Bearer ${token}`],
    });
    type Contender = { url: string; pids: number[]; headers?: string[] };
    const starters: [string, () => Promise<Contender>][] = [
      [
        'nginx',
        async () => ({ url: `http://127.0.0.1:${nginxPort}/bench`, pids: withChildren(nginxProxy!.pid!) }),
      ],
      [FEATURES, () => featuresGateway('gateway-features', GATEWAY_MAIN)],
      // The same gateway on node:http's server: what the lean inbound server (runtime/lib/http1-server.ts) buys.
      [
        `${FEATURES}, node:http server`,
        () => featuresGateway('gateway-features-node', GATEWAY_MAIN, { GATEWAY_HTTP_SERVER: 'node' }),
      ],
      [NGINX_FEATURES, startNginxFeatures],
      ...BASELINES.map((base, i): [string, () => Promise<Contender>] => [
        `${FEATURES}, baseline ${base}`,
        () => featuresGateway(`gateway-baseline-${i}`, join(base, 'runtime', 'gateway', 'src', 'main.ts')),
      ]),
      ['gateway', () => startNode('gateway', [...nodeArgs, GATEWAY_MAIN], gatewayEnv, '/readyz')],
      [
        'gateway, ACCESS_LOG=false',
        () =>
          startNode(
            'gateway-nolog',
            [...nodeArgs, GATEWAY_MAIN],
            { ...gatewayEnv, ACCESS_LOG: 'false' },
            '/readyz',
          ),
      ],
      [
        'nginx, 2 workers',
        async () => ({ url: `http://127.0.0.1:${nginx2Port}/bench`, pids: withChildren(nginxProxy2!.pid!) }),
      ],
      [
        'gateway, 2 workers',
        () =>
          startNode(
            'gateway-2w',
            [...nodeArgs, GATEWAY_MAIN],
            { ...gatewayEnv, GATEWAY_WORKERS: '2' },
            '/readyz',
          ),
      ],
      [
        'http1-client dispatch, bare',
        () => startNode('http1-bare', ['--input-type=module', '-e', HTTP1_BARE], { UPSTREAM: upstream }),
      ],
      [
        'llhttp server + http1-client, bare',
        () => startNode('llhttp-bare', ['--input-type=module', '-e', LLHTTP_BARE], { UPSTREAM: upstream }),
      ],
      ['undici dispatch, bare', () => startNode('undici-bare', ['-e', UNDICI_BARE], { UPSTREAM: upstream })],
      ['node:http proxy', () => startNode('node-proxy', ['-e', NODE_HTTP_PROXY], { UPSTREAM: upstream })],
      ['node:http hello (no proxy)', () => startNode('hello', ['-e', NODE_HELLO], {})],
    ];
    // CONTENDERS narrows the run (nginx, the every-feature gateway and nginx with every feature always run).
    const wanted = CONTENDERS.length === 0 ? undefined : new Set(CONTENDERS);
    // A misspelt name would otherwise quietly run none of the optional contenders.
    const unknown = CONTENDERS.filter((c) => c !== 'none' && !starters.some(([name]) => name === c));
    if (unknown.length > 0)
      throw new Error(
        `unknown CONTENDERS ${unknown.join(', ')}; known (;-separated): none; ${starters.map(([n]) => n).join('; ')}`,
      );
    const contenders: Record<string, Contender> = {};
    for (const [name, start] of starters) {
      if (
        wanted &&
        name !== 'nginx' &&
        name !== NGINX_FEATURES &&
        !name.startsWith(FEATURES) &&
        !wanted.has(name)
      )
        continue;
      contenders[name] = await start();
    }
    const targets = Object.fromEntries(Object.entries(contenders).map(([k, v]) => [k, v.url]));
    const headersOf = Object.fromEntries(Object.entries(contenders).map(([k, v]) => [k, v.headers ?? []]));
    const processes = Object.fromEntries(Object.entries(contenders).map(([k, v]) => [k, v.pids]));
    const runs: Record<string, WrkResult[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
    const order = Object.entries(targets);
    for (let round = 1; round <= ROUNDS; round++) {
      // Each round starts one contender later: a fixed order would give the same contender the
      // same slot (the last one measured 2-9 us/req dearer, whichever checkout sat there).
      const shift = (round - 1) % order.length;
      for (const [name, url] of [...order.slice(shift), ...order.slice(0, shift)]) {
        // wrk runs synchronously: yield between runs so a SIGINT/SIGTERM handler gets to stop the servers.
        await new Promise((resolve) => setImmediate(resolve));
        wrk(url, WARMUP, headersOf[name]);
        const pids = processes[name] ?? [];
        const before = cpuMs(pids);
        const load1 = loadavg()[0]!;
        const r = wrk(url, DURATION, headersOf[name]);
        r.load1 = load1;
        r.cpuUsPerReq = ((cpuMs(pids) - before) * 1000) / Math.max(1, r.requests);
        runs[name]?.push(r);
        console.error(
          `round ${round} ${name}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99Ms.toFixed(2)} ms, cpu ${r.cpuUsPerReq.toFixed(1)} us/req, errors ${r.errors}, non-2xx ${r.non2xx}, load ${load1.toFixed(1)}`,
        );
      }
    }

    const summary = Object.fromEntries(
      Object.entries(runs).map(([name, rs]) => [
        name,
        {
          rps: median(rs.map((r) => r.rps)),
          p50Ms: median(rs.map((r) => r.p50Ms)),
          p99Ms: median(rs.map((r) => r.p99Ms)),
          cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq ?? Number.NaN)),
          errors: rs.reduce((a, r) => a + r.errors + r.non2xx, 0),
          load1: median(rs.map((r) => r.load1 ?? Number.NaN)),
        },
      ]),
    ) as Record<
      string,
      { rps: number; p50Ms: number; p99Ms: number; cpuUsPerReq: number; errors: number; load1: number }
    >;
    const ref = summary.nginx!;
    const rows = Object.entries(summary).map(([name, s]) => [
      name,
      s.rps.toFixed(0),
      (s.rps / ref.rps).toFixed(2),
      s.p50Ms.toFixed(2),
      s.p99Ms.toFixed(2),
      (s.p99Ms / ref.p99Ms).toFixed(2),
      s.cpuUsPerReq.toFixed(1),
      (ref.cpuUsPerReq / s.cpuUsPerReq).toFixed(2),
      s.errors,
      s.load1.toFixed(1),
    ]);
    printTable(
      [
        'proxy',
        'req/s',
        'vs nginx',
        'p50 ms',
        'p99 ms',
        'p99 vs nginx',
        'cpu us/req',
        'efficiency vs nginx',
        'errors',
        'load avg',
      ],
      rows,
    );
    // The target figure: the gateway with every feature on (access log, JWT, rate limit).
    const gwS = summary[FEATURES]!;
    const rpsRatio = gwS.rps / ref.rps;
    const p99Ratio = gwS.p99Ms / ref.p99Ms;
    // Requests per CPU-second relative to nginx: what the req/s ratio would be with a core each.
    const cpuEfficiencyRatio = ref.cpuUsPerReq / gwS.cpuUsPerReq;
    const gw2 = summary['gateway, 2 workers'];
    const nginx2 = summary['nginx, 2 workers'];
    const twoWorkers =
      gw2 && nginx2 ? { rpsRatio: gw2.rps / nginx2.rps, p99Ratio: gw2.p99Ms / nginx2.p99Ms } : undefined;
    const command = `wrk -t${THREADS} -c${CONNECTIONS} -d${DURATION} --latency <proxy>/bench`;
    const file = writeResult('runtime-gateway', {
      command,
      rounds: ROUNDS,
      summary,
      runs,
      rpsRatio,
      p99Ratio,
      cpuEfficiencyRatio,
      twoWorkers,
      targets: { rpsRatio: RPS_TARGET, p99Ratio: P99_TARGET },
      met: rpsRatio >= RPS_TARGET && p99Ratio <= P99_TARGET,
      loadAverageAtEnd: loadavg(),
    });
    console.log(
      `gateway/nginx: req/s ratio ${rpsRatio.toFixed(2)} (target >= ${RPS_TARGET}), p99 ratio ${p99Ratio.toFixed(2)} (target <= ${P99_TARGET}), requests per CPU-second ratio ${cpuEfficiencyRatio.toFixed(2)}${twoWorkers ? `; 2 workers each: req/s ratio ${twoWorkers.rpsRatio.toFixed(2)}, p99 ratio ${twoWorkers.p99Ratio.toFixed(2)}` : ''}; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} -> ${file}`,
    );
  } finally {
    cleanup();
    await new Promise((r) => setTimeout(r, 200));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
