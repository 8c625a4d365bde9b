// The metric families of DESIGN.md ("Interfaces"), plus Node's process metrics. Children are
// bound per dependency once, so the data path never looks labels up.
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { CollectedFamily, HistogramCells } from './collected.js';
import { BREAKER_STATES, type BreakerState } from '../breaker/breaker.js';

/** What the cache families read (the store's own stats object). */
export interface CacheStatsView {
  hits: { redis: number; memory: number };
  misses: number;
  stores: number;
  tooLarge: number;
  redisErrors: number;
}

/** What the spool families read, per dependency (the store's depth plus the forwarder's counts). */
export interface SpoolStatsView {
  records: number;
  bytes: number;
  /** spool.maxBytes: the bound `bytes` counts against. */
  maxBytes: number;
  oldestAppendedAt: number | null;
  appended: number;
  replayed: number;
  rejected: Record<string, number>;
}

export type Outcome = 'success' | 'failure' | 'slow' | 'ignored' | 'rejected';
const OUTCOMES: readonly Outcome[] = ['success', 'failure', 'slow', 'ignored', 'rejected'];

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class Metrics {
  readonly registry = new Registry();
  readonly breakerState = new Gauge({
    name: 'breakwater_breaker_state',
    help: 'Circuit breaker state: 1 for the current state, 0 for the others.',
    labelNames: ['dependency', 'state'] as const,
    registers: [this.registry],
  });
  readonly transitions = new Counter({
    name: 'breakwater_breaker_transitions_total',
    help: 'Circuit breaker state transitions.',
    labelNames: ['dependency', 'from', 'to'] as const,
    registers: [this.registry],
  });
  private readonly deps: DependencyMetrics[] = [];
  readonly calls = new CollectedFamily(
    'breakwater_calls_total',
    'Calls to a dependency by outcome: success, failure (counts against the breaker), slow (a success over breaker.slowCall), ignored (a caller error, passed through, or a client that left) and rejected (not permitted: breaker open, half-open full, or bulkhead full).',
    'counter',
    () => this.deps.flatMap((d) => OUTCOMES.map((outcome) => ({ labels: { dependency: d.name, outcome }, value: d.calls[outcome] }))),
  );
  readonly duration = new CollectedFamily(
    'breakwater_call_duration_seconds',
    'Time from forwarding a request until the upstream response ended (or failed).',
    'histogram',
    () => this.deps.flatMap((d) => d.duration.samples('breakwater_call_duration_seconds', { dependency: d.name })),
  );
  /** Per-protocol command counters (Redis: by command class), read at scrape time. */
  private readonly commandSources: { dependency: string; samples: () => { klass: string; outcome: string; value: number }[] }[] = [];
  readonly commands = new CollectedFamily(
    'breakwater_commands_total',
    'Commands by class (read, write, setup, transaction, pubsub, script, admin, other; from the command table) and outcome: success, failure, ignored (a caller error), fallback (answered by breakwater). Never by key or command name.',
    'counter',
    () => this.commandSources.flatMap((src) => src.samples().map((x) => ({ labels: { dependency: src.dependency, class: x.klass, outcome: x.outcome }, value: x.value }))),
  );
  /** Kafka: requests by api key (name), read at scrape time. */
  private readonly kafkaSources: { dependency: string; samples: () => { api: string; value: number }[] }[] = [];
  readonly kafkaRequests = new CollectedFamily(
    'breakwater_kafka_requests_total',
    'Kafka requests from clients by api (Produce, Fetch, Metadata, ...; `unknown` for an api key breakwater does not know), forwarded or answered by breakwater.',
    'counter',
    () => this.kafkaSources.flatMap((src) => src.samples().map((x) => ({ labels: { dependency: src.dependency, api: x.api }, value: x.value }))),
  );
  /** Bolt: requests by message type, read at scrape time. */
  private readonly boltSources: { dependency: string; samples: () => { message: string; value: number }[] }[] = [];
  readonly boltRequests = new CollectedFamily(
    'breakwater_bolt_requests_total',
    'Bolt requests from clients by message type (HELLO, RUN, PULL, BEGIN, ...), whether Neo4j or a fallback answered them.',
    'counter',
    () => this.boltSources.flatMap((src) => src.samples().map((x) => ({ labels: { dependency: src.dependency, message: x.message }, value: x.value }))),
  );
  private readonly spoolSources: { dependency: string; stats: () => SpoolStatsView }[] = [];
  private spoolSamples(pick: (s: SpoolStatsView) => number | null): { labels: Record<string, string>; value: number }[] {
    const out: { labels: Record<string, string>; value: number }[] = [];
    for (const src of this.spoolSources) {
      const v = pick(src.stats());
      if (v !== null) out.push({ labels: { dependency: src.dependency }, value: v });
    }
    return out;
  }
  readonly spoolDepth = new CollectedFamily(
    'breakwater_spool_depth',
    'Records in the spool not yet forwarded to the dependency.',
    'gauge',
    () => this.spoolSamples((s) => s.records),
  );
  readonly spoolDepthBytes = new CollectedFamily(
    'breakwater_spool_depth_bytes',
    'Bytes of the spool on disk not yet forwarded (counted against spool.maxBytes).',
    'gauge',
    () => this.spoolSamples((s) => s.bytes),
  );
  readonly spoolMaxBytes = new CollectedFamily(
    'breakwater_spool_max_bytes',
    'spool.maxBytes: the bound breakwater_spool_depth_bytes counts against; full, new records are refused.',
    'gauge',
    () => this.spoolSamples((s) => s.maxBytes),
  );
  readonly spoolOldestAge = new CollectedFamily(
    'breakwater_spool_oldest_record_age_seconds',
    'Age of the oldest record waiting in the spool; 0 when the spool is empty.',
    'gauge',
    () => this.spoolSamples((s) => (s.oldestAppendedAt === null ? 0 : Math.max(0, (Date.now() - s.oldestAppendedAt) / 1000))),
  );
  readonly spoolAppended = new CollectedFamily(
    'breakwater_spool_appended_total',
    'Records durably written to the spool (and acknowledged to the client).',
    'counter',
    () => this.spoolSamples((s) => s.appended),
  );
  readonly spoolReplayed = new CollectedFamily(
    'breakwater_spool_replayed_total',
    'Records forwarded from the spool to the dependency and acknowledged by it.',
    'counter',
    () => this.spoolSamples((s) => s.replayed),
  );
  readonly spoolRejected = new CollectedFamily(
    'breakwater_spool_rejected_total',
    'Records the spool refused (full: spool.maxBytes reached; too_large: one request over spool.maxBytes; idempotent or transactional producers; malformed record batches; io: a disk error) or the dependency refused on replay (kept in rejected.log next to the spool, by error name).',
    'counter',
    () =>
      this.spoolSources.flatMap((src) =>
        Object.entries(src.stats().rejected).map(([reason, value]) => ({ labels: { dependency: src.dependency, reason }, value })),
      ),
  );
  private cacheStats: (() => CacheStatsView) | undefined;
  readonly cacheLookups = new CollectedFamily(
    'breakwater_cache_lookups_total',
    'Lookups of the shared response cache by a `cache` fallback: hit in Redis, hit in the in-process copy, or miss.',
    'counter',
    () => {
      const s = this.cacheStats?.();
      if (s === undefined) return [];
      return [
        { labels: { result: 'redis_hit' }, value: s.hits.redis },
        { labels: { result: 'memory_hit' }, value: s.hits.memory },
        { labels: { result: 'miss' }, value: s.misses },
      ];
    },
  );
  readonly cacheStores = new CollectedFamily(
    'breakwater_cache_stores_total',
    'Responses offered to the shared response cache: stored, or too_large (over cache.maxEntryBytes).',
    'counter',
    () => {
      const s = this.cacheStats?.();
      return s === undefined ? [] : [{ labels: { result: 'stored' }, value: s.stores }, { labels: { result: 'too_large' }, value: s.tooLarge }];
    },
  );
  readonly cacheRedisErrors = new CollectedFamily(
    'breakwater_cache_redis_errors_total',
    'Cache Redis commands that failed or timed out (the in-process copy answered instead).',
    'counter',
    () => {
      const s = this.cacheStats?.();
      return s === undefined ? [] : [{ labels: {}, value: s.redisErrors }];
    },
  );
  readonly fallbacks = new Counter({
    name: 'breakwater_fallbacks_total',
    help: 'Responses served by a fallback instead of the dependency, by fallback kind.',
    labelNames: ['dependency', 'kind'] as const,
    registers: [this.registry],
  });
  readonly healthy = new Gauge({
    name: 'breakwater_dependency_healthy',
    help: '1 when the active health check of the dependency passes, else 0.',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });
  readonly required = new Gauge({
    name: 'breakwater_dependency_required',
    help: '1 when the dependency is required (its health gates /readyz), else 0.',
    labelNames: ['dependency'] as const,
    registers: [this.registry],
  });
  readonly badRequests = new Counter({
    name: 'breakwater_bad_requests_total',
    help: 'Requests breakwater refused or could not finish because of the client: malformed protocol input, client disconnects mid-request, oversized messages.',
    labelNames: ['dependency', 'reason'] as const,
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'breakwater_ready',
    help: '1 when /readyz answers 200.',
    registers: [this.registry],
  });

  constructor(opts: { processMetrics?: boolean } = {}) {
    this.registry.registerMetric(this.calls as never);
    this.registry.registerMetric(this.duration as never);
    this.registry.registerMetric(this.commands as never);
    this.registry.registerMetric(this.cacheLookups as never);
    this.registry.registerMetric(this.cacheStores as never);
    this.registry.registerMetric(this.cacheRedisErrors as never);
    for (const f of [this.kafkaRequests, this.boltRequests, this.spoolDepth, this.spoolDepthBytes, this.spoolMaxBytes, this.spoolOldestAge, this.spoolAppended, this.spoolReplayed, this.spoolRejected]) {
      this.registry.registerMetric(f as never);
    }
    // A 100ms event-loop-lag resolution: the default 10ms wakes an idle sidecar 100 times a second.
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
  }

  addCacheSource(stats: () => CacheStatsView): void {
    this.cacheStats = stats;
  }

  addKafkaSource(dependency: string, samples: () => { api: string; value: number }[]): void {
    this.kafkaSources.push({ dependency, samples });
  }

  addBoltSource(dependency: string, samples: () => { message: string; value: number }[]): void {
    this.boltSources.push({ dependency, samples });
  }

  addSpoolSource(dependency: string, stats: () => SpoolStatsView): void {
    this.spoolSources.push({ dependency, stats });
  }

  addCommandSource(dependency: string, samples: () => { klass: string; outcome: string; value: number }[]): void {
    this.commandSources.push({ dependency, samples });
  }

  forDependency(name: string, required = false): DependencyMetrics {
    this.required.labels(name).set(required ? 1 : 0);
    const d = new DependencyMetrics(this, name);
    this.deps.push(d);
    return d;
  }
}

