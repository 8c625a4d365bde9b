// The Redis health check: PING on a fresh connection. NOAUTH still proves the server is up.
import { requestProbe } from '../../health/request-probe.js';
import type { Probe } from '../../health/check.js';

const PING = Buffer.from('PING\r\n');

export interface RedisTarget {
  host: string;
  port: number;
  /** For messages: redis://127.0.0.1:6379 */
  label: string;
}

export function redisTargets(urls: readonly string[]): RedisTarget[] {
  return urls.map((u) => {
    const url = new URL(u);
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 6379), label: `redis://${url.host}` };
  });
}

export function pingProbe(target: RedisTarget): Probe {
  return requestProbe(
    target.host,
    target.port,
    PING,
    (got) => {
      const reply = got.toString('latin1');
      if (!reply.includes('\r\n')) return undefined;
      if (reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')) return null;
      return new Error(`PING answered ${JSON.stringify(reply.trim().slice(0, 200))}`);
    },
    'PING',
  );
}
