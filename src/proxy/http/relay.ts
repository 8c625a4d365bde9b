// An HTTP/1.x byte relay. Requests and responses are framed (framing.ts) but never re-encoded:
// heads and bodies go out as the bytes they came in, so nothing about a request is lost and the
// data path does no per-header work beyond finding what decides framing. The protocol on top
// (RelayHandler) decides, per request, to forward it or to answer it itself, and classifies
// what came back.
import { createServer, type Server, type Socket } from 'node:net';
import {
  ChunkedScanner,
  HttpFramingError,
  parseRequestHead,
  parseResponseHead,
  responseHasBody,
  type RequestHead,
  type ResponseHead,
} from './framing.js';
import type { UpstreamPool } from './upstream-pool.js';

export type Verdict = 'success' | 'failure' | 'ignored';

export interface Reply {
  status: number;
  headers: Record<string, string | number>;
  body: Buffer;
}

export interface RelayHandler {
  /** Decoded body bytes wanted before begin(): 0 for none. Fewer arrive when the body is shorter. */
  bodyPrefixWanted(x: Exchange): number;
  /** Forward (x.forward) or answer (x.reply), now or later. */
  begin(x: Exchange): void;
  /** A verdict from the response head, or 'inspect' to decide on the first body bytes. */
  classifyHead(x: Exchange, head: ResponseHead): Verdict | 'inspect';
  classifyBody(x: Exchange, head: ResponseHead, first: Buffer | undefined): Verdict;
  done(x: Exchange, verdict: Verdict, ms: number): void;
  /** Nothing reached the client yet: the handler answers with x.reply(); true when it does so later (an async fallback), else a 502 goes out if it did not. */
  failedBeforeResponse(x: Exchange, err: Error, ms: number): boolean | void;
  failedMidResponse(x: Exchange, err: Error, ms: number): void;
  clientGone(x: Exchange, ms: number, reason: 'client_disconnect' | 'client_stalled'): void;
  badRequest(reason: string): void;
  /** A successful response worth keeping: its decoded body bytes go to the capture as they stream by. */
  capture?(x: Exchange, head: ResponseHead): ResponseCapture | undefined;
}

/** Collects a response body up to a limit; told at the end whether the response was complete. */
export interface ResponseCapture {
  add(buf: Buffer, start: number, end: number): void;
  end(complete: boolean): void;
}

export interface RelayOptions {
  handler: RelayHandler;
  /** Idle time on the upstream socket that counts as a timeout (waiting for headers or mid-stream). */
  timeout: number;
  /** Idle client connections are closed after this long. */
  clientIdleTimeout?: number;
}

/** Body bytes kept in memory at most while a request waits for its decision or its SQL is read. */
export const MAX_PENDING_BYTES = 1024 * 1024;

const EXCHANGE = Symbol('exchange');
const POOL = Symbol('pool');
type UpstreamSocket = Socket & { [EXCHANGE]?: Exchange | undefined; [POOL]?: UpstreamPool };

const enum Phase {
  Collecting, // body bytes are kept until the handler decided
  Forwarding, // body bytes go upstream
  Discarding, // answered by breakwater: body bytes are read and dropped
}

export class Exchange {
  /** For the handler: the breaker permit (-1 until the request is forwarded), and whatever it needs to remember. */
  token = -1;
  tag: unknown;
  readonly start = performance.now();
  phase = Phase.Collecting;
  bodyDone: boolean;
  private bodyRemaining: number;
  private readonly chunks: ChunkedScanner | undefined;
  /** Raw body bytes held while collecting. */
  pending: Buffer[] = [];
  pendingBytes = 0;
  private upstream: UpstreamSocket | undefined;
  private pool: UpstreamPool | undefined;
  private reused = false;
  private replayable = false;
  private response: ResponseHead | undefined;
  private responseBuf: Buffer | undefined;
  private responseRemaining = -1;
  private responseChunks: ChunkedScanner | undefined;
  private responseUntilClose = false;
  private verdict: Verdict | 'inspect' = 'success';
  private capture: ResponseCapture | undefined;
  private sentToClient = false;
  finished = false;

  constructor(
    readonly conn: ClientConnection,
    readonly head: RequestHead,
    readonly headBytes: Buffer,
  ) {
    this.chunks = head.chunked ? new ChunkedScanner() : undefined;
    this.bodyRemaining = head.chunked ? -1 : Math.max(0, head.contentLength);
    this.bodyDone = !head.chunked && this.bodyRemaining === 0;
  }

