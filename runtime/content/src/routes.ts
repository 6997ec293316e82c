/**
 * HTTP surface of the content service.
 *
 * Identity comes ONLY from `x-user-id` / `x-user-role`, which the gateway sets after verifying the
 * caller's JWT (and strips from client requests). The content service must therefore never be
 * reachable except through the gateway (bind it to 127.0.0.1 / a private network policy).
 * Reading (`GET /content/:id`, `/raw`, `/variant`) does not require an identity: ids are random
 * UUIDs or content digests, and the gateway lets public reads through unauthenticated.
 * Listing, uploading and deleting require one; uploads and deletes take the caller's role from
 * auth as it is now (principal-check.ts), not from the possibly older token claim.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HttpError } from '../../lib/http-errors.ts';
import { contentDisposition } from './content-disposition.ts';
import type { ContentItem, ContentService, Identity } from './content-service.ts';
import { parseContentRef } from './ids.ts';
import type { PrincipalCheck } from './principal-check.ts';
import { etagMatches, parseRange } from './range.ts';
import { ClientGoneError, QueueFullError } from './transform-queue.ts';
import type { VariantPolicy } from './variant-policy.ts';

const USER_ID = /^[A-Za-z0-9._:@|-]{1,128}$/;
const ROLES = new Set(['admin', 'editor', 'viewer']);
const IMMUTABLE = 'public, max-age=31536000, immutable';

export interface ContentRouteOptions {
  content: ContentService;
  maxUploadBytes: number;
  /** Which variants a request may have rendered (presets, signatures). */
  variants: VariantPolicy;
  uploadRoles: Set<string>;
  /** Asks auth for the caller's current role before an upload or a delete. */
  principals: PrincipalCheck;
}

function identity(req: FastifyRequest): Identity | undefined {
  const id = req.headers['x-user-id'];
  const role = req.headers['x-user-role'];
  if (id === undefined) return undefined;
  if (typeof id !== 'string' || !USER_ID.test(id) || typeof role !== 'string' || !ROLES.has(role))
    throw new HttpError(401, 'BAD_IDENTITY', 'x-user-id / x-user-role are malformed');
  return { userId: id, role };
}

function requireIdentity(req: FastifyRequest): Identity {
  const who = identity(req);
  if (!who) throw new HttpError(401, 'UNAUTHENTICATED', 'authentication required (through the gateway)');
  return who;
}

async function findItem(content: ContentService, raw: unknown): Promise<ContentItem> {
  const ref = parseContentRef(raw);
  if (!ref) throw new HttpError(400, 'INVALID_ID', 'content ids are UUIDs or sha256 digests');
  const item = 'id' in ref ? await content.get(ref.id) : await content.getBySha(ref.sha256);
  if (!item) throw new HttpError(404, 'NOT_FOUND', 'no such content');
  return item;
}

function decodeCursor(raw: unknown): { createdAt: number; id: string } | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || raw.length > 200) throw new HttpError(400, 'INVALID_CURSOR', 'bad cursor');
  const text = Buffer.from(raw, 'base64url').toString('utf8');
  const m = /^(\d{1,15}):([0-9a-f-]{36})$/.exec(text);
  if (!m) throw new HttpError(400, 'INVALID_CURSOR', 'bad cursor');
  return { createdAt: Number(m[1]), id: m[2]! };
}

