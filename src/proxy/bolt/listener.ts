// The Bolt listener (`protocol: bolt`): accepts client connections (bulkhead on their number),
// runs one BoltSession per connection, health-checks Neo4j, sweeps the sessions for answers
// that are overdue, and holds what sessions share: the fallback chain, the logins Neo4j
// accepted, the field lists and home databases it reported, and the result cache.
import { createServer, type Server, type Socket } from 'node:net';
import type { BoltDependencyConfig } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { FallbackChain } from '../../fallback/chain.js';
import { HealthCheck } from '../../health/check.js';
import type { Logger } from '../../log/logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { ResponseCache } from '../../store/response-cache.js';
import { isReadQuery } from '../cypher/statement.js';
import { listen, parseListen } from '../http/listen.js';
import { boltChain, cachingRule, ruleMatcher, type BoltFallback } from './fallbacks.js';
import type { BoltVersion } from './handshake.js';
import { boltProbe, boltTargets, type BoltTarget } from './health.js';
import { BoltRequestCounters } from './metrics.js';
import { isMap } from './packstream.js';
import { firstMap, type RunRequest } from './requests.js';
import { BoltSession } from './session.js';
import { closeSessions, sweepEvery } from '../tcp/sessions.js';

/** Query texts remembered (bounded: all forgotten at once when full). */
const MAX_KNOWN_QUERIES = 10_000;
/** Logins remembered as verified by Neo4j (digests only). */
const MAX_VERIFIED = 10_000;

/** What a query text decides, kept per text. `fields` is learnt from Neo4j's answer, for `static`. */
export interface QueryInfo {
  readonly readQuery: boolean;
  /** A fallback rule covers it. */
  readonly covered: boolean;
  /** Its results are stored for `cache`. */
  readonly caches: boolean;
  fields: readonly string[] | undefined;
}

export class BoltListener {
  private readonly server: Server;
  private readonly sessions = new Set<BoltSession>();
  private readonly targets: BoltTarget[];
  readonly chain: FallbackChain<BoltFallback>;
  readonly log: Logger;
  /** host:port written into routing tables. */
  readonly advertised: string;
  /** Digests of the credentials Neo4j accepted: breakwater answers a login itself only for these. */
  readonly verified = new Set<string>();
  /** The server agent Neo4j reported (HELLO SUCCESS), repeated when breakwater answers HELLO. */
  serverAgent = 'Neo4j/5.0.0';
  readonly cacheMaxBytes: number;
  /** What breakwater knows of each query text, worked out once per text (one map lookup per RUN). */
  private readonly queries = new Map<string, QueryInfo>();
  private readonly homes = new Map<string, string>();
  private readonly covered: (c: { query: string; readQuery: boolean }) => boolean;
  private readonly caching: (c: { query: string; readQuery: boolean }) => boolean;
  private readonly counters: BoltRequestCounters;
  private next = 0;
  private sweep: NodeJS.Timeout | undefined;

  constructor(
    readonly dep: Dependency,
    readonly config: BoltDependencyConfig,
    private readonly cache: ResponseCache | undefined,
    metrics: Metrics,
    cacheMaxBytes = 1 << 20,
  ) {
    this.log = dep.log;
    this.targets = boltTargets(config.upstream);
    this.advertised = config.advertisedAddress ?? advertisedFromListen(config.listen);
    this.cacheMaxBytes = cacheMaxBytes;
    this.chain = boltChain(config, (kind, c) => dep.fallback(kind, c.reason), cache);
    const matchers = config.fallback.map((r) => ruleMatcher(r.match));
    this.covered = (c) => matchers.some((m) => m(c));
    this.caching = cache === undefined ? () => false : cachingRule(config);
    this.counters = new BoltRequestCounters(metrics, dep.name);
    // Half-open: a client that shuts down its side still gets its answers, as from Neo4j.
    this.server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    const h = config.health;
    if (h.enabled) {
      for (const target of this.targets) {
        dep.addCheck(
          new HealthCheck({
            target: target.label,
            probe: boltProbe(target, { user: h.user, password: h.password, database: h.database }),
            interval: h.interval,
            timeout: h.timeout,
            healthyThreshold: h.healthyThreshold,
            unhealthyThreshold: h.unhealthyThreshold,
          }),
        );
      }
    }
    dep.details = () => ({ connections: this.sessions.size, verifiedLogins: this.verified.size, advertisedAddress: this.advertised });
  }

