// HTTP upstream replicas: a keep-alive undici Pool each, picked round-robin among the healthy
// ones (all of them when none is known healthy: the breaker, not the picker, decides then).
import { Pool } from 'undici';

export interface Replica {
  readonly url: string;
  readonly origin: string;
  readonly basePath: string;
  readonly pool: Pool;
  healthy: boolean;
}

export interface UpstreamOptions {
  /** Upper bound of connections per replica. */
  connections?: number;
  headersTimeout: number;
  bodyTimeout: number;
}

export class Upstreams {
  readonly replicas: Replica[];
  private next = 0;

  constructor(urls: readonly string[], opts: UpstreamOptions) {
    this.replicas = urls.map((url) => {
      const u = new URL(url);
      return {
        url,
        origin: u.origin,
        basePath: u.pathname === '/' ? '' : u.pathname.replace(/\/$/, ''),
        healthy: false,
        pool: new Pool(u.origin, {
          connections: opts.connections ?? 256,
          pipelining: 1,
          keepAliveTimeout: 4_000,
          keepAliveMaxTimeout: 60_000,
          headersTimeout: opts.headersTimeout,
          bodyTimeout: opts.bodyTimeout,
          connect: { timeout: Math.min(opts.headersTimeout, 10_000), noDelay: true },
        }),
      };
    });
  }

  pick(): Replica {
    const rs = this.replicas;
    if (rs.length === 1) return rs[0]!;
    for (let i = 0; i < rs.length; i++) {
      const r = rs[this.next++ % rs.length]!;
      if (r.healthy) return r;
    }
    return rs[this.next++ % rs.length]!;
  }

  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.pool.close().catch(() => undefined)));
  }

  destroy(): void {
    for (const r of this.replicas) void r.pool.destroy().catch(() => undefined);
  }
}
