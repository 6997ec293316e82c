/**
 * The supervisor's control API: how other platformctl processes (a second `up`, `scale`, `down`,
 * the canary engine) ask the process that owns the children to change something. HTTP on
 * 127.0.0.1 with an ephemeral port, Bearer admin token, JSON bodies validated with zod.
 */
import type { IncomingMessage, Server } from 'node:http';
import { z } from 'zod';
import { http } from '../../../runtime/lib/node-http.ts';
import { isCatalogueCode } from '../../core/error-codes.ts';
import { PlatformError, toPlatformError } from '../../core/errors.ts';
import { requireRelease } from './releases.ts';
import type { Plan } from './service-plan.ts';
import type { LocalState } from './state.ts';
import type { Supervisor } from './supervisor.ts';

const planSchema = z.object({
  run: z.array(z.string()),
  services: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(['gateway', 'service', 'worker']),
      version: z.string(),
      entry: z.string(),
      replicas: z.number().int().min(0),
      basePort: z.number().int(),
      routes: z.array(z.string()),
      dependsOn: z.array(z.string()),
      readiness: z.string(),
      env: z.record(z.string(), z.string()),
    }),
  ),
});
const scaleSchema = z.object({
  service: z.string(),
  replicas: z.number().int().min(0).max(32),
  version: z.string().optional(),
});
const deploySchema = z.object({
  service: z.string(),
  version: z.string(),
  replicas: z.number().int().min(1).max(32),
  initialWeight: z.number().min(0).max(100).optional(),
});
const retireSchema = z.object({ service: z.string(), version: z.string() });
const trafficSchema = z.object({
  service: z.string(),
  traffic: z.object({
    weights: z.record(z.string(), z.number().min(0).max(100)),
    header: z.string().optional(),
    cookie: z.string().optional(),
  }),
});

export interface ControlServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the control API. `onStop` is called after `POST /stop` answered (the owner stops the
 * supervisor and exits). `POST /up` answers 202 at once; callers poll state.json for readiness.
 */
export function serveControl(sup: Supervisor, token: string, onStop: () => void): Promise<ControlServer> {
  const server: Server = http.createServer((req, res) => {
    void (async () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== `Bearer ${token}`) return send(401, { error: 'unauthorized' });
      try {
        const body =
          req.method === 'POST' || req.method === 'PUT' ? JSON.parse((await readBody(req)) || '{}') : {};
        switch (`${req.method} ${req.url}`) {
          case 'GET /state':
            return send(200, sup.snapshot());
          case 'POST /up': {
            const plan = planSchema.parse(body) as Plan;
            sup.apply(plan).catch(() => {
              // recorded in state.error and in the instances' states; the caller polls them
            });
            return send(202, { accepted: true });
          }
          case 'POST /scale': {
            const b = scaleSchema.parse(body);
            await sup.scale(b.service, b.replicas, b.version);
            return send(200, sup.snapshot());
          }
          case 'POST /deploy': {
            const b = deploySchema.parse(body);
            const release = requireRelease(sup.root, b.service, b.version);
            await sup.deploy(b.service, b.version, release.entryPath, b.replicas, b.initialWeight);
            return send(200, sup.snapshot());
          }
          case 'POST /retire': {
            const b = retireSchema.parse(body);
            await sup.retire(b.service, b.version);
            return send(200, sup.snapshot());
          }
          case 'PUT /traffic': {
            const b = trafficSchema.parse(body);
            await sup.setTraffic(b.service, b.traffic);
            return send(200, sup.snapshot());
          }
          case 'POST /stop':
            send(202, { stopping: true });
            onStop();
            return;
          default:
            return send(404, { error: { code: 'NOT_FOUND', message: `no ${req.method} ${req.url}` } });
        }
      } catch (err) {
        const e =
          err instanceof z.ZodError
            ? new PlatformError('BAD_REQUEST', err.message, {})
            : toPlatformError(err);
        send(e.code === 'BAD_REQUEST' ? 400 : 409, {
          error: { code: e.code, message: e.message, hint: e.hint, details: e.details },
        });
      }
    })();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      data += c;
      if (data.length > 1_000_000) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

/** Calls the control API of a running supervisor. Errors come back as PlatformErrors. */
export async function callControl<T = LocalState>(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 120_000,
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new PlatformError('SUPERVISOR_UNREACHABLE', `the local supervisor at ${url} does not answer`, {
      hint: 'run `platformctl status`; if it is stuck, `platformctl down` cleans up',
      cause: err,
    });
  }
  const json = (await res.json().catch(() => ({}))) as {
    error?: {
      code: string;
      message: string;
      hint?: string;
      details?: Record<string, unknown>;
    };
  };
  if (!res.ok) {
    const e = json.error;
    // The supervisor is this same platformctl: its codes (and so their exit codes) are ours.
    throw new PlatformError(
      e && isCatalogueCode(e.code) ? e.code : 'SUPERVISOR_FAILED',
      e?.message ?? `supervisor answered ${res.status}`,
      { hint: e?.hint, details: e?.details },
    );
  }
  return json as T;
}
