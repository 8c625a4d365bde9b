// Shared pieces of the Redis proxy tests: a sidecar in front of a real redis-server, ioredis
// clients pointed at it, a raw RESP socket with its own small reply parser (independent of
// src/proxy/redis/framing.ts, so a framing bug cannot hide itself), and metric/status reads.
import { Redis, type RedisOptions } from 'ioredis';
import { connect, type Socket } from 'node:net';
import { freePort, type RedisServer } from '../../services/index.js';
import { startBreakwater, type Breakwater, type TeardownHost } from '../../support/breakwater.js';

export const TOKEN = 'secret-token';

export interface SidecarOptions {
  timeout?: string;
  maxRequestBytes?: string;
  breaker?: string;
  health?: string;
  fallback?: string;
  maxConcurrent?: number;
}

export interface Sidecar {
  bw: Breakwater;
  port: number;
}

/** breakwater with one `redis` dependency in front of `redis`; health checks out of the way unless asked. */
export async function sidecar(t: TeardownHost, redis: RedisServer | { url: string }, o: SidecarOptions = {}): Promise<Sidecar> {
  const port = await freePort();
  const bw = await startBreakwater(
    t,
    `admin: { listen: "{{ADMIN}}", token: ${TOKEN} }
log: { level: info, fallbackSummaryInterval: 1s }
dependencies:
  redis:
    protocol: redis
    listen: 127.0.0.1:${port}
    upstream: ${redis.url}
    timeout: ${o.timeout ?? '2s'}
    maxRequestBytes: ${o.maxRequestBytes ?? '64MiB'}
    maxConcurrent: ${o.maxConcurrent ?? 0}
    breaker: ${o.breaker ?? '{ failures: 5, openFor: 2s, halfOpenSuccesses: 2 }'}
    health: ${o.health ?? '{ interval: 300ms, unhealthyThreshold: 100 }'}
${o.fallback ? `    fallback:\n${o.fallback}` : ''}
`,
  );
  // The admin server listens first, the data listeners after it: wait for the "started" line.
  await bw.waitFor(() => bw.logs.some((l) => /^breakwater started/.test(String(l.msg))), 'the "breakwater started" log line');
  return { bw, port };
}

/**
 * An ioredis client through the sidecar. It never reconnects (retryStrategy null): a test that
 * expects "the same connection keeps working" fails if breakwater closed it.
 */
export async function client(t: TeardownHost, port: number, opts: RedisOptions = {}): Promise<Redis> {
  const r = new Redis({ host: '127.0.0.1', port, retryStrategy: () => null, maxRetriesPerRequest: 0, lazyConnect: true, ...opts });
  r.on('error', () => undefined);
  t.teardown(() => r.disconnect());
  await r.connect();
  return r;
}

/** A direct ioredis client (not through breakwater). */
export function direct(t: TeardownHost, redis: RedisServer, opts: RedisOptions = {}): Redis {
  const r = new Redis({ host: '127.0.0.1', port: redis.port, retryStrategy: () => 200, ...opts });
  r.on('error', () => undefined);
  t.teardown(() => r.disconnect());
  return r;
}

export const metricOf = (bw: Breakwater, series: string): Promise<number> =>
  bw.metric(new RegExp(`^${series.replace(/[{}"|()[\]]/g, (c) => `\\${c}`)} `)).then((v) => v ?? 0);

export const commands = (bw: Breakwater, klass: string, outcome: string): Promise<number> =>
  metricOf(bw, `breakwater_commands_total{dependency="redis",class="${klass}",outcome="${outcome}"}`);

export const badRequests = (bw: Breakwater, reason: string): Promise<number> =>
  metricOf(bw, `breakwater_bad_requests_total{dependency="redis",reason="${reason}"}`);

export async function breakerState(bw: Breakwater): Promise<string> {
  return (await bw.get('/status')).body.dependencies.redis.breaker.state;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs fn, returning its result (or error) and how long it took. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: Error }> {
  const start = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - start, value };
  } catch (error) {
    return { ms: performance.now() - start, error: error as Error };
  }
}