export function registerContentRoutes(app: FastifyInstance, opts: ContentRouteOptions): void {
  const { content } = opts;

  // The upload body is a raw stream whatever its content-type says (the type is sniffed from the
  // bytes); no parser may buffer it. Only this encapsulated scope is affected.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  const view = (item: ContentItem, req: FastifyRequest) => {
    const who = identity(req);
    content.recordView(item.id, who?.userId);
  };

  app.post('/content', async (req, reply) => {
    const who = await opts.principals.current(requireIdentity(req), req.headers.authorization);
    if (!opts.uploadRoles.has(who.role))
      throw new HttpError(403, 'FORBIDDEN', `role ${who.role} may not upload`);
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (Number.isFinite(declared) && declared > opts.maxUploadBytes) {
      reply.header('connection', 'close');
      throw new HttpError(413, 'TOO_LARGE', `upload exceeds the limit of ${opts.maxUploadBytes} bytes`);
    }
    try {
      const item = await content.upload(req.raw, who, req.headers['x-filename']);
      return reply.code(201).header('location', `/content/${item.id}`).send(item);
    } catch (err) {
      // We stopped reading the body: do not let the client keep sending on this connection.
      if (err instanceof HttpError && err.statusCode >= 400 && err.statusCode < 500)
        reply.header('connection', 'close');
      throw err;
    }
  });

  app.get('/content', async (req) => {
    const who = requireIdentity(req);
    const q = req.query as Record<string, unknown>;
    let limit = 50;
    if (q.limit !== undefined) {
      if (
        typeof q.limit !== 'string' ||
        !/^\d{1,3}$/.test(q.limit) ||
        Number(q.limit) < 1 ||
        Number(q.limit) > 100
      )
        throw new HttpError(400, 'INVALID_LIMIT', 'limit must be an integer between 1 and 100');
      limit = Number(q.limit);
    }
    const items = await content.list(who.userId, limit, decodeCursor(q.cursor));
    const last = items.at(-1);
    const nextCursor =
      items.length === limit && last
        ? Buffer.from(`${Date.parse(last.createdAt)}:${last.id}`).toString('base64url')
        : null;
    return { items, nextCursor };
  });

  app.get('/content/:id', async (req) => {
    return findItem(content, (req.params as { id?: unknown }).id);
  });

  app.delete('/content/:id', async (req, reply) => {
    const claimed = requireIdentity(req);
    const ref = parseContentRef((req.params as { id?: unknown }).id);
    if (!ref || !('id' in ref)) throw new HttpError(400, 'INVALID_ID', 'content ids are UUIDs');
    const who = await opts.principals.current(claimed, req.headers.authorization);
    await content.delete(ref.id, who);
    return reply.code(204).send();
  });

  app.get('/content/:id/raw', async (req, reply) => {
    const item = await findItem(content, (req.params as { id?: unknown }).id);
    const etag = `"${item.sha256}"`;
    reply
      .header('etag', etag)
      .header('cache-control', IMMUTABLE)
      .header('accept-ranges', 'bytes')
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox");
    if (etagMatches(req.headers['if-none-match'], etag)) {
      view(item, req);
      return reply.code(304).send();
    }
    // If-Range: a Range applies only while the client's copy is still current.
    const ifRange = req.headers['if-range'];
    const rangeHeader = typeof ifRange === 'string' && ifRange !== etag ? undefined : req.headers.range;
    const range = parseRange(rangeHeader, item.size);
    if (range.kind === 'unsatisfiable') {
      return reply.code(416).header('content-range', `bytes */${item.size}`).send();
    }
    const read = await content.openOriginal(item, range.kind === 'partial' ? range : undefined);
    if (!read) throw new HttpError(404, 'BLOB_MISSING', 'the stored file is missing');
    if (range.kind === 'full' || range.start === 0) view(item, req);
    reply.type(item.type).header('content-length', String(read.end - read.start + 1));
    if (item.filename) reply.header('content-disposition', contentDisposition(item.filename));
    if (range.kind === 'partial') {
      reply.code(206).header('content-range', `bytes ${read.start}-${read.end}/${item.size}`);
    }
    if (req.method === 'HEAD') {
      read.stream.destroy();
      return reply.send();
    }
    return reply.send(read.stream);
  });

  app.get('/content/:id/variant', async (req, reply: FastifyReply) => {
    const accept = req.headers.accept;
    const ref = String((req.params as { id?: unknown }).id);
    // The policy first: a refused variant costs no database read.
    const decision = opts.variants.decide(
      ref,
      req.query as Record<string, unknown>,
      typeof accept === 'string' ? accept : undefined,
    );
    if (!decision.ok) throw new HttpError(decision.status, decision.code, decision.error);
    const item = await findItem(content, (req.params as { id?: unknown }).id);
    const params = decision.params;
    if (params.negotiated) reply.header('vary', 'Accept');
    if (item.kind !== 'image') throw new HttpError(415, 'NOT_AN_IMAGE', 'variants exist for images only');
    // A render waiting in the queue is dropped when its client goes away.
    const gone = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) gone.abort(new ClientGoneError());
    };
    reply.raw.once('close', onClose);
    let variant: Awaited<ReturnType<ContentService['variant']>>;
    try {
      variant = await content.variant(item, params, gone.signal);
    } catch (err) {
      // A render shared with a request whose client left was dropped with it: busy, for this one.
      const dropped = err instanceof ClientGoneError && !gone.signal.aborted;
      if (err instanceof QueueFullError || dropped) {
        // Load shedding, not a failure: the gateway relays it and keeps this instance in rotation.
        reply.header('x-overloaded', 'true');
        const retryAfterS = err instanceof QueueFullError ? err.retryAfterS : 1;
        throw new HttpError(503, 'TRANSFORMS_BUSY', 'image transforms are at capacity; retry later', {
          retryAfterS,
        });
      }
      if (gone.signal.aborted) throw new HttpError(499, 'CLIENT_GONE', 'the client went away');
      throw err;
    } finally {
      reply.raw.off('close', onClose);
    }
    reply
      .header('etag', variant.etag)
      .header('cache-control', IMMUTABLE)
      .header('x-content-type-options', 'nosniff')
      .header('x-variant-cache', variant.cached ? 'hit' : 'miss');
    view(item, req);
    if (etagMatches(req.headers['if-none-match'], variant.etag)) return reply.code(304).send();
    return reply.type(variant.mime).header('content-length', String(variant.size)).send(variant.body);
  });
}
