// A real Redis server (Debian redis-server) for tests: own free port, own temp
// dir, no persistence, ready when PING answers +PONG.
import net from 'node:net';
import { freePort } from './ports.js';
import { serviceOf, type ServiceControl, ManagedProcess, ServiceError, findBinary, isAddressInUse, makeTempDir } from './process.js';

export interface RedisServer extends ServiceControl {
  port: number;
  /** redis://127.0.0.1:<port> */
  url: string;
  /** Sends PING on a fresh connection; resolves to the reply line ('+PONG'), rejects on timeout (default 5 s). */
  ping(opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<string>;
}

export interface StartRedisOptions {
  /** Fixed port; default a free one. */
  port?: number;
  /** Extra redis-server arguments, e.g. ['--maxmemory', '10mb']. */
  args?: string[];
  /** Readiness timeout, default 60 s. */
  readyTimeoutMs?: number;
}

/** One inline PING on a new connection; resolves to the first reply line. */
export function redisPing(port: number, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const socket = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    const done = (err: unknown, line?: string): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(line as string);
    };
    const onAbort = (): void => done(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const end = buf.indexOf('\r\n');
      if (end >= 0) done(undefined, buf.slice(0, end));
    });
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error(`redis at 127.0.0.1:${port} closed the connection without a reply`)));
  });
}

async function startOnce(binary: string, opts: StartRedisOptions): Promise<RedisServer> {
  const port = opts.port ?? (await freePort());
  const dir = await makeTempDir('redis');
  const proc = new ManagedProcess({
    name: 'redis',
    command: binary,
    args: [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', dir,
      '--daemonize', 'no',
      '--logfile', '',
      '--databases', '16',
      // DEBUG SLEEP etc. let tests simulate a slow server (local connections only)
      '--enable-debug-command', 'local',
      ...(opts.args ?? []),
    ],
    dir,
    probe: async (signal) => (await redisPing(port, signal)) === '+PONG',
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    stopTimeoutMs: 5_000,
  });
  const url = `redis://127.0.0.1:${port}`;
  const server: RedisServer = serviceOf(proc, {
    port,
    url,
    ping: (pingOpts: { timeoutMs?: number; signal?: AbortSignal } = {}) =>
      redisPing(port, pingOpts.signal ?? AbortSignal.timeout(pingOpts.timeoutMs ?? 5_000)),
  });
  await proc.startOrCleanUp();
  return server;
}

/**
 * Starts `redis-server --port P --save '' --appendonly no --dir TMP --bind 127.0.0.1`
 * on a free port in its own temp dir and waits for PING. Throws
 * E_SERVICE_NOT_INSTALLED when redis-server is missing (env REDIS_SERVER_BIN
 * overrides the path).
 */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = findBinary('redis-server', 'redis-server', 'REDIS_SERVER_BIN');
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binary, opts);
    } catch (err) {
      if (opts.port !== undefined || attempt >= 3 || !isAddressInUse(err)) throw err;
    }
  }
}

export { ServiceError };
