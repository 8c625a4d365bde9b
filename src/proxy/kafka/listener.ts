// The Kafka listener (`protocol: kafka`): the bootstrap listener and, through KafkaCluster, one
// listener per broker; a KafkaConnection per client connection; health checks (ApiVersions on
// each bootstrap broker); one sweep timer for request timeouts; and, when a rule spools, the
// durable spool and the forwarder that drains it once the breaker lets requests through.
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import type { KafkaDependencyConfig, SpoolConfig } from '../../config/schema.js';
import { KAFKA_FAIL_CODES } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import { HealthCheck } from '../../health/check.js';
import type { Metrics } from '../../metrics/metrics.js';
import { Spool } from '../../store/spool/spool.js';
import { listen, parseListen } from '../http/listen.js';
import { API_KEY_COUNT, apiName } from './api-keys.js';
import { KafkaCluster, type BrokerRoute, type Upstream } from './cluster.js';
import { KafkaConnection, type ConnectionHost } from './connection.js';
import { TopicRules } from './fallbacks.js';
import { apiVersionsProbe, kafkaTargets } from './health.js';
import { SpoolForwarder } from './replay.js';

export class KafkaListener implements ConnectionHost {
  private readonly server: Server;
  private readonly connections = new Set<KafkaConnection>();
  readonly cluster: KafkaCluster;
  readonly rules: TopicRules;
  readonly failCode: number;
  spool: Spool | undefined;
  private forwarder: SpoolForwarder | undefined;
  private readonly bootstrap: Upstream[];
  private next = 0;
  private sweep: NodeJS.Timeout | undefined;
  private readonly requests = new Float64Array(API_KEY_COUNT + 1);
  private readonly stats = { appended: 0, replayed: 0, rejected: {} as Record<string, number> };
  private readonly dir: string | undefined;
  private readonly maxSpoolBytes: number;

  constructor(
    readonly dep: Dependency,
    readonly config: KafkaDependencyConfig,
    spoolConfig: SpoolConfig,
    metrics: Metrics,
  ) {
    this.rules = new TopicRules(config.fallback);
    this.failCode = KAFKA_FAIL_CODES[config.failWith];
    this.dir = this.rules.spools ? path.resolve(spoolConfig.dir, dep.name) : undefined;
    this.maxSpoolBytes = spoolConfig.maxBytes;
    const { host } = parseListen(config.listen);
    const advertised = config.advertisedHost ?? (host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host);
    this.cluster = new KafkaCluster({
      bindHost: host,
      advertisedHost: advertised,
      brokerPortBase: config.brokerPortBase,
      stateDir: this.dir,
      log: dep.log,
      accept: (socket, route) => this.accept(socket, route),
    });
    this.bootstrap = kafkaTargets(config.upstream).map((t) => ({ host: t.host, port: t.port }));
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket, undefined));
    metrics.addKafkaSource(dep.name, () => {
      const out: { api: string; value: number }[] = [];
      this.requests.forEach((v, k) => {
        if (v > 0) out.push({ api: k === API_KEY_COUNT ? 'unknown' : apiName(k), value: v });
      });
      return out;
    });
    if (this.rules.spools) {
      metrics.addSpoolSource(dep.name, () => {
        const d = this.spool?.depth;
        return {
          records: d?.records ?? 0,
          bytes: d?.bytes ?? 0,
          maxBytes: spoolConfig.maxBytes,
          oldestAppendedAt: d?.oldestAppendedAt ?? null,
          appended: this.stats.appended,
          replayed: this.stats.replayed,
          rejected: this.stats.rejected,
        };
      });
    }
    dep.details = () => ({ kafka: this.status() });
    const h = config.health;
    if (h.enabled) {
      for (const target of kafkaTargets(config.upstream)) {
        dep.addCheck(
          new HealthCheck({
            target: target.label,
            probe: apiVersionsProbe(target),
            interval: h.interval,
            timeout: h.timeout,
            healthyThreshold: h.healthyThreshold,
            unhealthyThreshold: h.unhealthyThreshold,
          }),
        );
      }
    }
  }

  get log() {
    return this.dep.log;
  }

  async start(): Promise<void> {
    if (this.dir !== undefined) {
      try {
        this.spool = await Spool.open({ dir: path.join(this.dir, 'spool'), maxBytes: this.maxSpoolBytes });
      } catch (err) {
        throw new Error(`${this.dep.name}: cannot open the spool in ${path.join(this.dir, 'spool')}: ${String((err as Error).message ?? err)} (set spool.dir to a writable directory)`, { cause: err });
      }
      const d = this.spool.depth;
      if (d.entries > 0) {
        this.log.warn({ spool: d }, `spool holds ${d.records} records (${d.bytes} bytes) from before the restart: forwarding them once Kafka answers`);
      }
      this.forwarder = new SpoolForwarder({
        dep: this.dep,
        config: this.config,
        log: this.log,
        cluster: this.cluster,
        spool: this.spool,
        dir: this.dir,
        onReplayed: (n) => (this.stats.replayed += n),
        onRejected: (reason, n) => this.spoolRejected(reason, n),
      });
      this.dep.breaker.onTransition(() => this.forwarder?.kick());
    }
    await this.cluster.start();
    const { host, port } = parseListen(this.config.listen);
    await listen(this.server, host, port);
    for (const c of this.dep.checks) c.start();
    const timeout = this.config.timeout;
    this.sweep = setInterval(() => {
      const now = performance.now();
      for (const c of this.connections) if (c.pending > 0) c.checkTimeout(now);
    }, Math.max(50, Math.min(1000, timeout / 4)));
    this.sweep.unref();
    this.forwarder?.kick();
  }

  async close(deadline: number): Promise<void> {
    for (const c of this.dep.checks) c.stop();
    clearInterval(this.sweep);
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    while (this.connections.size > 0 && Date.now() < deadline) {
      for (const c of this.connections) c.closeIfIdle();
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const c of this.connections) c.destroy();
    this.forwarder?.close();
    await closed;
    await this.cluster.close();
    await this.spool?.close();
  }

  private accept(socket: Socket, route: BrokerRoute | undefined): void {
    const max = this.config.maxConcurrent;
    if (max > 0 && this.connections.size >= max) {
      this.dep.rejected();
      this.dep.fallback('fail', 'bulkhead');
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    // Not dep.inFlight: admit() compares that with maxConcurrent, which here bounds connections.
    this.connections.add(new KafkaConnection(socket, this, route));
  }

  connectionClosed(c: KafkaConnection): void {
    this.connections.delete(c);
  }

  requestSeen(apiKey: number): void {
    this.requests[apiKey >= 0 && apiKey < API_KEY_COUNT ? apiKey : API_KEY_COUNT]!++;
  }

  nextBootstrap(): Upstream {
    return this.bootstrap[this.next++ % this.bootstrap.length]!;
  }

  spooled(records: number): void {
    this.stats.appended += records;
    this.forwarder?.kick();
  }

  spoolRejected(reason: string, records: number): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + records;
  }

  /** For /status. */
  status(): Record<string, unknown> {
    return {
      brokers: this.cluster.listeners(),
      clusterState: this.cluster.state ? { updatedAt: new Date(this.cluster.state.updatedAt).toISOString(), topics: this.cluster.state.topics.length } : null,
      spool: this.spool ? { dir: path.join(this.dir!, 'spool'), ...this.spool.depth, ...this.stats } : null,
    };
  }
}