  /** The body bytes seen so far, decoded from chunked framing if need be (for inspection only). */
  bodyPrefix(): Buffer {
    const raw = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    return this.head.chunked ? dechunk(raw) : raw;
  }

  /** Consumes body bytes from buf[start..end); returns how many belonged to the body. */
  takeBody(buf: Buffer, start: number, end: number): number {
    if (this.bodyDone) return 0;
    let n: number;
    if (this.chunks) {
      n = this.chunks.push(buf, start, end);
      if (this.chunks.done) this.bodyDone = true;
    } else {
      n = Math.min(this.bodyRemaining, end - start);
      this.bodyRemaining -= n;
      if (this.bodyRemaining === 0) this.bodyDone = true;
    }
    if (n === 0) return 0;
    const bytes = start === 0 && n === buf.length ? buf : buf.subarray(start, start + n);
    if (this.phase === Phase.Forwarding) {
      if (this.upstream && !this.upstream.write(bytes)) this.conn.pauseFor(this.upstream);
    } else if (this.phase === Phase.Collecting) {
      this.pending.push(bytes);
      this.pendingBytes += n;
    }
    return n;
  }

  // --- the handler's two ways out ---

  forward(pool: UpstreamPool): void {
    this.phase = Phase.Forwarding;
    this.pool = pool;
    const idle = pool.takeIdle() as UpstreamSocket | undefined;
    this.reused = idle !== undefined;
    // Replayable on a fresh connection if a reused one turns out stale: the whole request is here.
    this.replayable = this.bodyDone;
    this.attach(idle ?? bindUpstream(pool.connect() as UpstreamSocket, pool));
  }

  private attach(s: UpstreamSocket): void {
    this.upstream = s;
    s[EXCHANGE] = this;
    s.setTimeout(this.conn.opts.timeout);
    s.cork();
    s.write(this.headBytes);
    for (const b of this.pending) s.write(b);
    s.uncork();
    // pending stays: a replay needs it, and a fallback after a failure reads the statement from it.
  }

  /** Answers the request from breakwater. The connection closes after it unless the body was read. */
  reply(r: Reply): void {
    if (this.finished) return;
    if (this.phase !== Phase.Forwarding || !this.sentToClient) {
      this.phase = Phase.Discarding;
      this.pending = [];
      const keepAlive = this.bodyDone && !this.head.close && this.head.http11;
      this.conn.writeReply(r, keepAlive, this.head.method === 'HEAD');
      this.finish(keepAlive);
    }
  }

  /** Waits for the whole body (up to MAX_PENDING_BYTES) before calling back; for answers that need it. */
  readBody(done: () => void): void {
    if (this.bodyDone || this.pendingBytes >= MAX_PENDING_BYTES) return done();
    this.conn.onBodyProgress = () => {
      if (this.bodyDone || this.pendingBytes >= MAX_PENDING_BYTES) {
        this.conn.onBodyProgress = undefined;
        done();
      }
    };
  }

  // --- upstream events ---

  onUpstreamData(chunk: Buffer): void {
    if (this.response === undefined) {
      const buf = this.responseBuf ? Buffer.concat([this.responseBuf, chunk]) : chunk;
      let head: ResponseHead | undefined;
      try {
        head = parseResponseHead(buf, 0);
      } catch (err) {
        return this.upstreamFailed(err as Error);
      }
      if (head === undefined) {
        this.responseBuf = buf;
        return;
      }
      this.responseBuf = undefined;
      if (head.status >= 100 && head.status < 200) {
        // 100 Continue and friends: relay, then read the real response head.
        if (head.status === 101) return this.upstreamFailed(new Error('upstream switched protocols, which breakwater does not relay'));
        this.sentToClient = true;
        this.conn.socket.write(buf.subarray(0, head.end));
        if (head.end < buf.length) this.onUpstreamData(buf.subarray(head.end));
        return;
      }
      this.response = head;
      this.replayable = false;
      if (!responseHasBody(this.head.method, head.status)) this.responseRemaining = 0;
      else if (head.chunked) this.responseChunks = new ChunkedScanner();
      else if (head.contentLength >= 0) this.responseRemaining = head.contentLength;
      else this.responseUntilClose = true;
      const handler = this.conn.handler;
      this.verdict = handler.classifyHead(this, head);
      if (this.verdict === 'success' && handler.capture !== undefined) {
        // Before pending is dropped: the capture may need the request body (the SQL).
        this.capture = handler.capture(this, head);
        if (this.capture && this.responseChunks) this.responseChunks.sink = (b, s, e) => this.capture?.add(b, s, e);
      }
      this.pending = [];
      this.sentToClient = true;
      const bodyStart = head.end;
      if (this.verdict === 'inspect' && bodyStart < buf.length) {
        this.verdict = this.conn.handler.classifyBody(this, head, buf.subarray(bodyStart));
      }
      return this.relayResponse(buf, 0, bodyStart);
    }
    if (this.verdict === 'inspect') this.verdict = this.conn.handler.classifyBody(this, this.response, chunk);
    this.relayResponse(chunk, 0, 0);
  }

