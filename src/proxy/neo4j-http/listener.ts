// The Neo4j HTTP API listener (`protocol: neo4j-http`): the shared HTTP relay with Neo4j's
// outcome rules. Every request goes through the guard (breaker permit, bulkhead, `timeout`);
// an auto-commit `POST /db/{db}/tx/commit` is held until its body is read (up to
// MAX_PENDING_BYTES, 1 MiB; larger: 413) so that a fallback can match its statements; every other
// request (explicit transactions, discovery, the Query API) streams through and gets `fail` only.
// Neo4j's errors arrive at the end of a 200's body: the verdict of a 2xx is decided when the body
// ended (watch.ts), so a TransientError counts against the breaker and a ClientError does not.
import { createHash } from 'node:crypto';
import type { Neo4jHttpDependencyConfig } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { FallbackChain, FallbackReason } from '../../fallback/chain.js';
import { HealthCheck } from '../../health/check.js';
import type { ResponseCache } from '../../store/response-cache.js';
import { headerValue, type ResponseHead } from '../http/framing.js';
import { listen, parseListen } from '../http/listen.js';
import { Exchange, HttpRelay, MAX_PENDING_BYTES, type RelayHandler, type ResponseCapture, type Verdict } from '../http/relay.js';
import { UpstreamPool } from '../http/upstream-pool.js';
import { cacheKey, cacheStep } from './cache.js';
import { verdictOf, verdictOfStatus, troubleCode } from './classify.js';
import { ColumnMemory } from './columns.js';
import { errorsIn, type ErrorsFound } from './errors-scan.js';
import { allRead, coverage, neo4jHttpChain, staticStep, type Coverage } from './fallbacks.js';
import { returnOneProbe } from './health.js';
import { tooLarge } from './replies.js';
import { acceptsJson, cacheUser, commitDatabase, parseStatements, type Neo4jHttpRequest, type Statements } from './request.js';
import { ResponseWatch } from './watch.js';

/** The largest tx/commit body read to match rules (the relay's bound on held body bytes). */
export const MAX_COMMIT_BODY = MAX_PENDING_BYTES;

interface Upstream {
  readonly url: string;
  readonly pool: UpstreamPool;
  healthy: boolean;
}

/** What the listener remembers about one exchange (in Exchange.tag). */
class ExchangeState {
  /** null until read; undefined when not readable. */
  statements: Statements | undefined | null = null;
  /** The held auto-commit body, decoded once (statements and cache key both read it). */
  body: Buffer | undefined;
  status = 0;
  errors: ErrorsFound;
  constructor(readonly commitDb: string | undefined) {}
}

interface RuleUse {
  covers: Coverage;
  cache: boolean;
  static: boolean;
}

export class Neo4jHttpListener implements RelayHandler {
  readonly upstreams: Upstream[];
  private readonly relay: HttpRelay;
  private readonly chain: FallbackChain<Neo4jHttpRequest>;
  private readonly rules: RuleUse[];
  private readonly columns = new ColumnMemory();
  /** Digests of Authorization headers Neo4j answered with a 2xx: only these are served cached answers. */
  private readonly verified = new Set<string>();
  /** Set when some rule answers from the cache. */
  private readonly store: ResponseCache | undefined;
  private readonly cacheMaxBytes: number;
  private readonly learnsColumns: boolean;
  private next = 0;

