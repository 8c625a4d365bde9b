// Kafka at the connection level: a refused client is disconnected (the protocol has no
// connection-level error message; clients retry another bootstrap broker), and the health
// check is an ApiVersions v0 request answered with the same correlation id.
import { connect } from 'node:net';
import type { TcpProtocol, TcpTarget } from '../tcp/listener.js';

export function kafkaTargets(brokers: readonly string[]): TcpTarget[] {
  return brokers.map((b) => {
    const i = b.lastIndexOf(':');
    return { host: b.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(b.slice(i + 1)), label: `kafka://${b}` };
  });
}

const CLIENT_ID = Buffer.from('breakwater-health');
const CORRELATION_ID = 0x62770001;

function apiVersionsRequest(): Buffer {
  // size | api_key=18 | api_version=0 | correlation_id | client_id (int16 length + bytes)
  const b = Buffer.alloc(4 + 2 + 2 + 4 + 2 + CLIENT_ID.length);
  b.writeInt32BE(b.length - 4, 0);
  b.writeInt16BE(18, 4);
  b.writeInt16BE(0, 6);
  b.writeInt32BE(CORRELATION_ID, 8);
  b.writeInt16BE(CLIENT_ID.length, 12);
  CLIENT_ID.copy(b, 14);
  return b;
}

export const kafkaConnectionGuard: TcpProtocol = {
  refusal() {
    return undefined;
  },
  probe(target: TcpTarget) {
    return (signal) =>
      new Promise<void>((resolve, reject) => {
        const s = connect({ host: target.host, port: target.port });
        let got = Buffer.alloc(0);
        const done = (err?: Error): void => {
          signal.removeEventListener('abort', onAbort);
          s.destroy();
          if (err) reject(err);
          else resolve();
        };
        const onAbort = (): void => done(Object.assign(new Error('timeout'), { name: 'TimeoutError' }));
        signal.addEventListener('abort', onAbort);
        s.once('connect', () => s.write(apiVersionsRequest()));
        s.on('data', (d: Buffer) => {
          got = Buffer.concat([got, d]);
          if (got.length < 10) return;
          const correlation = got.readInt32BE(4);
          const errorCode = got.readInt16BE(8);
          if (correlation !== CORRELATION_ID) done(new Error(`ApiVersions answered with correlation id ${correlation}`));
          else if (errorCode !== 0) done(new Error(`ApiVersions answered error code ${errorCode}`));
          else done();
        });
        s.once('error', (e) => done(e));
        s.once('close', () => done(new Error('connection closed before ApiVersions was answered')));
      });
  },
};
