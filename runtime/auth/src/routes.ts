/**
 * HTTP surface of the auth service. Bodies are validated with zod at the edge; domain errors
 * (`AuthError`) become RFC 9457 problems like every error; anything unexpected is a 500 from the
 * kit's error handler. The OAuth2 token endpoint keeps the RFC 6749 §5.2 error shape its clients
 * expect. Token endpoints answer `Cache-Control: no-store` (RFC 6749 §5.1).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AuthError, type AuthService, type Principal, ROLES } from './auth-service.ts';
import type { KeyStore } from './key-store.ts';
import { MAX_PASSWORD_BYTES } from './passwords.ts';

const BODY_LIMIT = 16 * 1024;

const email = z.string().trim().max(254).pipe(z.email());
const credentials = z.object({
  email,
  password: z
    .string()
    .min(1)
    .max(MAX_PASSWORD_BYTES * 4),
});
const refreshBody = z.object({ refreshToken: z.string().min(1).max(512) });
const roleBody = z.object({ role: z.enum(ROLES) });
const rotateBody = z.object({ revokePrevious: z.boolean().optional() }).optional();
/** Scopes a service client can be granted: `analytics:write` posts events for any user. */
export const CLIENT_SCOPES = ['analytics:write'] as const;
const clientBody = z.object({
  name: z.string().trim().min(1).max(100),
  role: z.enum(ROLES).default('viewer'),
  scopes: z.array(z.enum(CLIENT_SCOPES)).max(10).default([]),
});
const tokenBody = z.object({
  grant_type: z.string().max(100),
  client_id: z.string().min(1).max(200).optional(),
  client_secret: z.string().min(1).max(512).optional(),
  scope: z.string().max(1000).optional(),
});
const userId = z.uuid();

export interface RouteDeps {
  auth: AuthService;
  keys: KeyStore;
  /** Number of trusted reverse proxies in front (the gateway): 1 means use the last X-Forwarded-For hop. */
  trustProxyHops: number;
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new AuthError(
      400,
      'INVALID_REQUEST',
      first ? `${first.path.join('.') || 'body'}: ${first.message}` : 'invalid body',
    );
  }
  return r.data;
}

/** Adds the challenge a 401 needs, then lets the kit render the error as a problem. */
function send(reply: FastifyReply, err: unknown): never {
  if (err instanceof AuthError && err.statusCode === 401) reply.header('www-authenticate', 'Bearer');
  throw err;
}

export function clientIp(req: FastifyRequest, hops: number): string {
  const xff = req.headers['x-forwarded-for'];
  if (hops > 0 && typeof xff === 'string' && xff.length > 0) {
    const parts = xff
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const ip = parts[Math.max(0, parts.length - hops)];
    if (ip && ip.length <= 64) return ip;
  }
  return req.ip;
}

function bearer(req: FastifyRequest): string {
  const h = req.headers.authorization;
  if (typeof h !== 'string' || !/^Bearer\s+\S+$/i.test(h))
    throw new AuthError(401, 'INVALID_TOKEN', 'access token is missing, invalid or expired');
  return h.replace(/^Bearer\s+/i, '');
}

/** Client credentials from HTTP Basic (RFC 6749 §2.3.1, form-encoded parts) or from the body. */
function clientCredentials(
  req: FastifyRequest,
  body: z.infer<typeof tokenBody>,
): { id: string; secret: string } {
  const h = req.headers.authorization;
  if (typeof h === 'string' && /^Basic\s+/i.test(h)) {
    const decoded = Buffer.from(h.replace(/^Basic\s+/i, ''), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      try {
        return {
          id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
          secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
        };
      } catch {
        // fall through to invalid_client
      }
    }
    throw new AuthError(401, 'INVALID_CLIENT', 'client authentication failed');
  }
  if (!body.client_id || !body.client_secret)
    throw new AuthError(401, 'INVALID_CLIENT', 'client authentication failed');
  return { id: body.client_id, secret: body.client_secret };
}