  constructor(
    readonly dep: Dependency,
    readonly config: Neo4jHttpDependencyConfig,
    cache?: { store: ResponseCache; maxEntryBytes: number },
  ) {
    this.rules = config.fallback.map((r) => ({ covers: coverage(r), cache: r.use.includes('cache'), static: r.use.includes('static') }));
    this.store = cache !== undefined && this.rules.some((r) => r.cache) ? cache.store : undefined;
    this.cacheMaxBytes = cache?.maxEntryBytes ?? 0;
    this.learnsColumns = this.rules.some((r) => r.static);
    this.upstreams = config.upstream.map((url) => {
      const u = new URL(url);
      return { url, healthy: false, pool: new UpstreamPool({ host: hostOf(u), port: Number(u.port || 80) }) };
    });
    this.chain = neo4jHttpChain(config, (kind, c) => dep.fallback(kind, c.reason), {
      cache: this.store ? cacheStep(this.store) : undefined,
      static: staticStep(this.columns),
    });
    this.relay = new HttpRelay({ handler: this, timeout: config.timeout });
    if (config.health.enabled) {
      for (const upstream of this.upstreams) {
        const u = new URL(upstream.url);
        const { probe, path } = returnOneProbe(hostOf(u), Number(u.port || 80), u.pathname.replace(/\/$/, ''), config.health);
        const check = new HealthCheck({
          target: `${u.origin}${path}`,
          probe,
          interval: config.health.interval,
          timeout: config.health.timeout,
          healthyThreshold: config.health.healthyThreshold,
          unhealthyThreshold: config.health.unhealthyThreshold,
        });
        check.onChange((c) => (upstream.healthy = c.healthy));
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
    for (const u of this.upstreams) u.pool.close();
  }

  /**
   * Round-robin among the healthy upstreams, except for explicit transactions: a transaction
   * lives on the server that opened it and its id alone does not say which one, so all of them
   * go to the first healthy upstream (in config order).
   */
  private pick(x: Exchange): Upstream {
    const us = this.upstreams;
    if (us.length === 1) return us[0]!;
    if ((x.tag as ExchangeState).commitDb === undefined && TX_PATH.test(x.head.target)) return us.find((u) => u.healthy) ?? us[0]!;
    for (let i = 0; i < us.length; i++) {
      const u = us[this.next++ % us.length]!;
      if (u.healthy) return u;
    }
    return us[this.next++ % us.length]!;
  }

  // --- RelayHandler ---

  bodyPrefixWanted(x: Exchange): number {
    const st = new ExchangeState(commitDatabase(x.head.method, x.head.target));
    x.tag = st;
    // Only an auto-commit is held for its statements; a body known to be too large is refused at once.
    if (x.bodyDone || st.commitDb === undefined || x.head.contentLength > MAX_COMMIT_BODY) return 0;
    // A client that waits for 100 Continue would wait (curl: 1 s) for a body we wait for.
    if (x.head.expectContinue) x.conn.socket.write('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
    return MAX_COMMIT_BODY + 1;
  }

  /** The hot path: only the guard. What the request says matters when a fallback answers it. */
  begin(x: Exchange): void {
    const st = x.tag as ExchangeState;
    if (st.commitDb !== undefined && (x.head.contentLength > MAX_COMMIT_BODY || x.pendingBytes > MAX_COMMIT_BODY)) {
      this.dep.metrics.badRequest('oversized_body');
      return x.reply(tooLarge(MAX_COMMIT_BODY));
    }
    const dep = this.dep;
    const token = dep.admit();
    if (typeof token !== 'number') return this.fallback(x, token, undefined);
    dep.inFlight++;
    x.token = token;
    x.forward(this.pick(x).pool);
  }

  classifyHead(x: Exchange, head: ResponseHead): Verdict | 'inspect' {
    (x.tag as ExchangeState).status = head.status;
    if (head.status >= 200 && head.status < 300) this.verify(headerValue(x.head, 'authorization'));
    // A 2xx is 'success' until its body ended: done() then reads what the watch found.
    return verdictOfStatus(head.status);
  }

  classifyBody(x: Exchange, head: ResponseHead, first: Buffer | undefined): Verdict {
    // An error status: Neo4j's small JSON body says whose error it is.
    const errors = first === undefined ? undefined : errorsIn(first);
    (x.tag as ExchangeState).errors = errors;
    return verdictOf(head.status, errors);
  }

  capture(x: Exchange, head: ResponseHead): ResponseCapture | undefined {
    const st = x.tag as ExchangeState;
    const onEnd = (errors: ErrorsFound): void => void (st.errors = errors);
    // Stored or learnt from: a plain 200 to a whole auto-commit of reads some rule answers from the cache or with static.
    if (st.commitDb === undefined || head.status !== 200 || !x.bodyDone || (this.store === undefined && !this.learnsColumns)) return new ResponseWatch({ onEnd });
    if (headerValue(head, 'content-encoding') !== undefined) return new ResponseWatch({ onEnd });
    const stmts = this.statementsOf(x, st);
    if (stmts === undefined || !allRead(stmts.texts)) return new ResponseWatch({ onEnd });
    const rule = this.rules.find((r) => r.covers(stmts.texts));
    if (rule === undefined) return new ResponseWatch({ onEnd });
    const accept = headerValue(x.head, 'accept');
    let store;
    if (rule.cache && this.store !== undefined) {
      const key = cacheKey(this.store, this.dep.name, st.commitDb, cacheUser(headerValue(x.head, 'authorization')), accept, st.body!);
      const contentType = headerValue(head, 'content-type');
      if (key !== undefined && !this.store.isFresh(key)) store = { cache: this.store, key, maxBytes: this.cacheMaxBytes, meta: contentType ? { 'content-type': contentType } : {} };
    }
    // Columns follow from the statement text: each is learnt once.
    const learn = rule.static && acceptsJson(accept) && stmts.texts.some((s) => this.columns.get(s) === undefined) ? { memory: this.columns, statements: stmts.texts } : undefined;
    return new ResponseWatch({ onEnd, ...(store && { store }), ...(learn && { learn }) });
  }

  done(x: Exchange, verdict: Verdict, ms: number): void {
    const dep = this.dep;
    dep.inFlight--;
    const st = x.tag as ExchangeState;
    if (verdict === 'success' && st.errors !== undefined && st.errors.length > 0) verdict = verdictOf(st.status, st.errors);
    if (verdict === 'success') dep.success(x.token, ms);
    else if (verdict === 'failure') {
      const code = troubleCode(st.errors);
      dep.failure(x.token, ms, code !== undefined ? `Neo4j answered ${code} (HTTP ${st.status})` : `Neo4j answered HTTP ${st.status}`);
    } else dep.ignored(x.token, ms);
  }

  failedBeforeResponse(x: Exchange, err: Error, ms: number): boolean {
    this.dep.inFlight--;
    const message = describeUpstreamError(err, this.config.timeout);
    this.dep.failure(x.token, ms, message);
    this.fallback(x, 'failed', message);
    // The chain always answers (its last resort is `fail`), the cache step once the cache replied.
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

  /** Neo4j accepted these credentials: their user may be served cached answers while it is down. */
  private verify(authorization: string | undefined): void {
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.add(credentialDigest(authorization));
  }

  /** The statements of a held auto-commit body (read once per exchange). */
  private statementsOf(x: Exchange, st: ExchangeState): Statements | undefined {
    if (st.statements === null) {
      st.body = st.commitDb !== undefined && x.bodyDone && x.pendingBytes > 0 ? x.bodyPrefix() : undefined;
      st.statements = st.body !== undefined ? parseStatements(st.body) : undefined;
    }
    return st.statements;
  }

  /** Serves a request Neo4j did not answer. */
  private fallback(x: Exchange, reason: FallbackReason, error: string | undefined): void {
    const st = x.tag as ExchangeState;
    const stmts = this.statementsOf(x, st);
    const accept = headerValue(x.head, 'accept');
    const db = st.commitDb;
    const ctx: Neo4jHttpRequest = {
      dep: this.dep,
      commitDb: db,
      statements: stmts?.texts,
      includeStats: stmts?.includeStats,
      cacheKey:
        this.store !== undefined && db !== undefined && stmts !== undefined && allRead(stmts.texts) && this.verified.has(credentialDigest(headerValue(x.head, 'authorization')))
          ? cacheKey(this.store, this.dep.name, db, cacheUser(headerValue(x.head, 'authorization')), accept, st.body!)
          : undefined,
      acceptsJson: acceptsJson(accept),
      reason,
      error,
      reply: (r) => x.reply(r),
    };
    const result = this.chain.serve(ctx);
    if (typeof result !== 'string') {
      result.catch((err: unknown) => {
        // The client is still owed an answer: the last resort, in HTTP's own terms.
        this.dep.log.error({ err }, 'fallback chain failed');
        x.reply({ status: 502, headers: { 'content-type': 'text/plain' }, body: Buffer.from(`breakwater: fallback failed: ${String(err)}\n`) });
      });
    }
  }
}

/** A digest of the whole Authorization header (the password included, never kept in clear). */
function credentialDigest(authorization: string | undefined): string {
  return createHash('sha256').update(authorization ?? '').digest('hex');
}

const TX_PATH = /^\/db\/[^/]+\/tx(?:[/?]|$)/;

function hostOf(u: URL): string {
  return u.hostname.replace(/^\[|\]$/g, '');
}

function describeUpstreamError(err: Error, timeout: number): string {
  const code = (err as { code?: string }).code;
  if (code === 'ETIMEDOUT') return `no response within ${timeout}ms (timeout)`;
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}
