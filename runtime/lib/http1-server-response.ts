/**
 * One answer written by the lean HTTP/1.1 server (http1-server.ts): the part of node:http's
 * ServerResponse a proxy uses, written straight to the socket.
 *
 * The head is one latin1 string; an answer given whole (`end(body)` before anything was sent) leaves
 * with its head in one write, and gets a content-length when it has none. Otherwise the body
 * is chunked for HTTP/1.1 and delimited by the end of the connection for HTTP/1.0, as node does.
 * Header names and values are checked as node checks them (a TypeError with node's codes), so a
 * header that would break the framing is refused rather than sent. Every answer carries `date`
 * and `connection`, as node:http's do.
 *
 * Pipelined requests are answered in order: an answer that is not the connection's current one
 * keeps what it writes until those before it are done (the connection calls `activate()`).
 */
import { EventEmitter } from 'node:events';
import { type OutgoingHttpHeaders, STATUS_CODES, validateHeaderName, validateHeaderValue } from 'node:http';
import type { Socket } from 'node:net';
import type { InboundRequest } from './http1-server-request.ts';

type HeaderValue = string | number | readonly string[];

/** What an answer needs of its connection. */
export interface AnswerSink {
  readonly socket: Socket;
  /** The answer is fully handed to the socket; `last` closes the connection after it. */
  answered(res: InboundResponse, last: boolean): void;
}

/** No body, whatever the headers say (RFC 9110 §6.4.1). */
function bodiless(status: number, method: string): boolean {
  return method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200);
}

let dateText = '';
let dateUntil = 0;
/** The `date` header, formatted at most once a second. */
function httpDate(): string {
  const now = Date.now();
  if (now >= dateUntil) {
    dateText = new Date(now).toUTCString();
    dateUntil = now - (now % 1000) + 1000;
  }
  return dateText;
}

const LAST_CHUNK = '0\r\n\r\n';
/** Bodies up to this size leave in one buffer with their head (a copy is cheaper than a writev). */
const ONE_WRITE_MAX = 16 * 1024;

export class InboundResponse extends EventEmitter {
  statusCode = 200;
  /** Set false to close the connection after this answer (node's property of the same name). */
  shouldKeepAlive: boolean;
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  /** The request this answers (set by the server). */
  request: InboundRequest | undefined;
  readonly #sink: AnswerSink;
  readonly #method: string;
  readonly #http10: boolean;
  #headers: Record<string, HeaderValue> | undefined;
  #chunked = false;
  #noBody = false;
  /** The head fixed by writeHead (or the first write), until it is written. */
  #head = '';
  /** The connection ends after this answer (decided with the head, as node decides it). */
  #last = false;
  /** Until activate(): what was written while an earlier answer on the connection was unfinished. */
  #held: [string | Buffer, BufferEncoding][] | undefined;
  #active: boolean;

  constructor(sink: AnswerSink, method: string, http10: boolean, keepAlive: boolean, active: boolean) {
    super();
    this.#sink = sink;
    this.#method = method;
    this.#http10 = http10;
    this.shouldKeepAlive = keepAlive;
    this.#active = active;
  }

  /** Some of this answer is on its way (its head was written, not just fixed by writeHead). */
  get started(): boolean {
    return this.headersSent && this.#head === '';
  }

  get socket(): Socket {
    return this.#sink.socket;
  }

  setHeader(name: string, value: HeaderValue): this {
    if (this.headersSent) throw headersSentError('set');
    validateHeaderName(name);
    validateValue(name, value);
    this.#headers ??= {};
    this.#headers[name.toLowerCase()] = value;
    return this;
  }

  hasHeader(name: string): boolean {
    return this.#headers !== undefined && this.#headers[name.toLowerCase()] !== undefined;
  }

