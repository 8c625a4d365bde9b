// The ClickHouse HTTP listener (`protocol: clickhouse-http`): guard (breaker permit, bulkhead),
// forward with streaming both ways, classify the outcome, and hand refused or failed requests to
// the fallback chain.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { REJECTED } from '../../breaker/breaker.js';
import type { ClickHouseDependencyConfig } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { FallbackChain, FallbackReason } from '../../fallback/chain.js';
import { HealthCheck } from '../../health/check.js';
import { ForwardHandler, upstreamRequestHeaders, type ForwardObserver, type Verdict } from '../http/forward.js';
import { closeGracefully, createHttpServer, listen, parseListen } from '../http/server.js';
import { Upstreams } from '../http/upstreams.js';
import { classifyResponse } from './classify.js';
import { clickhouseChain } from './fallbacks.js';
import { pingProbe } from './health.js';
import { peekStatement, readSql, requestHead, type ClickHouseRequest } from './request.js';
import { statementKind, type StatementKind } from './statement.js';

const EXCEPTION_HEADER = 'x-clickhouse-exception-code';

export class ClickHouseListener {
  readonly upstreams: Upstreams;
  private readonly server: Server;
  private readonly chain: FallbackChain<ClickHouseRequest>;

  constructor(
    readonly dep: Dependency,
    readonly config: ClickHouseDependencyConfig,
  ) {
    this.upstreams = new Upstreams(config.upstream, { headersTimeout: config.timeout, bodyTimeout: config.timeout });
    this.chain = clickhouseChain(config, (kind, c) => dep.fallback(kind, c.reason));
    const { host, port } = parseListen(config.listen);
    this.server = createHttpServer({
      host,
      port,
      handle: (req, res) => this.handle(req, res),
      onClientError: (code) => dep.metrics.badRequest(clientErrorReason(code)),
    });
    if (config.health.enabled) {
      for (const replica of this.upstreams.replicas) {
        const check = new HealthCheck({
          target: `${replica.origin}${replica.basePath}${config.health.path}`,
          probe: pingProbe(replica.pool, `${replica.basePath}${config.health.path}`),
          interval: config.health.interval,
          timeout: config.health.timeout,
          healthyThreshold: config.health.healthyThreshold,
          unhealthyThreshold: config.health.unhealthyThreshold,
        });
        check.onChange((c) => (replica.healthy = c.healthy));
        dep.addCheck(check);
      }
    }
  }

  async start(): Promise<void> {
    const { host, port } = parseListen(this.config.listen);
    await listen(this.server, host, port);
    for (const c of this.dep.checks) c.start();
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  async close(deadline: number): Promise<void> {
    for (const c of this.dep.checks) c.stop();
    await closeGracefully(this.server, () => this.dep.inFlight, deadline);
    this.upstreams.destroy();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const head = requestHead(req.url ?? '/');
    const { headers, hasBody } = upstreamRequestHeaders(req.rawHeaders);
    if (hasBody && head.queryParam === null) {
      peekStatement(req, null, (kind, prefix) => this.guard(req, res, head.params, head.queryParam, headers, hasBody, kind, prefix));
    } else {
      const kind: StatementKind = head.queryParam === null ? 'other' : statementKind(head.queryParam);
      this.guard(req, res, head.params, head.queryParam, headers, hasBody, kind, undefined);
    }
  }

  private guard(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams | undefined,
    queryParam: string | null,
    headers: string[],
    hasBody: boolean,
    kind: StatementKind,
    prefix: Buffer | undefined,
  ): void {
    const dep = this.dep;
    const token = dep.breaker.acquire();
    if (token === REJECTED) {
      dep.rejected();
      const s = dep.breaker.state;
      return this.fallback(req, res, params, queryParam, kind, prefix, s === 'forced_open' ? 'forced_open' : s === 'half_open' ? 'half_open_full' : 'open', undefined);
    }
    const max = this.config.maxConcurrent;
    if (max > 0 && dep.inFlight >= max) {
      dep.breaker.ignore(token);
      dep.rejected();
      return this.fallback(req, res, params, queryParam, kind, prefix, 'bulkhead', undefined);
    }
    dep.inFlight++;
    const replica = this.upstreams.pick();
    const call = new Call(this, req, res, params, queryParam, kind, prefix, token);
    const handler = new ForwardHandler(req, res, call);
    replica.pool.dispatch(
      {
        origin: replica.origin,
        path: replica.basePath + (req.url ?? '/'),
        method: req.method as 'GET',
        headers,
        body: hasBody ? req : null,
      },
      handler,
    );
  }

  /** Serves a request the dependency did not answer. */
  fallback(
    req: IncomingMessage,
    res: ServerResponse,
    params: URLSearchParams | undefined,
    queryParam: string | null,
    kind: StatementKind,
    prefix: Buffer | undefined,
    reason: FallbackReason,
    error: string | undefined,
  ): void {
    const run = (body: string): void => {
      if (res.destroyed || res.headersSent) return;
      const sql = queryParam === null ? body : body === '' ? queryParam : `${queryParam}\n${body}`;
      const result = this.chain.serve({
        req,
        res,
        dep: this.dep,
        kind,
        sql,
        defaultFormat: params?.get('default_format') ?? null,
        reason,
        error,
      });
      if (typeof result !== 'string') result.catch((err: unknown) => this.dep.log.error({ err }, 'fallback chain failed'));
    };
    // Reads need the whole SQL for its FORMAT clause; everything else only needs the kind.
    if (kind === 'read' && queryParam === null) readSql(req, prefix, run);
    else run(prefix?.toString('utf8') ?? '');
  }
}

function clientErrorReason(code: string): string {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'ERR_HTTP_HEADERS_TIMEOUT') return 'header_timeout';
  if (code === 'HPE_HEADER_OVERFLOW') return 'oversized_headers';
  if (code === 'ECONNRESET') return 'client_disconnect';
  return 'malformed_http';
}