  /** Sends buf[from..] to the client: `headLen` head bytes, then body bytes up to the body's end. */
  private relayResponse(buf: Buffer, from: number, headLen: number): void {
    let bodyEnd: number;
    let complete = false;
    const bodyStart = from + headLen;
    if (this.responseUntilClose) bodyEnd = buf.length;
    else if (this.responseChunks) {
      try {
        bodyEnd = bodyStart + this.responseChunks.push(buf, bodyStart, buf.length);
      } catch (err) {
        return this.upstreamFailed(err as Error);
      }
      complete = this.responseChunks.done;
    } else {
      const n = Math.min(this.responseRemaining, buf.length - bodyStart);
      this.responseRemaining -= n;
      bodyEnd = bodyStart + n;
      complete = this.responseRemaining === 0;
    }
    if (this.capture !== undefined && !this.responseChunks && bodyEnd > bodyStart) this.capture.add(buf, bodyStart, bodyEnd);
    const out = from === 0 && bodyEnd === buf.length ? buf : buf.subarray(from, bodyEnd);
    if (out.length > 0 && !this.conn.socket.write(out)) this.conn.pauseUpstream(this.upstream!);
    if (complete) {
      if (bodyEnd < buf.length) {
        // Bytes after a complete response: the upstream is confused; never reuse the socket.
        this.response!.close = true;
      }
      this.complete();
    }
  }

  onUpstreamEnd(): void {
    if (this.finished) return;
    if (this.response && this.responseUntilClose) {
      this.response.close = true;
      return this.complete();
    }
    this.upstreamFailed(Object.assign(new Error('upstream closed the connection before the response was complete'), { code: 'ECONNRESET' }));
  }

  private complete(): void {
    const verdict = this.verdict === 'inspect' ? this.conn.handler.classifyBody(this, this.response!, undefined) : this.verdict;
    this.capture?.end(true);
    this.capture = undefined;
    const s = this.detachUpstream();
    // Reuse the upstream socket only if both messages ended cleanly.
    if (s && this.pool && !this.response!.close && this.bodyDone && this.response!.http11) this.pool.release(s);
    else s?.destroy();
    this.conn.handler.done(this, verdict, performance.now() - this.start);
    this.finish(!this.response!.close && !this.head.close && this.head.http11 && this.bodyDone);
  }

  upstreamFailed(err: Error): void {
    if (this.finished) return;
    const s = this.detachUpstream();
    s?.destroy();
    if (this.reused && this.replayable && !this.sentToClient && isStaleSocketError(err)) {
      // A keep-alive socket the server had just closed: replay once on a fresh connection.
      this.reused = false;
      this.attach(bindUpstream(this.pool!.connect() as UpstreamSocket, this.pool!));
      return;
    }
    const ms = performance.now() - this.start;
    if (!this.sentToClient) {
      this.phase = Phase.Discarding;
      const answersLater = this.conn.handler.failedBeforeResponse(this, err, ms);
      if (answersLater !== true && !this.finished) this.reply({ status: 502, headers: { 'content-type': 'text/plain' }, body: Buffer.from(`breakwater: ${err.message}\n`) });
    } else {
      this.conn.handler.failedMidResponse(this, err, ms);
      this.finish(false);
      this.conn.socket.destroy();
    }
  }

  /** The client went away: abort the upstream request (ClickHouse cancels the query). */
  clientClosed(): void {
    if (this.finished) return;
    this.finished = true;
    this.detachUpstream()?.destroy();
    this.conn.handler.clientGone(this, performance.now() - this.start, 'client_disconnect');
  }