  /**
   * Fixes the status line and headers (those set before, overridden by `headers`); they leave with
   * the first write. As in node, the framing is decided here: a content-length given, else
   * chunked (HTTP/1.1) or the end of the connection (HTTP/1.0). Refuses, with node's TypeError, a
   * header name or value that is not valid HTTP, and then nothing is fixed.
   */
  writeHead(status: number, headers?: OutgoingHttpHeaders): this {
    if (this.headersSent) throw headersSentError('write');
    const all: Record<string, HeaderValue> = { ...this.#headers };
    if (headers) {
      for (const name in headers) {
        const value = headers[name] as HeaderValue | undefined;
        if (value === undefined) continue;
        validateHeaderName(name);
        validateValue(name, value);
        all[isLower(name) ? name : name.toLowerCase()] = value;
      }
    }
    this.statusCode = status;
    this.#headers = all;
    this.#fixHead(undefined);
    return this;
  }

  /** Writes `100 Continue` (for a request that sent `Expect: 100-continue`). */
  writeContinue(): void {
    this.#emit('HTTP/1.1 100 Continue\r\n\r\n');
  }

  write(chunk: string | Buffer): boolean {
    if (this.writableEnded) throw new Error('write after end');
    if (!this.headersSent) this.#fixHead(undefined);
    const head = this.#takeHead();
    if (this.#noBody || chunk.length === 0) return head ? this.#emit(head) : true;
    if (this.#chunked) return this.#emitChunk(head, chunk, byteLength(chunk), '\r\n');
    if (head) this.#emit(head);
    return this.#emit(chunk, 'utf8');
  }

  end(chunk?: string | Buffer): this {
    if (this.writableEnded) return this;
    this.writableEnded = true;
    const length = chunk === undefined ? 0 : byteLength(chunk);
    // An answer given whole, with no head fixed before, gets its length (node does the same).
    if (!this.headersSent) this.#fixHead(length);
    const body = length > 0 && !this.#noBody ? chunk : undefined;
    const head = this.#takeHead();
    const socket = this.#sink.socket;
    if (this.#active && head && body !== undefined && !this.#chunked) {
      // The common answer, head and a whole body: one buffer and one plain write, which costs
      // less than a corked writev of the two.
      if (length <= ONE_WRITE_MAX) {
        const out = Buffer.allocUnsafe(head.length + length);
        out.write(head, 0, 'latin1');
        if (typeof body === 'string') out.write(body, head.length, 'utf8');
        else body.copy(out, head.length);
        socket.write(out);
        this.#sink.answered(this, this.#last);
        return this;
      }
    }
    if (this.#active) socket.cork();
    if (body === undefined) {
      const tail = this.#chunked ? LAST_CHUNK : '';
      if (head || tail) this.#emit(head + tail);
    } else if (this.#chunked) {
      this.#emitChunk(head, body, length, `\r\n${LAST_CHUNK}`);
    } else {
      if (head) this.#emit(head);
      this.#emit(body, 'utf8');
    }
    if (this.#active) {
      socket.uncork();
      this.#sink.answered(this, this.#last);
    }
    return this;
  }

  /** Ends the connection at once (a response cut short: the client sees it incomplete). */
  destroy(_err?: Error): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.#sink.socket.destroy();
    }
    return this;
  }

  /** This answer is now the connection's current one: what it held goes out. */
  activate(): void {
    this.#active = true;
    const held = this.#held;
    this.#held = undefined;
    if (held) {
      const socket = this.#sink.socket;
      socket.cork();
      for (const [piece, encoding] of held) socket.write(piece, encoding);
      socket.uncork();
    }
    if (this.writableEnded) this.#sink.answered(this, this.#last);
  }

  /** The connection went away before this answer was done, or after it was. */
  closed(): void {
    this.destroyed = true;
    this.emit('close');
  }

  /** The socket drained: the writer may go on. */
  drained(): void {
    this.emit('drain');
  }

  /** Heads and framing are latin1 (as node writes headers); bodies given as strings are UTF-8. */
  #emit(piece: string | Buffer, encoding: BufferEncoding = 'latin1'): boolean {
    if (!this.#active) {
      this.#held ??= [];
      this.#held.push([piece, encoding]);
      return true;
    }
    return this.#sink.socket.write(piece, encoding);
  }

  /** One chunk of a chunked body, after what is still to go before it (the head, or ''). */
  #emitChunk(before: string, chunk: string | Buffer, length: number, after: string): boolean {
    this.#emit(`${before}${length.toString(16)}\r\n`);
    this.#emit(chunk, 'utf8');
    return this.#emit(after);
  }

  #takeHead(): string {
    const head = this.#head;
    this.#head = '';
    return head;
  }

  /**
   * Builds the head once (headersSent from then on); `wholeLength` is the length of the entire
   * body when the head is fixed by end() itself, so that it can be given.
   */
  #fixHead(wholeLength: number | undefined): void {
    this.headersSent = true;
    const status = this.statusCode;
    const headers = this.#headers ?? {};
    this.#noBody = bodiless(status, this.#method);
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    let framed = false;
    for (const name in headers) {
      const value = headers[name] as HeaderValue;
      if (name === 'content-length') framed = true;
      else if (name === 'transfer-encoding') {
        framed = true;
        this.#chunked = /(?:^|\W)chunked(?:$|\W)/i.test(String(value));
      } else if (name === 'connection' && /(?:^|\W)close(?:$|\W)/i.test(String(value))) {
        this.shouldKeepAlive = false;
      }
      if (Array.isArray(value)) for (const v of value) head += `${name}: ${v}\r\n`;
      else head += `${name}: ${value as string | number}\r\n`;
    }
    if (headers.date === undefined) head += `date: ${httpDate()}\r\n`;
    if (!framed && !this.#noBody) {
      if (wholeLength !== undefined) {
        head += `content-length: ${wholeLength}\r\n`;
      } else if (this.#http10) {
        // No length known and no chunked coding in HTTP/1.0: the end of the connection ends the body.
        this.shouldKeepAlive = false;
      } else {
        head += 'transfer-encoding: chunked\r\n';
        this.#chunked = true;
      }
    }
    if (headers.connection === undefined) {
      head += this.shouldKeepAlive ? 'connection: keep-alive\r\n' : 'connection: close\r\n';
    }
    this.#last = !this.shouldKeepAlive;
    this.#head = `${head}\r\n`;
  }
}

/** Bytes on the wire: strings are written as UTF-8. */
function byteLength(piece: string | Buffer): number {
  return typeof piece === 'string' ? Buffer.byteLength(piece) : piece.length;
}

function isLower(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return false;
  }
  return true;
}

function validateValue(name: string, value: HeaderValue): void {
  if (Array.isArray(value)) for (const v of value) validateHeaderValue(name, v);
  else validateHeaderValue(name, typeof value === 'number' ? String(value) : (value as string));
}

function headersSentError(what: string): Error {
  return Object.assign(new Error(`Cannot ${what} headers after they are sent to the client`), {
    code: 'ERR_HTTP_HEADERS_SENT',
  });
}
