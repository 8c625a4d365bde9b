// The Redis listener (`protocol: redis`): accepts client connections (bulkhead on their number),
// runs one RedisSession per connection, health-checks the upstreams with PING, and sweeps the
// sessions for commands that waited longer than the timeout.
import { createServer, type Server, type Socket } from 'node:net';
import type { RedisDependencyConfig } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { FallbackChain } from '../../fallback/chain.js';
import { HealthCheck } from '../../health/check.js';
import { listen, parseListen } from '../http/listen.js';
import type { CommandInfo } from './commands.js';
import { failMessage, redisChain, type RedisFallback } from './fallbacks.js';
import { pingProbe, redisTargets, type RedisTarget } from './health.js';
import type { CommandCounters, CommandOutcome } from './metrics.js';
import { errorReply } from './replies.js';
import { RedisSession } from './session.js';
import { closeSessions, sweepEvery } from '../tcp/sessions.js';

export class RedisListener {
  private readonly server: Server;
  private readonly sessions = new Set<RedisSession>();
  private readonly targets: RedisTarget[];
  readonly chain: FallbackChain<RedisFallback>;
  private next = 0;
  private sweep: NodeJS.Timeout | undefined;

  constructor(
    readonly dep: Dependency,
    readonly config: RedisDependencyConfig,
    private readonly counters: CommandCounters,
  ) {
    this.targets = redisTargets(config.upstream);
    this.chain = redisChain(config, (kind, c) => dep.fallback(kind, c.reason));
    // Half-open: a client that sends its commands and then shuts down its side (printf | nc -N)
    // still gets every reply, as from Redis; the session closes once they are written.
    this.server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    const h = config.health;
    if (h.enabled) {
      for (const target of this.targets) {
        dep.addCheck(
          new HealthCheck({
            target: target.label,
            probe: pingProbe(target),
            interval: h.interval,
            timeout: h.timeout,
            healthyThreshold: h.healthyThreshold,
            unhealthyThreshold: h.unhealthyThreshold,
          }),
        );
      }
    }
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
      client.on('error', () => undefined);
      dep.rejected();
      dep.fallback('fail', 'bulkhead');
      client.end(errorReply(failMessage({ dep, reason: 'bulkhead', error: undefined })));
      return;
    }
    this.sessions.add(new RedisSession(client, this));
    dep.inFlight = this.sessions.size;
  }

  sessionClosed(s: RedisSession): void {
    this.sessions.delete(s);
    this.dep.inFlight = this.sessions.size;
  }

  nextTarget(): RedisTarget {
    return this.targets[this.next++ % this.targets.length]!;
  }

  commandOutcome(info: CommandInfo, outcome: CommandOutcome): void {
    this.counters.count(info, outcome);
  }

  private sweepTimeouts(): void {
    const now = performance.now();
    const timeout = this.config.timeout;
    for (const s of this.sessions) {
      if (s.pending > 0 && s.timedOut(now, timeout)) s.upstreamLost(`no reply within ${timeout}ms (timeout)`);
    }
  }
}
