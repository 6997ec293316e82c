/**
 * A faithful local stand-in for the parts of HashiCorp Vault's HTTP API platformctl uses: AppRole
 * login and the KV v2 engine (data read/write with versions, metadata list/read/delete). It checks
 * the X-Vault-Token header on every KV call and answers 403 {"errors":["permission denied"]} like
 * Vault does, and records every request so tests can assert on what the client sent.
 */

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Version {
  data: Record<string, unknown>;
  created_time: string;
}

export interface VaultStandIn {
  url: string;
  /** A token valid from the start (as if created with `vault token create`). */
  rootToken: string;
  roleId: string;
  secretId: string;
  requests: { method: string; path: string; token?: string; body?: unknown }[];
  /** Raw KV contents: path (under the mount) -> versions. */
  kv: Map<string, Version[]>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      s += c;
    });
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

export async function startVaultStandIn(mount = 'secret'): Promise<VaultStandIn> {
  const tokens = new Set<string>();
  const rootToken = `hvs.${randomUUID()}`;
  tokens.add(rootToken);
  const roleId = randomUUID();
  const secretId = randomUUID();
  const kv = new Map<string, Version[]>();
  const requests: VaultStandIn['requests'] = [];

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    const token = req.headers['x-vault-token'] as string | undefined;
    const method = req.method ?? 'GET';
    requests.push({ method, path: url.pathname + url.search, token, body });
    const send = (status: number, payload?: unknown) => {
      if (payload === undefined) {
        res.writeHead(status).end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    };
    const errors = (status: number, ...e: string[]) => send(status, { errors: e });

    if (method === 'POST' && url.pathname === '/v1/auth/approle/login') {
      const b = body as { role_id?: string; secret_id?: string } | undefined;
      if (b?.role_id !== roleId || b?.secret_id !== secretId) return errors(400, 'invalid role or secret ID');
      const t = `hvs.${randomUUID()}`;
      tokens.add(t);
      return send(200, {
        auth: {
          client_token: t,
          policies: ['default', 'platformctl'],
          lease_duration: 3600,
          renewable: true,
        },
      });
    }
    if (!token || !tokens.has(token)) return errors(403, 'permission denied');

    const dataPrefix = `/v1/${mount}/data/`;
    const metaPrefix = `/v1/${mount}/metadata/`;
    if (url.pathname.startsWith(dataPrefix)) {
      const path = decodeURIComponent(url.pathname.slice(dataPrefix.length));
      if (method === 'GET') {
        const versions = kv.get(path);
        const last = versions?.at(-1);
        if (!versions || !last) return errors(404);
        return send(200, {
          data: {
            data: last.data,
            metadata: {
              version: versions.length,
              created_time: last.created_time,
              deletion_time: '',
              destroyed: false,
            },
          },
        });
      }
      if (method === 'POST' || method === 'PUT') {
        const b = body as { data?: Record<string, unknown> } | undefined;
        if (!b || typeof b.data !== 'object' || b.data === null) return errors(400, 'no data provided');
        const versions = kv.get(path) ?? [];
        const created_time = new Date().toISOString();
        versions.push({ data: b.data, created_time });
        kv.set(path, versions);
        return send(200, {
          data: { version: versions.length, created_time, deletion_time: '', destroyed: false },
        });
      }
      return errors(405);
    }
    if (url.pathname.startsWith(metaPrefix)) {
      const path = decodeURIComponent(url.pathname.slice(metaPrefix.length));
      const isList = method === 'LIST' || (method === 'GET' && url.searchParams.get('list') === 'true');
      if (isList) {
        const dir = path.endsWith('/') ? path : `${path}/`;
        const keys = new Set<string>();
        for (const k of kv.keys()) {
          if (!k.startsWith(dir)) continue;
          const rest = k.slice(dir.length);
          const slash = rest.indexOf('/');
          keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
        }
        if (keys.size === 0) return errors(404);
        return send(200, { data: { keys: [...keys].sort() } });
      }
      if (method === 'GET') {
        const versions = kv.get(path);
        const last = versions?.at(-1);
        if (!versions || !last) return errors(404);
        return send(200, {
          data: {
            current_version: versions.length,
            created_time: versions[0]?.created_time,
            updated_time: last.created_time,
            versions: {},
          },
        });
      }
      if (method === 'DELETE') {
        kv.delete(path);
        return send(204);
      }
      return errors(405);
    }
    return errors(404);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    rootToken,
    roleId,
    secretId,
    requests,
    kv,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
