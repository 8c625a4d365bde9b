// ClickHouse's health probe: GET /ping answers 200 "Ok." on every version. A fresh connection
// each time, so a probe never shares the fate (or the queue) of a data-path socket.
import { connect } from 'node:net';
import type { Probe } from '../../health/check.js';
import { parseResponseHead } from '../http/framing.js';

export function pingProbe(host: string, port: number, path: string): Probe {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUser-Agent: breakwater-health\r\nConnection: close\r\n\r\n`, 'latin1');
  return (signal) =>
    new Promise<void>((resolve, reject) => {
      const s = connect({ host, port });
      let got: Buffer = Buffer.alloc(0);
      const done = (err?: Error): void => {
        signal.removeEventListener('abort', onAbort);
        s.destroy();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => done(Object.assign(new Error('timeout'), { name: 'TimeoutError' }));
      signal.addEventListener('abort', onAbort);
      s.once('connect', () => s.write(request));
      s.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        let head;
        try {
          head = parseResponseHead(got, 0);
        } catch (err) {
          return done(err as Error);
        }
        if (!head) return;
        if (head.status === 200) return done();
        const body = got.toString('utf8', head.end, head.end + 200).trim();
        done(new Error(`GET ${path} answered HTTP ${head.status}${body ? `: ${body}` : ''}`));
      });
      s.once('error', (e) => done(e));
      s.once('close', () => done(new Error(`connection closed before GET ${path} was answered`)));
    });
}