export class DependencyMetrics {
  /** Bumped on the hot path, read at scrape time. */
  readonly calls: Record<Outcome, number> = { success: 0, failure: 0, slow: 0, ignored: 0, rejected: 0 };
  readonly duration = new HistogramCells(DURATION_BUCKETS);
  private readonly fallbackChildren = new Map<string, Counter.Internal>();
  private readonly badRequestChildren = new Map<string, Counter.Internal>();

  constructor(
    private readonly m: Metrics,
    readonly name: string,
  ) {
    m.healthy.labels(name).set(0);
  }

  fallback(kind: string): void {
    let c = this.fallbackChildren.get(kind);
    if (c === undefined) this.fallbackChildren.set(kind, (c = this.m.fallbacks.labels(this.name, kind)));
    c.inc();
  }

  badRequest(reason: string): void {
    let c = this.badRequestChildren.get(reason);
    if (c === undefined) this.badRequestChildren.set(reason, (c = this.m.badRequests.labels(this.name, reason)));
    c.inc();
  }

  state(current: BreakerState): void {
    for (const s of BREAKER_STATES) this.m.breakerState.labels(this.name, s).set(s === current ? 1 : 0);
  }

  transition(from: BreakerState, to: BreakerState): void {
    this.m.transitions.labels(this.name, from, to).inc();
    this.state(to);
  }

  setHealthy(healthy: boolean): void {
    this.m.healthy.labels(this.name).set(healthy ? 1 : 0);
  }
}
