// ClickHouse's health probe: GET /ping answers 200 "Ok." on every version. A fresh connection
// each time, so a probe never shares the fate (or the queue) of a data-path socket.
import type { Probe } from '../../health/check.js';
import { requestProbe } from '../../health/request-probe.js';
import { parseResponseHead } from '../http/framing.js';

export function pingProbe(host: string, port: number, path: string): Probe {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: breakwater-health\r\nConnection: close\r\n\r\n`, 'latin1');
  return requestProbe(
    host,
    port,
    request,
    (got) => {
      const head = parseResponseHead(got, 0);
      if (!head) return undefined;
      if (head.status === 200) return null;
      const body = got.toString('utf8', head.end, head.end + 200).trim();
      return new Error(`GET ${path} answered HTTP ${head.status}${body ? `: ${body}` : ''}`);
    },
    `GET ${path}`,
  );
}
