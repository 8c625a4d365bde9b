// Wires one immutable config snapshot into a running sidecar: dependencies (breaker, health,
// metrics), their listeners, the admin server, the startup gate and graceful shutdown.
import type { Server } from 'node:http';
import { createAdminServer } from './admin/server.js';
import type { LoadedConfig } from './config/load.js';
import { Dependency } from './dependency/dependency.js';
import { breakerFromConfig } from './dependency/breaker-from-config.js';
import { createLogger, type Logger } from './log/logger.js';
import { Metrics } from './metrics/metrics.js';
import { listen, parseListen } from './proxy/http/listen.js';
import { ClickHouseListener } from './proxy/clickhouse/listener.js';
import { BoltListener } from './proxy/bolt/listener.js';
import { KafkaListener } from './proxy/kafka/listener.js';
import { Neo4jHttpListener } from './proxy/neo4j-http/listener.js';
import { RedisListener } from './proxy/redis/listener.js';
import { CommandCounters } from './proxy/redis/metrics.js';
import type { CdcConsumer } from './cdc/consumer.js';
import { StartupGate, type StartupCondition } from './startup/gate.js';
import type { ResponseCache } from './store/response-cache.js';

export interface SidecarOptions {
  log?: Logger;
  /** Handle SIGTERM/SIGINT (the CLI does; embedded uses may not). Default true. */
  signals?: boolean;
  /** Exit the process when the startup gate says so. Default true. */
  exitOnStartupTimeout?: boolean;
}

interface Listener {
  start(): Promise<void>;
  close(deadline: number): Promise<void>;
}

export interface Sidecar {
  readonly dependencies: ReadonlyMap<string, Dependency>;
  readonly metrics: Metrics;
  readonly admin: Server;
  /** Resolves with the process exit code once the sidecar has stopped. */
  readonly closed: Promise<number>;
  stop(exitCode?: number): Promise<void>;
}