export function registerAuthRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { auth, keys } = deps;
  const ip = (req: FastifyRequest) => clientIp(req, deps.trustProxyHops);
  const opts = { bodyLimit: BODY_LIMIT };

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: BODY_LIMIT },
    (_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    },
  );

  async function admin(req: FastifyRequest): Promise<Principal> {
    const p = await auth.verifyAccess(bearer(req));
    if (p.role !== 'admin') throw new AuthError(403, 'FORBIDDEN', 'admin role required');
    return p;
  }

  app.post('/auth/signup', opts, async (req, reply) => {
    try {
      const body = parse(credentials, req.body);
      const user = await auth.signup(body.email, body.password, ip(req));
      return reply.code(201).send(user);
    } catch (err) {
      return send(reply, err);
    }
  });

  app.post('/auth/login', opts, async (req, reply) => {
    try {
      const body = parse(credentials, req.body);
      const tokens = await auth.login(body.email, body.password, ip(req));
      return reply.header('cache-control', 'no-store').send(tokens);
    } catch (err) {
      return send(reply, err);
    }
  });

  app.post('/auth/refresh', opts, async (req, reply) => {
    try {
      const body = parse(refreshBody, req.body);
      const tokens = await auth.refresh(body.refreshToken, ip(req));
      return reply.header('cache-control', 'no-store').send(tokens);
    } catch (err) {
      return send(reply, err);
    }
  });

  app.post('/auth/logout', opts, async (req, reply) => {
    try {
      const body = parse(refreshBody, req.body);
      await auth.logout(body.refreshToken, ip(req));
      return reply.code(204).send();
    } catch (err) {
      return send(reply, err);
    }
  });

  // OAuth2 token endpoint (client credentials only). Errors use RFC 6749 §5.2 shapes.
  app.post('/auth/token', opts, async (req, reply) => {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    try {
      const r = tokenBody.safeParse(req.body);
      if (!r.success)
        return reply
          .code(400)
          .send({ error: 'invalid_request', error_description: 'malformed token request' });
      if (r.data.grant_type !== 'client_credentials')
        return reply.code(400).send({
          error: 'unsupported_grant_type',
          error_description: 'only client_credentials is supported',
        });
      const c = clientCredentials(req, r.data);
      const t = await auth.clientToken(c.id, c.secret, ip(req), r.data.scope);
      return reply.send({ access_token: t.accessToken, token_type: 'Bearer', expires_in: t.expiresIn });
    } catch (err) {
      if (err instanceof AuthError && err.code === 'INVALID_SCOPE')
        return reply.code(400).send({ error: 'invalid_scope', error_description: err.message });
      if (err instanceof AuthError && err.code === 'INVALID_CLIENT') {
        return reply
          .code(401)
          .header('www-authenticate', 'Basic realm="platformctl-auth"')
          .send({ error: 'invalid_client', error_description: err.message });
      }
      return send(reply, err);
    }
  });

  app.get('/.well-known/jwks.json', async (_req, reply) => {
    // Short max-age: verifiers pick up rotations quickly; the next key is published ahead anyway.
    return reply.header('cache-control', 'public, max-age=60').send(await keys.jwks());
  });

  app.get('/auth/me', async (req, reply) => {
    try {
      return reply.send(await auth.verifyAccess(bearer(req)));
    } catch (err) {
      return send(reply, err);
    }
  });

  app.get('/auth/admin/users', async (req, reply) => {
    try {
      await admin(req);
      return reply.send({ users: await auth.listUsers() });
    } catch (err) {
      return send(reply, err);
    }
  });

  app.put('/auth/admin/users/:id/role', opts, async (req, reply) => {
    try {
      const actor = await admin(req);
      const id = parse(userId, (req.params as { id?: unknown }).id);
      const body = parse(roleBody, req.body);
      return reply.send(await auth.setRole(actor, id, body.role));
    } catch (err) {
      return send(reply, err);
    }
  });

  app.post('/auth/admin/rotate-keys', opts, async (req, reply) => {
    try {
      const actor = await admin(req);
      const body = parse(rotateBody, req.body ?? undefined);
      return reply.send(await auth.rotateKeys(actor, body?.revokePrevious ?? false));
    } catch (err) {
      return send(reply, err);
    }
  });

  app.post('/auth/admin/clients', opts, async (req, reply) => {
    try {
      const actor = await admin(req);
      const body = parse(clientBody, req.body);
      return reply
        .code(201)
        .header('cache-control', 'no-store')
        .send(await auth.createClient(actor, body.name, body.role, body.scopes));
    } catch (err) {
      return send(reply, err);
    }
  });

  app.get('/auth/admin/clients', async (req, reply) => {
    try {
      await admin(req);
      return reply.send({ clients: await auth.listClients() });
    } catch (err) {
      return send(reply, err);
    }
  });

  app.delete('/auth/admin/clients/:id', async (req, reply) => {
    try {
      const actor = await admin(req);
      const id = parse(z.string().min(1).max(200), (req.params as { id?: unknown }).id);
      if (!(await auth.revokeClient(actor, id)))
        throw new AuthError(404, 'NOT_FOUND', 'no such active client');
      return reply.code(204).send();
    } catch (err) {
      return send(reply, err);
    }
  });
}