function hasHeader(raw: Buffer[], lowerName: string): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && name.toString('latin1').toLowerCase() === lowerName) return true;
  }
  return false;
}

function headerValue(raw: Buffer[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === lowerName.length && name.toString('latin1').toLowerCase() === lowerName) return raw[i + 1]!.toString('latin1');
  }
  return undefined;
}

/** One forwarded request: observes the response and records its outcome. */
class Call implements ForwardObserver {
  private encoding: string | undefined;

  constructor(
    private readonly listener: ClickHouseListener,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly params: URLSearchParams | undefined,
    private readonly queryParam: string | null,
    private readonly kind: StatementKind,
    private readonly prefix: Buffer | undefined,
    private readonly token: number,
  ) {}

  head(status: number, raw: Buffer[]): Verdict | 'inspect' {
    if (status >= 200 && status < 300 && !hasHeader(raw, EXCEPTION_HEADER)) return 'success';
    const code = headerValue(raw, EXCEPTION_HEADER);
    if (code !== undefined) return classifyResponse(status, code, undefined);
    // Old servers put the code only in the body, sometimes gzipped even for an error.
    this.encoding = headerValue(raw, 'content-encoding');
    return 'inspect';
  }

  body(status: number, firstChunk: Buffer | undefined): Verdict {
    return classifyResponse(status, undefined, firstChunk, this.encoding);
  }

  done(verdict: Verdict, ms: number): void {
    const dep = this.listener.dep;
    dep.inFlight--;
    if (verdict === 'success') dep.success(this.token, ms);
    else if (verdict === 'failure') dep.failure(this.token, ms, `upstream answered with a server error (HTTP ${this.res.statusCode})`);
    else dep.ignored(this.token, ms);
  }

  failedBeforeResponse(err: Error, ms: number): void {
    const dep = this.listener.dep;
    dep.inFlight--;
    const message = describeUpstreamError(err, this.listener.config.timeout);
    dep.failure(this.token, ms, message);
    this.listener.fallback(this.req, this.res, this.params, this.queryParam, this.kind, this.prefix, 'failed', message);
  }

  failedMidResponse(err: Error, ms: number): void {
    const dep = this.listener.dep;
    dep.inFlight--;
    dep.failure(this.token, ms, `response cut mid-stream: ${describeUpstreamError(err, this.listener.config.timeout)}`);
  }

  clientGone(ms: number): void {
    const dep = this.listener.dep;
    dep.inFlight--;
    dep.ignored(this.token, ms);
    dep.metrics.badRequest('client_disconnect');
  }
}

function describeUpstreamError(err: Error, timeout: number): string {
  const code = (err as { code?: string }).code;
  switch (code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
      return `no response within ${timeout}ms (timeout)`;
    case 'UND_ERR_BODY_TIMEOUT':
      return `response stalled for ${timeout}ms (timeout)`;
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `connect timed out`;
    default:
      return code ? `${code}: ${err.message}` : err.message;
  }
}
