// Neo4j's health probe: `RETURN 1` through POST /db/{database}/tx/commit, with Basic auth when
// `user` and `password` are set. Without credentials Neo4j answers 401, which proves it is up
// and serving HTTP: that counts as healthy. With them, the answer must be a 200 without errors
// (a stopped database answers a 200 with DatabaseUnavailable). A fresh connection each time, so
// a probe never shares the fate of a data-path socket.
import type { Probe } from '../../health/check.js';
import { requestProbe } from '../../health/request-probe.js';
import { parseResponseHead } from '../http/framing.js';
import { dechunk } from '../http/relay.js';
import { errorsIn } from './errors-scan.js';

export interface ProbeAuth {
  user?: string | undefined;
  password?: string | undefined;
  database?: string | undefined;
}

const BODY = Buffer.from('{"statements":[{"statement":"RETURN 1"}]}');

export function returnOneProbe(host: string, port: number, basePath: string, auth: ProbeAuth): { probe: Probe; path: string } {
  const path = `${basePath}/db/${encodeURIComponent(auth.database ?? 'neo4j')}/tx/commit`;
  const credentials = auth.user !== undefined && auth.password !== undefined;
  const authorization = credentials ? `Authorization: Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}\r\n` : '';
  const request = Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: breakwater-health\r\nContent-Type: application/json\r\nAccept: application/json\r\n${authorization}Content-Length: ${BODY.length}\r\nConnection: close\r\n\r\n`,
      'latin1',
    ),
    BODY,
  ]);
  const probe = requestProbe(
    host,
    port,
    request,
    (got) => {
      const head = parseResponseHead(got, 0);
      if (!head) return undefined;
      if (!credentials && head.status === 401) return null;
      // Wait for the whole body: the errors come at its end.
      let body: Buffer;
      if (head.contentLength >= 0) {
        if (got.length - head.end < head.contentLength) return undefined;
        body = got.subarray(head.end, head.end + head.contentLength);
      } else if (head.chunked) {
        if (!got.subarray(got.length - 5).equals(Buffer.from('0\r\n\r\n'))) return undefined;
        body = dechunk(got.subarray(head.end));
      } else return undefined; // until close: judged then (requestProbe fails it; Neo4j always frames)
      const errors = errorsIn(body);
      if (head.status === 200 && (errors === undefined || errors.length === 0)) return null;
      const what = errors?.length ? errors.join(', ') : body.toString('utf8', 0, 200).trim();
      const hint =
        head.status === 401 ? ' (check health.user and health.password)' : head.status === 404 ? ' (check health.database: no such database)' : '';
      return new Error(`RETURN 1 via POST ${path} answered HTTP ${head.status}${what ? `: ${what}` : ''}${hint}`);
    },
    `POST ${path}`,
  );
  return { probe, path };
}
