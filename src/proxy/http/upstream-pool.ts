// Keep-alive TCP connections to one HTTP upstream, for the byte relay: idle sockets are reused
// newest first and closed after a short idle time (shorter than servers' keep-alive timeouts,
// so a reused socket is rarely one the server is just closing). The relay owns the sockets'
// event listeners; the pool only keeps the idle list.
import { connect, type Socket } from 'node:net';

export interface PoolOptions {
  host: string;
  port: number;
  /** Idle sockets are closed after this long. */
  idleTimeout?: number;
  maxIdle?: number;
}

export class UpstreamPool {
  private readonly idle: Socket[] = [];
  private closed = false;
  private readonly idleTimeout: number;
  private readonly maxIdle: number;

  constructor(readonly opts: PoolOptions) {
    this.idleTimeout = opts.idleTimeout ?? 2000;
    this.maxIdle = opts.maxIdle ?? 256;
  }

  /** An idle socket (reused: true), or undefined: the caller connects with connect(). */
  takeIdle(): Socket | undefined {
    while (this.idle.length > 0) {
      const s = this.idle.pop()!;
      s.setTimeout(0);
      if (!s.destroyed && s.readyState === 'open') return s;
      s.destroy();
    }
    return undefined;
  }

  connect(): Socket {
    return connect({ host: this.opts.host, port: this.opts.port, noDelay: true });
  }

  /** Keeps a socket whose exchange ended cleanly for the next one. */
  release(s: Socket): void {
    if (this.closed || s.destroyed || this.idle.length >= this.maxIdle) {
      s.destroy();
      return;
    }
    s.setTimeout(this.idleTimeout);
    this.idle.push(s);
  }

  /** A socket closed or misbehaved while idle. */
  remove(s: Socket): void {
    const i = this.idle.indexOf(s);
    if (i >= 0) this.idle.splice(i, 1);
    s.destroy();
  }

  get idleCount(): number {
    return this.idle.length;
  }

  close(): void {
    this.closed = true;
    for (const s of this.idle.splice(0)) s.destroy();
  }
}
