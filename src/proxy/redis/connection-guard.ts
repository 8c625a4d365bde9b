// Redis at the connection level: refused clients get a RESP error line they can show, and the
// health check is PING on a fresh connection. (Per-command handling is the RESP listener's job.)
import { requestProbe } from '../../health/request-probe.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { FallbackReason } from '../../fallback/chain.js';
import type { TcpProtocol, TcpTarget } from '../tcp/listener.js';

const PING = Buffer.from('PING\r\n');

export function redisTargets(urls: readonly string[]): TcpTarget[] {
  return urls.map((u) => {
    const url = new URL(u);
    return { host: url.hostname, port: Number(url.port || 6379), label: `redis://${url.host}` };
  });
}

export const redisConnectionGuard: TcpProtocol = {
  refusal(dep: Dependency, reason: FallbackReason, error: string | undefined) {
    const retry = Math.max(1, Math.ceil(dep.breaker.retryAfterMs() / 1000));
    const why =
      reason === 'failed'
        ? `cannot reach ${dep.name}: ${error ?? 'connection failed'}`
        : reason === 'bulkhead'
          ? `${dep.name} has too many connections (maxConcurrent ${dep.config.maxConcurrent})`
          : `${dep.name} circuit ${reason === 'forced_open' ? 'forced open' : 'open'}, retry in ${retry}s`;
    // A RESP error line: no CR/LF inside.
    return Buffer.from(`-ERR breakwater: ${why.replace(/[\r\n]+/g, ' ')}\r\n`);
  },
  probe(target) {
    return requestProbe(
      target.host,
      target.port,
      PING,
      (got) => {
        const reply = got.toString('latin1');
        if (!reply.includes('\r\n')) return undefined;
        // NOAUTH still proves the server is up and serving.
        if (reply.startsWith('+PONG') || reply.startsWith('-NOAUTH')) return null;
        return new Error(`PING answered ${JSON.stringify(reply.trim().slice(0, 200))}`);
      },
      'PING',
    );
  },
};