export async function startSidecar(loaded: LoadedConfig, opts: SidecarOptions = {}): Promise<Sidecar> {
  const config = loaded.config;
  const log = opts.log ?? createLogger(config.log.level);
  const metrics = new Metrics();
  const dependencies = new Map<string, Dependency>();
  const listeners: Listener[] = [];
  // One response cache for the sidecar, created only when a rule uses it.
  const usesCache = Object.values(config.dependencies).some((d) => 'fallback' in d && d.fallback.some((r) => (r.use as readonly string[]).includes('cache')));
  // Its module (and ioredis: about 10 MB of RSS) is loaded only then.
  const cache: ResponseCache | undefined = usesCache
    ? new (await import('./store/response-cache.js')).ResponseCache(
        {
          redisUrl: config.cache.redis,
          ttlMs: config.cache.ttl,
          maxEntryBytes: config.cache.maxEntryBytes,
          memoryMaxBytes: config.cache.memoryMaxBytes,
          namespace: config.cache.namespace,
          timeoutMs: config.cache.timeout,
        },
        log,
      )
    : undefined;
  if (cache) metrics.addCacheSource(() => cache.stats);

  for (const [name, dc] of Object.entries(config.dependencies)) {
    const dep = new Dependency(name, dc, breakerFromConfig(dc.breaker), metrics.forDependency(name, dc.required), log.child({ dependency: name }), config.log.fallbackSummaryInterval);
    dependencies.set(name, dep);
    switch (dc.protocol) {
      case 'clickhouse-http':
        listeners.push(new ClickHouseListener(dep, dc, cache && { store: cache, maxEntryBytes: config.cache.maxEntryBytes }));
        break;
      case 'redis': {
        const counters = new CommandCounters();
        metrics.addCommandSource(name, () => counters.samples());
        listeners.push(new RedisListener(dep, dc, counters));
        break;
      }
      case 'kafka': {
        listeners.push(new KafkaListener(dep, dc, config.spool, metrics));
        break;
      }
      case 'bolt':
        listeners.push(new BoltListener(dep, dc, cache, metrics, config.cache.maxEntryBytes));
        break;
      case 'neo4j-http':
        listeners.push(new Neo4jHttpListener(dep, dc, cache && { store: cache, maxEntryBytes: config.cache.maxEntryBytes }));
        break;
    }
  }

  // The CDC consumer is not optional: declared topics mean it runs, and startup waits for it.
  // Loaded only when configured: kafkajs and the ClickHouse client are about 5 MB of RSS.
  const cdc: CdcConsumer | undefined = config.cdc
    ? new (await import('./cdc/consumer.js')).CdcConsumer(config.cdc, dependencies.get(config.cdc.clickhouse)!, metrics.registry, log.child({ component: 'cdc' }))
    : undefined;
  const conditions: StartupCondition[] = cdc ? [{ name: 'cdc', notReadyReason: () => cdc.notRunningReason() }] : [];

  const gate = new StartupGate(config.startup, dependencies, log, conditions);
  const ready = (): { ready: boolean; reasons: string[] } => {
    const reasons: string[] = [];
    if (!gate.passed) reasons.push('startup: waiting for ' + gate.waitingFor().join(', '));
    if (cdc) {
      const why = cdc.notRunningReason() ?? cdc.stuckReason();
      if (why !== undefined) reasons.push(why);
      else if (cdc.config.maxLag > 0 && cdc.stats.totalLag() > cdc.config.maxLag) reasons.push(`cdc lag ${cdc.stats.totalLag()} exceeds cdc.maxLag ${cdc.config.maxLag}`);
    }
    for (const [name, d] of dependencies) {
      if (!d.config.required || d.ready) continue;
      const check = d.checks.find((c) => !c.healthy);
      reasons.push(
        !d.healthy
          ? `${name}: unhealthy (${check?.opts.target}: ${check?.lastError ?? 'not checked yet'})`
          : `${name}: breaker ${d.breaker.state}`,
      );
    }
    return { ready: reasons.length === 0, reasons };
  };

  const admin = createAdminServer({
    dependencies,
    metrics,
    token: config.admin.token,
    started: () => gate.passed,
    startupStatus: () => gate.status(),
    ready,
    cdcStatus: cdc && (() => cdc.status()),
    cacheStatus: cache && (() => ({ redis: config.cache.redis === undefined ? 'not configured' : cache.redisReady ? 'ready' : 'unavailable', stats: cache.stats })),
  });

  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((r) => (resolveClosed = r));
  let stopping: Promise<void> | undefined;
  const stop = (exitCode = 0): Promise<void> =>
    (stopping ??= (async () => {
      const deadline = Date.now() + config.shutdown.drainTimeout;
      log.info({ drainTimeoutMs: config.shutdown.drainTimeout }, 'shutting down: no new connections, draining in-flight requests');
      gate.cancel();
      clearInterval(readiness);
      await Promise.all([...listeners.map((l) => l.close(deadline)), cdc?.stop(deadline)]);
      for (const d of dependencies.values()) d.close();
      await cache?.close();
      await new Promise<void>((r) => {
        admin.close(() => r());
        admin.closeAllConnections();
      });
      log.info({ exitCode }, 'stopped');
      log.flush?.();
      resolveClosed(exitCode);
    })());

  const adminAddr = parseListen(config.admin.listen);
  await listen(admin, adminAddr.host, adminAddr.port);
  for (const l of listeners) await l.start();
  cdc?.start();

  log.info(
    {
      config: loaded.files,
      env: loaded.env ?? null,
      admin: config.admin.listen,
      dependencies: Object.fromEntries(
        Object.entries(config.dependencies).map(([n, d]) => [n, { protocol: d.protocol, listen: d.listen, upstream: d.upstream, required: d.required, breaker: d.breaker.state }]),
      ),
    },
    `breakwater started: admin on ${config.admin.listen}; ` +
      Object.entries(config.dependencies)
        .map(([n, d]) => `${n} (${d.protocol}) ${d.listen} -> ${d.upstream.join(', ')}`)
        .join('; '),
  );

  if (opts.signals !== false) {
    const onSignal = (sig: string): void => {
      log.info({ signal: sig }, `received ${sig}`);
      void stop(0);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  // Readiness changes are worth a log line each (and only those): operators see why a pod
  // left the load balancer without polling /readyz.
  let wasReady: boolean | undefined;
  const readiness = setInterval(() => {
    const r = ready();
    metrics.ready.set(r.ready ? 1 : 0);
    if (r.ready === wasReady) return;
    wasReady = r.ready;
    if (r.ready) log.info('ready: every required dependency is healthy');
    else log.warn({ reasons: r.reasons }, `not ready: ${r.reasons.join('; ')}`);
  }, 1000);
  readiness.unref();

  void gate.run().then((outcome) => {
    if (outcome === 'exit' && opts.exitOnStartupTimeout !== false) {
      process.stderr.write(`breakwater: ${gate.failureMessage()}\n`);
      void stop(1);
    }
  });

  return { dependencies, metrics, admin, closed, stop };
}
