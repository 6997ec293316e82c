/**
 * One request read by the lean HTTP/1.1 server (http1-server.ts): what a handler reads of
 * node:http's IncomingMessage, without its per-request costs.
 *
 * `headers` is built the way node:http builds it (node's own `_addHeaderLine`: lower-case names,
 * set-cookie as an array, cookie joined with `; `, list headers joined with `, `, later copies of
 * single-value headers such as authorization or content-length dropped), so a handler sees the
 * same object either way. The body is a Readable fed by the parser; a request without framing
 * headers (no content-length, no transfer-encoding) has none and is `complete` from the start,
 * and its stream is only set up if someone reads it.
 */
import { type IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';

// node's own merge rule for a header line (an underscored method, stable since node 0.x).
const addHeaderLine = (IncomingMessage.prototype as unknown as { _addHeaderLine: unknown })
  ._addHeaderLine as (
  this: { joinDuplicateHeaders: boolean },
  field: string,
  value: string,
  dest: Record<string, string | string[]>,
) => void;
const NODE_HEADER_RULES = { joinDuplicateHeaders: false };

/** The parts of the connection a request's body needs: flow control on the socket's reads. */
export interface BodySource {
  pauseReading(): void;
  resumeReading(): void;
}

export class InboundRequest extends Readable {
  readonly method: string;
  readonly url: string;
  readonly rawHeaders: string[];
  readonly headers: IncomingHttpHeaders;
  readonly socket: Socket;
  /** The whole request has been read (always so without a body). */
  complete: boolean;
  /** Whether the head announced a body (content-length or transfer-encoding). */
  readonly hasBody: boolean;
  readonly #source: BodySource;

  constructor(socket: Socket, source: BodySource, method: string, url: string, rawHeaders: string[]) {
    super();
    this.socket = socket;
    this.#source = source;
    this.method = method;
    this.url = url;
    this.rawHeaders = rawHeaders;
    const headers: Record<string, string | string[]> = {};
    for (let i = 0; i < rawHeaders.length; i += 2) {
      addHeaderLine.call(NODE_HEADER_RULES, rawHeaders[i] as string, rawHeaders[i + 1] as string, headers);
    }
    this.headers = headers;
    this.hasBody = headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined;
    this.complete = !this.hasBody;
  }

  /** A chunk of the body from the parser. */
  pushBody(chunk: Buffer): void {
    if (!this.push(chunk)) this.#source.pauseReading();
  }

  /** The parser reached the end of the message. */
  endBody(): void {
    this.complete = true;
    if (this.hasBody) this.push(null);
  }

  /** As node's IncomingMessage: a body cut short errs only for whoever listens for it. */
  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    callback(this.listenerCount('error') === 0 ? null : err);
  }

  override _read(): void {
    if (!this.hasBody) this.push(null);
    else if (!this.complete) this.#source.resumeReading();
  }
}