  onUpstreamTimeout(): void {
    if (this.finished) return;
    if (this.response === undefined && !this.bodyDone && !this.sentToClient) {
      // The client stopped sending its body: its stall, not the dependency's failure.
      this.detachUpstream()?.destroy();
      this.phase = Phase.Discarding;
      this.conn.handler.clientGone(this, performance.now() - this.start, 'client_stalled');
      this.conn.writeReply(
        { status: 408, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ error: `breakwater: the request body stalled for ${this.conn.opts.timeout}ms` })) },
        false,
      );
      this.finish(false);
      return;
    }
    this.upstreamFailed(Object.assign(new Error('upstream timeout'), { code: 'ETIMEDOUT' }));
  }

  private detachUpstream(): UpstreamSocket | undefined {
    // A response that did not complete is never kept.
    this.capture?.end(false);
    this.capture = undefined;
    const s = this.upstream;
    if (s) {
      s[EXCHANGE] = undefined;
      s.setTimeout(0);
      if (s.isPaused()) s.resume();
    }
    this.upstream = undefined;
    return s;
  }

  private finish(keepAlive: boolean): void {
    this.finished = true;
    this.conn.exchangeDone(this, keepAlive);
  }
}

function isStaleSocketError(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

// Listeners shared by every upstream socket: they route events to the socket's current exchange.
function bindUpstream(s: UpstreamSocket, pool: UpstreamPool): UpstreamSocket {
  s[POOL] = pool;
  s.on('data', onUpstreamData);
  s.on('end', onUpstreamEnd);
  s.on('error', onUpstreamError);
  s.on('close', onUpstreamClose);
  s.on('timeout', onUpstreamTimeout);
  return s;
}

function onUpstreamData(this: UpstreamSocket, chunk: Buffer): void {
  const x = this[EXCHANGE];
  if (x) x.onUpstreamData(chunk);
  else this[POOL]!.remove(this); // bytes on an idle socket: never reuse it
}
function onUpstreamEnd(this: UpstreamSocket): void {
  const x = this[EXCHANGE];
  if (x) x.onUpstreamEnd();
  else this[POOL]!.remove(this);
}
function onUpstreamError(this: UpstreamSocket, err: Error): void {
  this[EXCHANGE]?.upstreamFailed(err);
}
function onUpstreamClose(this: UpstreamSocket): void {
  const x = this[EXCHANGE];
  if (x) x.onUpstreamEnd();
  else this[POOL]!.remove(this);
}
function onUpstreamTimeout(this: UpstreamSocket): void {
  const x = this[EXCHANGE];
  if (x) x.onUpstreamTimeout();
  else this[POOL]!.remove(this); // idle too long
}

/** One client connection: parses request heads, runs one exchange at a time (pipelined ones wait). */
export class ClientConnection {
  private buf: Buffer | undefined;
  private current: Exchange | undefined;
  private closed = false;
  onBodyProgress: (() => void) | undefined;

  constructor(
    readonly socket: Socket,
    readonly opts: RelayOptions,
    private readonly relay: HttpRelay,
  ) {
    this.handler = opts.handler;
    socket.setNoDelay(true);
    socket.setTimeout(opts.clientIdleTimeout ?? 30_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('timeout', () => {
      if (!this.current) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose());
  }

  readonly handler: RelayHandler;

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const x = this.current;
    if (x && !x.bodyDone) {
      let n: number;
      try {
        n = x.takeBody(chunk, 0, chunk.length);
      } catch (err) {
        // A malformed request body: the exchange cannot go on, and neither can the connection.
        this.handler.badRequest('malformed_http');
        this.closed = true;
        x.clientClosed();
        this.socket.destroy();
        return;
      }
      this.onBodyProgress?.();
      if (x.phase === Phase.Collecting && this.waitingForPrefix === x) this.maybeStart(x);
      if (n < chunk.length) this.keep(chunk.subarray(n));
      return;
    }
    this.keep(chunk);
    if (!this.current) this.next();
  }

  private keep(bytes: Buffer): void {
    this.buf = this.buf ? Buffer.concat([this.buf, bytes]) : bytes;
    // A client that pipelines ahead is held back until the current exchange ends.
    if (this.current && this.buf.length > 64 * 1024) this.socket.pause();
  }

  private waitingForPrefix: Exchange | undefined;
  private wanted = 0;

  /** Starts the next exchange from buffered bytes, if a whole head is there. */
  private next(): void {
    const buf = this.buf;
    if (!buf || this.closed) return;
    let head: RequestHead | undefined;
    try {
      head = parseRequestHead(buf, 0);
    } catch (err) {
      return this.refuse(err as Error);
    }
    if (!head) return;
    if (head.upgrade || head.method === 'CONNECT') {
      return this.refuse(new HttpFramingError('unsupported', `${head.upgrade ? 'protocol upgrades' : 'CONNECT'} are not relayed`));
    }
    const x = new Exchange(this, head, buf.subarray(0, head.end));
    this.current = x;
    this.buf = undefined;
    try {
      const n = x.takeBody(buf, head.end, buf.length);
      if (head.end + n < buf.length) this.buf = buf.subarray(head.end + n);
    } catch (err) {
      this.current = undefined;
      return this.refuse(err as Error);
    }
    this.wanted = this.handler.bodyPrefixWanted(x);
    this.maybeStart(x);
  }

  private maybeStart(x: Exchange): void {
    if (this.wanted > 0 && !x.bodyDone && x.pendingBytes < this.wanted) {
      this.waitingForPrefix = x;
      return;
    }
    this.waitingForPrefix = undefined;
    this.handler.begin(x);
  }

  /** Malformed input: answer in HTTP's own terms, count it, close this connection only. */
  private refuse(err: Error): void {
    const code = err instanceof HttpFramingError ? err.code : 'bad_request';
    this.handler.badRequest(code === 'head_too_large' ? 'oversized_headers' : 'malformed_http');
    const status = code === 'head_too_large' ? 431 : code === 'unsupported' ? 501 : 400;
    this.writeReply(
      {
        status,
        headers: { 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ error: code === 'head_too_large' ? `breakwater: ${err.message}` : `breakwater: malformed HTTP request: ${err.message}` })),
      },
      false,
    );
    this.buf = undefined;
    this.closed = true;
  }

  /** A reply to HEAD has the headers of the GET answer and no body. */
  writeReply(r: Reply, keepAlive: boolean, headOnly = false): void {
    if (this.socket.destroyed) return;
    let head = `HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? 'Unknown'}\r\n`;
    for (const k in r.headers) head += `${k}: ${r.headers[k]}\r\n`;
    head += `content-length: ${r.body.length}\r\n`;
    head += keepAlive ? 'connection: keep-alive\r\n\r\n' : 'connection: close\r\n\r\n';
    this.socket.cork();
    this.socket.write(head, 'latin1');
    if (!headOnly) this.socket.write(r.body);
    this.socket.uncork();
    if (!keepAlive) this.socket.end();
  }

  pauseFor(upstream: Socket): void {
    this.socket.pause();
    upstream.once('drain', () => this.socket.resume());
  }

  pauseUpstream(upstream: Socket): void {
    upstream.pause();
    this.socket.once('drain', () => upstream.resume());
  }

  exchangeDone(x: Exchange, keepAlive: boolean): void {
    if (this.current !== x) return;
    if (!x.bodyDone) {
      // Answered before the request body ended: the rest is dropped as it arrives, then the
      // connection is closed (nothing after it can be trusted to be a request).
      keepAlive = false;
    }
    this.current = undefined;
    this.onBodyProgress = undefined;
    if (!keepAlive) {
      this.closed = true;
      this.socket.end();
      return;
    }
    if (this.socket.isPaused()) this.socket.resume();
    if (this.buf) this.next();
  }

  private onClose(): void {
    this.closed = true;
    this.relay.connections.delete(this);
    const x = this.current;
    if (x && !x.finished) x.clientClosed();
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  closeIfIdle(): void {
    if (!this.current) this.socket.end();
  }
}

export class HttpRelay {
  readonly server: Server;
  readonly connections = new Set<ClientConnection>();

  constructor(private readonly opts: RelayOptions) {
    this.server = createServer({ noDelay: true }, (socket) => {
      this.connections.add(new ClientConnection(socket, this.opts, this));
    });
  }

  /** Stops accepting; idle connections close now, busy ones after their exchange or at the deadline. */
  async close(deadline: number): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (;;) {
      for (const c of this.connections) c.closeIfIdle();
      if (![...this.connections].some((c) => c.busy) || Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const c of this.connections) c.socket.destroy();
    await closed;
  }
}

/** Decodes as much of a chunked prefix as is there; for looking at a request's first bytes only. */
export function dechunk(raw: Buffer): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < raw.length) {
    const lineEnd = raw.indexOf('\r\n', i, 'latin1');
    if (lineEnd < 0) break;
    const size = parseInt(raw.toString('latin1', i, lineEnd).split(';')[0]!, 16);
    if (!Number.isFinite(size) || size === 0) break;
    const start = lineEnd + 2;
    parts.push(raw.subarray(start, Math.min(start + size, raw.length)));
    i = start + size + 2;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
