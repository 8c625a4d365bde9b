// The ClickHouse HTTP listener (`protocol: clickhouse-http`): guard (breaker permit, bulkhead),
// relay the bytes both ways, classify the outcome, and hand refused or failed requests to the
// fallback chain.
import type { ClickHouseDependencyConfig } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { FallbackChain, FallbackReason } from '../../fallback/chain.js';
import { HealthCheck } from '../../health/check.js';
import { headerValue, type ResponseHead } from '../http/framing.js';
import { Exchange, HttpRelay, type RelayHandler, type ResponseCapture, type Verdict } from '../http/relay.js';
import { listen, parseListen } from '../http/listen.js';
import { UpstreamPool } from '../http/upstream-pool.js';
import type { ResponseCache } from '../../store/response-cache.js';
import { CACHE_SQL_BYTES, cacheKey, cacheStep, cachesReads, sqlOf, storeCapture, wholeBody } from './cache.js';
import { classifyResponse } from './classify.js';
import { clickhouseChain } from './fallbacks.js';
import { pingProbe } from './health.js';
import { requestTarget, type ClickHouseRequest } from './request.js';
import { STATEMENT_PREFIX_BYTES, statementKindOfRequest, type StatementKind } from './statement.js';

const EXCEPTION_HEADER = 'x-clickhouse-exception-code';

interface Replica {
  readonly url: string;
  readonly pool: UpstreamPool;
  healthy: boolean;
}

export class ClickHouseListener implements RelayHandler {
  readonly replicas: Replica[];
  private readonly relay: HttpRelay;
  private readonly chain: FallbackChain<ClickHouseRequest>;
  private next = 0;
  /** Set when reads are stored for the `cache` fallback. */
  private readonly store: ResponseCache | undefined;
  /** Responses larger than this are not stored. */
  private readonly cacheMaxBytes: number;

