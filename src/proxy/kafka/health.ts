// Kafka health: an ApiVersions v0 request on a fresh connection to each bootstrap broker,
// answered with the same correlation id and error code 0.
import { requestProbe } from '../../health/request-probe.js';
import type { Probe } from '../../health/check.js';

export interface KafkaTarget {
  host: string;
  port: number;
  /** For messages: kafka://host:port */
  label: string;
}

export function kafkaTargets(brokers: readonly string[]): KafkaTarget[] {
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

export function apiVersionsProbe(target: KafkaTarget): Probe {
  return requestProbe(
    target.host,
    target.port,
    apiVersionsRequest(),
    (got) => {
      if (got.length < 10) return undefined;
      const correlation = got.readInt32BE(4);
      const errorCode = got.readInt16BE(8);
      if (correlation !== CORRELATION_ID) return new Error(`ApiVersions answered with correlation id ${correlation}`);
      if (errorCode !== 0) return new Error(`ApiVersions answered error code ${errorCode}`);
      return null;
    },
    'ApiVersions',
  );
}
