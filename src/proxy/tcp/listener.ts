// A connection-level guard for protocols whose request-level listener has not landed yet:
// each client connection asks the breaker, a refused or failed upstream connection gets the
// protocol's error reply (if it has one) and counts, and an established one is piped through
// untouched. Upstream resets mid-connection count as failures too.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { REJECTED } from '../../breaker/breaker.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { FallbackReason } from '../../fallback/chain.js';
import { HealthCheck, type Probe } from '../../health/check.js';
import { listen, parseListen } from '../http/listen.js';

export interface TcpTarget {
  host: string;
  port: number;
  /** For messages, e.g. redis://127.0.0.1:6379 */
  label: string;
}

export interface TcpProtocol {
  /** The reply a refused client gets before the connection is closed, if the protocol has one. */
  refusal(dep: Dependency, reason: FallbackReason, error: string | undefined): Buffer | undefined;
  probe(target: TcpTarget): Probe;
}

export class TcpListener {
  private readonly server: Server;
  private readonly clients = new Set<Socket>();
  private next = 0;

  constructor(
    readonly dep: Dependency,
    private readonly targets: readonly TcpTarget[],
    private readonly protocol: TcpProtocol,
  ) {
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    const h = dep.config.health;
    if (h.enabled) {
      for (const target of targets) {
        const check = new HealthCheck({
          target: target.label,
          probe: protocol.probe(target),
          interval: h.interval,
          timeout: h.timeout,
          healthyThreshold: h.healthyThreshold,
          unhealthyThreshold: h.unhealthyThreshold,
        });
        dep.addCheck(check);
      }
    }
  }

  async start(): Promise<void> {
    const { host, port } = parseListen(this.dep.config.listen);
    await listen(this.server, host, port);
    for (const c of this.dep.checks) c.start();
  }

  async close(deadline: number): Promise<void> {
    for (const c of this.dep.checks) c.stop();
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    // Connections are long-lived: give clients until the deadline to hang up, then cut them.
    while (this.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const s of this.clients) s.destroy();
    await closed;
  }

  private accept(client: Socket): void {
    const dep = this.dep;
    client.on('error', () => undefined);
    const token = dep.admit();
    if (typeof token !== 'number') return this.refuse(client, token, undefined);
    const target = this.targets[this.next++ % this.targets.length]!;
    const start = performance.now();
    let established = false;
    const upstream = connect({ host: target.host, port: target.port, noDelay: true, timeout: dep.config.timeout });
    dep.inFlight++;
    this.clients.add(client);
    const finish = (): void => {
      if (!this.clients.delete(client)) return;
      dep.inFlight--;
    };
    upstream.once('timeout', () => upstream.destroy(Object.assign(new Error(`connect to ${target.label} timed out after ${dep.config.timeout}ms`), { code: 'ETIMEDOUT' })));
    upstream.once('connect', () => {
      established = true;
      upstream.setTimeout(0);
      dep.success(token, performance.now() - start);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      const message = `${target.label}: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' ');
      if (!established) {
        dep.failure(token, performance.now() - start, message);
        finish();
        this.refuse(client, 'failed', message);
      } else if (!client.destroyed) {
        // The upstream broke under a live connection: that is the dependency's failure.
        const t = dep.breaker.acquire();
        if (t !== REJECTED) dep.failure(t, 0, `connection lost: ${message}`);
        client.destroy();
      }
    });
    upstream.once('close', () => {
      finish();
      client.end();
    });
    client.once('close', () => {
      if (!established && !upstream.destroyed) {
        // The client left before the upstream answered: not the dependency's fault, but the
        // permit must be given back (a half-open trial slot would otherwise stay taken).
        dep.ignored(token, performance.now() - start);
        dep.metrics.badRequest('client_disconnect');
      }
      finish();
      upstream.destroy();
    });
  }

  private refuse(client: Socket, reason: FallbackReason, error: string | undefined): void {
    const reply = this.protocol.refusal(this.dep, reason, error);
    this.dep.fallback('fail', reason);
    if (reply && client.writable) client.end(reply);
    else client.destroy();
  }
}