  constructor(
    readonly dep: Dependency,
    readonly config: ClickHouseDependencyConfig,
    cache?: { store: ResponseCache; maxEntryBytes: number },
  ) {
    this.store = cache !== undefined && cachesReads(config) ? cache.store : undefined;
    this.cacheMaxBytes = cache?.maxEntryBytes ?? 0;
    this.replicas = config.upstream.map((url) => {
      const u = new URL(url);
      const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
      return { url, healthy: false, pool: new UpstreamPool({ host: u.hostname.replace(/^\[|\]$/g, ''), port }) };
    });
    this.chain = clickhouseChain(config, (kind, c) => dep.fallback(kind, c.reason), cache ? cacheStep(cache.store) : undefined);
    this.relay = new HttpRelay({ handler: this, timeout: config.timeout });
    if (config.health.enabled) {
      for (const replica of this.replicas) {
        const u = new URL(replica.url);
        const path = `${u.pathname.replace(/\/$/, '')}${config.health.path}`;
        const check = new HealthCheck({
          target: `${u.origin}${path}`,
          probe: pingProbe(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || 80), path),
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
    await listen(this.relay.server, host, port);
    for (const c of this.dep.checks) c.start();
  }

  async close(deadline: number): Promise<void> {
    for (const c of this.dep.checks) c.stop();
    await this.relay.close(deadline);
    for (const r of this.replicas) r.pool.close();
  }

  private pick(): Replica {
    const rs = this.replicas;
    if (rs.length === 1) return rs[0]!;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[this.next++ % rs.length]!;
      if (r.healthy) return r;
    }
    return rs[this.next++ % rs.length]!;
  }

  // --- RelayHandler ---

  bodyPrefixWanted(x: Exchange): number {
    // The SQL is in the body when there is no query parameter: its first bytes are kept so that a
    // fallback can tell the statement kind. A compressed body cannot be read (kind `other`).
    if (x.bodyDone || hasQueryParam(x.head.target) || headerValue(x.head, 'content-encoding') !== undefined) return 0;
    // A stored read is keyed by its whole SQL: keep enough of the body to know it.
    return this.store !== undefined ? CACHE_SQL_BYTES : STATEMENT_PREFIX_BYTES;
  }

  /** The hot path: only the guard. What the request is matters only when a fallback answers it. */
  begin(x: Exchange): void {
    const dep = this.dep;
    const token = dep.admit();
    if (typeof token !== 'number') return this.fallback(x, token, undefined);
    dep.inFlight++;
    x.token = token;
    x.forward(this.pick().pool);
  }

  classifyHead(x: Exchange, head: ResponseHead): Verdict | 'inspect' {
    const code = headerValue(head, EXCEPTION_HEADER);
    if (code !== undefined) return classifyResponse(head.status, code, undefined);
    if (head.status >= 200 && head.status < 300) return 'success';
    // Old servers put the code only in the body, sometimes gzipped even for an error.
    x.tag = headerValue(head, 'content-encoding');
    return 'inspect';
  }

  classifyBody(x: Exchange, head: ResponseHead, first: Buffer | undefined): Verdict {
    return classifyResponse(head.status, undefined, first, x.tag as string | undefined);
  }

  /** A 200 to a cacheable read is stored as it streams by (only when the dependency uses `cache`). */
  capture(x: Exchange, head: ResponseHead): ResponseCapture | undefined {
    const store = this.store;
    if (store === undefined || head.status !== 200 || !x.bodyDone || x.pendingBytes > CACHE_SQL_BYTES) return undefined;
    // Only the whole SQL makes a key: after a query parameter, the body was forwarded as it came.
    if (!wholeBody(x.head, x.pendingBytes, !hasQueryParam(x.head.target))) return undefined;
    const { params, queryParam } = requestTarget(x.head.target);
    const sql = sqlOf(queryParam, x.pendingBytes > 0 ? x.bodyPrefix().toString('utf8') : '');
    const key = cacheKey(store, this.dep.name, sql, params, x.head);
    return key === undefined ? undefined : storeCapture(store, key, head, this.cacheMaxBytes);
  }

  done(x: Exchange, verdict: Verdict, ms: number): void {
    const dep = this.dep;
    dep.inFlight--;
    if (verdict === 'success') dep.success(x.token, ms);
    else if (verdict === 'failure') dep.failure(x.token, ms, `upstream answered with a server error`);
    else dep.ignored(x.token, ms);
  }

  failedBeforeResponse(x: Exchange, err: Error, ms: number): boolean {
    this.dep.inFlight--;
    const message = describeUpstreamError(err, this.config.timeout);
    this.dep.failure(x.token, ms, message);
    this.fallback(x, 'failed', message);
    // The chain always answers (its last resort is `fail`), the cache step only once Redis replied.
    return true;
  }

  failedMidResponse(x: Exchange, err: Error, ms: number): void {
    this.dep.inFlight--;
    this.dep.failure(x.token, ms, `response cut mid-stream: ${describeUpstreamError(err, this.config.timeout)}`);
  }

  clientGone(x: Exchange, ms: number, reason: 'client_disconnect' | 'client_stalled'): void {
    if (x.token >= 0) {
      this.dep.inFlight--;
      this.dep.ignored(x.token, ms);
    }
    this.dep.metrics.badRequest(reason);
  }

  badRequest(reason: string): void {
    this.dep.metrics.badRequest(reason);
  }

  /** Serves a request the dependency did not answer. */
  private fallback(x: Exchange, reason: FallbackReason, error: string | undefined): void {
    const { params, queryParam } = requestTarget(x.head.target);
    const readable = x.pendingBytes > 0 && headerValue(x.head, 'content-encoding') === undefined;
    const kind: StatementKind =
      queryParam === null && !readable ? 'other' : (statementKindOfRequest(queryParam, readable ? x.bodyPrefix() : EMPTY, x.bodyDone) ?? 'other');
    const run = (): void => {
      if (x.finished) return;
      const body = x.pendingBytes > 0 ? x.bodyPrefix().toString('utf8') : '';
      const sql = sqlOf(queryParam, body);
      const result = this.chain.serve({
        dep: this.dep,
        kind,
        sql,
        defaultFormat: params?.get('default_format') ?? null,
        cacheKey:
          this.store !== undefined && kind === 'read' && x.bodyDone && wholeBody(x.head, x.pendingBytes, !hasQueryParam(x.head.target))
            ? cacheKey(this.store, this.dep.name, sql, params, x.head)
            : undefined,
        reason,
        error,
        reply: (r) => x.reply(r),
      });
      if (typeof result !== 'string') {
        result.catch((err: unknown) => {
          // The client is still owed an answer: the last resort, in HTTP's own terms.
          this.dep.log.error({ err }, 'fallback chain failed');
          x.reply({ status: 502, headers: { 'content-type': 'text/plain' }, body: Buffer.from(`breakwater: fallback failed: ${String(err)}\n`) });
        });
      }
    };
    // Reads need the whole SQL for its FORMAT clause; everything else only needs the kind.
    if (kind === 'read' && queryParam === null) x.readBody(run);
    else run();
  }
}

const EMPTY = Buffer.alloc(0);

/** Whether the request target carries a `query` parameter, without parsing the query string. */
function hasQueryParam(target: string): boolean {
  return target.includes('?query=') || target.includes('&query=');
}

function describeUpstreamError(err: Error, timeout: number): string {
  const code = (err as { code?: string }).code;
  if (code === 'ETIMEDOUT') return `no response within ${timeout}ms (timeout)`;
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}