/** Rejects when p does not settle within ms (a hang is a failure, not a tap timeout). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: did not settle within ${ms}ms`)), ms);
    }),
  ]);
}

// --- a raw RESP client ---

export type Resp =
  | string
  | number
  | bigint
  | boolean
  | null
  | Buffer
  | Resp[]
  | { error: string }
  | { map: Array<[Resp, Resp]> }
  | { set: Resp[] }
  | { push: Resp[] }
  | { verbatim: string }
  | { double: string };

/** Parses one RESP2/RESP3 value at buf[pos]: [value, end] or undefined when incomplete. Throws on garbage. */
export function parseResp(buf: Buffer, pos = 0): [Resp, number] | undefined {
  if (pos >= buf.length) return undefined;
  const type = String.fromCharCode(buf[pos]!);
  const nl = buf.indexOf('\r\n', pos);
  if (nl < 0) return undefined;
  const line = buf.toString('latin1', pos + 1, nl);
  const next = nl + 2;
  const aggregate = (n: number, each: number): [Resp[], number] | undefined => {
    const out: Resp[] = [];
    let p = next;
    for (let i = 0; i < n * each; i++) {
      const v = parseResp(buf, p);
      if (v === undefined) return undefined;
      out.push(v[0]);
      p = v[1];
    }
    return [out, p];
  };
  switch (type) {
    case '+':
      return [buf.toString('utf8', pos + 1, nl), next];
    case '-':
      return [{ error: buf.toString('utf8', pos + 1, nl) }, next];
    case ':':
      return [Number(line), next];
    case '(':
      return [BigInt(line), next];
    case ',':
      return [{ double: line }, next];
    case '#':
      return [line === 't', next];
    case '_':
      return [null, next];
    case '$':
    case '!':
    case '=': {
      const n = Number(line);
      if (n < 0) return [null, next];
      if (buf.length < next + n + 2) return undefined;
      const body = buf.subarray(next, next + n);
      if (type === '!') return [{ error: body.toString('utf8') }, next + n + 2];
      if (type === '=') return [{ verbatim: body.toString('utf8') }, next + n + 2];
      return [Buffer.from(body), next + n + 2];
    }
    case '*':
    case '~':
    case '>': {
      const n = Number(line);
      if (n < 0) return [null, next];
      const r = aggregate(n, 1);
      if (r === undefined) return undefined;
      if (type === '~') return [{ set: r[0] }, r[1]];
      if (type === '>') return [{ push: r[0] }, r[1]];
      return r;
    }
    case '%': {
      const r = aggregate(Number(line), 2);
      if (r === undefined) return undefined;
      const pairs: Array<[Resp, Resp]> = [];
      for (let i = 0; i < r[0].length; i += 2) pairs.push([r[0][i]!, r[0][i + 1]!]);
      return [{ map: pairs }, r[1]];
    }
    default:
      throw new Error(`not RESP: ${JSON.stringify(buf.toString('latin1', pos, Math.min(buf.length, pos + 40)))}`);
  }
}

/** Bulk strings as text, for readable assertions. */
export function text(v: Resp): unknown {
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return v.map(text);
  if (v !== null && typeof v === 'object') {
    if ('map' in v) return { map: v.map.map(([k, x]) => [text(k), text(x)]) };
    if ('set' in v) return { set: v.set.map(text) };
    if ('push' in v) return { push: v.push.map(text) };
  }
  return v;
}

/** One command as a RESP array of bulk strings. */
export function encode(...args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export class RawClient {
  readonly socket: Socket;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  readonly closedP: Promise<void>;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.wake();
    });
    this.socket.on('error', () => undefined);
    this.closedP = new Promise((r) =>
      this.socket.on('close', () => {
        this.closed = true;
        this.wake();
        r();
      }),
    );
  }

  static async open(t: TeardownHost, port: number): Promise<RawClient> {
    const c = new RawClient(port);
    t.teardown(() => c.socket.destroy());
    await new Promise<void>((resolve, reject) => {
      c.socket.once('connect', resolve);
      c.socket.once('error', reject);
    });
    return c;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Bytes received and not yet parsed. */
  get pendingBytes(): Buffer {
    return this.buf;
  }

  /** The next n replies; rejects on timeout or when the connection closes first. */
  async read(n = 1, timeoutMs = 10_000): Promise<Resp[]> {
    const out: Resp[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < n) {
      const v = parseResp(this.buf);
      if (v !== undefined) {
        out.push(v[0]);
        this.buf = this.buf.subarray(v[1]);
        continue;
      }
      if (this.closed) throw new Error(`connection closed after ${out.length} of ${n} replies (${JSON.stringify(text(out)).slice(0, 300)}); unparsed: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${out.length} of ${n} replies; unparsed: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
    return out;
  }

  async command(...args: Array<string | Buffer>): Promise<Resp> {
    this.write(encode(...args));
    return (await this.read(1))[0]!;
  }

  /** Waits for the server to close the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<boolean> {
    await Promise.race([this.closedP, sleep(timeoutMs)]);
    return this.closed;
  }
}