  async start(): Promise<void> {
    const { host, port } = parseListen(this.config.listen);
    await listen(this.server, host, port);
    for (const c of this.dep.checks) c.start();
    this.sweep = sweepEvery(this.config.timeout, () => this.sweepTimeouts());
  }

  close(deadline: number): Promise<void> {
    return closeSessions(this.server, this.sessions, this.dep.checks, this.sweep, deadline);
  }

  private accept(client: Socket): void {
    const dep = this.dep;
    const max = this.config.maxConcurrent;
    if (max > 0 && this.sessions.size >= max) {
      // No handshake yet, so no Bolt message can say why: the driver sees the connection closed.
      client.on('error', () => undefined);
      dep.rejected();
      dep.fallback('fail', 'bulkhead');
      client.destroy();
      return;
    }
    this.sessions.add(new BoltSession(client, this));
  }

  sessionClosed(s: BoltSession): void {
    this.sessions.delete(s);
  }

  nextTarget(): BoltTarget {
    return this.targets[this.next++ % this.targets.length]!;
  }

  countRequest(signature: number): void {
    this.counters.count(signature);
  }

  // --- what sessions share ---

  /** The judgement of a query text: read or not, covered by a rule, stored for `cache`, its fields. */
  queryInfo(query: string): QueryInfo {
    let info = this.queries.get(query);
    if (info === undefined) {
      const readQuery = isReadQuery(query);
      info = { readQuery, covered: this.covered({ query, readQuery }), caches: this.caching({ query, readQuery }), fields: undefined };
      if (this.queries.size >= MAX_KNOWN_QUERIES) this.queries.clear();
      this.queries.set(query, info);
    }
    return info;
  }

  /** Bolt version, database, user (a name, or a digest for a token login: never a password in clear), impersonated user and parameters decide a result. */
  cacheKey(version: BoltVersion, run: RunRequest, db: string | undefined, impUser: string | undefined, identity: string): string {
    return this.cache!.key(`bolt:${this.dep.name}`, [`${version.major}.${version.minor}`, db ?? '', identity, impUser ?? '', run.query, run.params.toString('latin1')]);
  }

  /** Whether a result should be captured for the cache: not when a copy was stored moments ago. */
  wantsResult(key: string): boolean {
    return this.cache !== undefined && !this.cache.isFresh(key);
  }

  store(key: string, fields: readonly string[], records: Buffer): void {
    const cache = this.cache;
    if (cache === undefined) return;
    cache.set(key, { storedAt: Date.now(), meta: { fields: JSON.stringify(fields) }, body: records });
  }

  cacheTooLarge(): void {
    this.cache?.countTooLarge();
  }

  /** The home database a routing table named for a user (for the table breakwater answers itself). */
  rememberRoute(principal: string | undefined, payload: Buffer): void {
    const rt = firstMap(payload).rt;
    if (rt !== undefined && isMap(rt) && typeof rt.db === 'string') {
      if (this.homes.size >= MAX_VERIFIED) this.homes.clear();
      this.homes.set(principal ?? '', rt.db);
    }
  }

  homeDatabase(principal: string | undefined): string {
    return this.homes.get(principal ?? '') ?? 'neo4j';
  }

  /** Seconds a routing table breakwater answers is good for: until the breaker may let calls through. */
  localRouteTtl(): number {
    return Math.max(1, Math.ceil(this.dep.breaker.retryAfterMs() / 1000));
  }

  private sweepTimeouts(): void {
    const now = performance.now();
    const timeout = this.config.timeout;
    for (const s of this.sessions) {
      if (s.pending > 0 && s.timedOut(now, timeout)) s.upstreamLost(`no answer from neo4j within ${timeout}ms (timeout)`);
    }
    if (this.verified.size > MAX_VERIFIED) this.verified.clear();
  }
}

function advertisedFromListen(listen: string): string {
  const { host, port } = parseListen(listen);
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host;
  return `${h.includes(':') ? `[${h}]` : h}:${port}`;
}

