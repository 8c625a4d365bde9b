// Streams one request to an upstream and its response straight back to the client, at
// undici's dispatch level (raw header buffers, no promise per chunk, backpressure both ways).
// What a response means is the protocol's business: it is asked through ForwardObserver.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';

export type Verdict = 'success' | 'failure' | 'ignored';

export interface ForwardObserver {
  /** Verdict from the status line and headers, or 'inspect' to decide on the first body bytes. */
  head(status: number, rawHeaders: Buffer[]): Verdict | 'inspect';
  /** Verdict from the first body chunk (only after head() said 'inspect'). */
  body(status: number, firstChunk: Buffer | undefined): Verdict;
  /** The response was relayed completely. */
  done(verdict: Verdict, ms: number, status: number): void;
  /** The upstream failed before any response byte reached the client: the fallback may answer. */
  failedBeforeResponse(err: Error, ms: number): void;
  /** The upstream failed mid-response: the client connection is cut, nothing else can be done. */
  failedMidResponse(err: Error, ms: number): void;
  /** The client went away: the upstream request was aborted; not the dependency's fault. */
  clientGone(ms: number): void;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'expect',
  'host',
]);

export class ClientGoneError extends Error {
  readonly code = 'BREAKWATER_CLIENT_GONE';
  constructor() {
    super('the client closed its connection before the response was complete');
  }
}

/** Request headers to send upstream (hop-by-hop removed), and whether the request has a body. */
export function upstreamRequestHeaders(raw: readonly string[]): { headers: string[]; hasBody: boolean } {
  const headers: string[] = [];
  let hasBody = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.length <= 19 ? name.toLowerCase() : name;
    if (lower === 'content-length') {
      if (raw[i + 1] !== '0') hasBody = true;
    } else if (lower === 'transfer-encoding') {
      hasBody = true;
      continue;
    } else if (HOP_BY_HOP.has(lower)) continue;
    headers.push(name, raw[i + 1]!);
  }
  return { headers, hasBody };
}

export class ForwardHandler implements Dispatcher.DispatchHandler {
  private abortUpstream: ((err: Error) => void) | undefined;
  private resume: (() => void) | undefined;
  private status = 0;
  private verdict: Verdict | 'inspect' = 'success';
  private finished = false;
  private gone = false;
  private readonly start = performance.now();
  private readonly onClose = (): void => {
    if (this.finished || this.res.writableFinished) return;
    this.gone = true;
    this.abortUpstream?.(new ClientGoneError());
  };
  private readonly onDrain = (): void => this.resume?.();

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly observer: ForwardObserver,
  ) {
    res.once('close', this.onClose);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.gone) abort(new ClientGoneError());
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void, statusText: string): boolean {
    this.status = status;
    this.resume = resume;
    this.verdict = this.observer.head(status, raw);
    const headers: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toString('latin1');
      if (HOP_BY_HOP.has(name.toLowerCase())) continue;
      headers.push(name, raw[i + 1]!.toString('latin1'));
    }
    this.res.writeHead(status, statusText, headers);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.verdict === 'inspect') this.verdict = this.observer.body(this.status, chunk);
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.onDrain);
    return false;
  }

  onComplete(): void {
    this.finished = true;
    this.res.off('close', this.onClose);
    if (this.verdict === 'inspect') this.verdict = this.observer.body(this.status, undefined);
    this.res.end();
    this.observer.done(this.verdict, performance.now() - this.start, this.status);
  }

  /** A client that aborted its upload shows up here first, as an error of the request body. */
  private clientIsGone(): boolean {
    return this.req.readableAborted || this.req.socket.destroyed;
  }

  onError(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.res.off('close', this.onClose);
    const ms = performance.now() - this.start;
    if (this.gone || err instanceof ClientGoneError || this.clientIsGone()) {
      this.observer.clientGone(ms);
      if (!this.res.destroyed) this.res.destroy();
    } else if (this.status === 0 && !this.res.headersSent) {
      this.observer.failedBeforeResponse(err, ms);
    } else {
      this.observer.failedMidResponse(err, ms);
      this.res.destroy(err);
    }
  }
}
