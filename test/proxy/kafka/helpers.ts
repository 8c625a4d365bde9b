// Shared pieces of the Kafka proxy tests: a sidecar in front of a real Kafka cluster, kafkajs
// clients pointed at it (or straight at Kafka), and metric/status reads.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';
import { freePort } from '../../services/index.js';
import { startBreakwater, type Breakwater, type TeardownHost } from '../../support/breakwater.js';

export const TOKEN = 'secret-token';

export interface SidecarOptions {
  timeout?: string;
  breaker?: string;
  health?: string;
  fallback?: string;
  spoolDir?: string;
  maxSpoolBytes?: string;
  brokerPortBase?: number;
  port?: number;
  failWith?: string;
  extra?: string;
}

export interface Sidecar {
  bw: Breakwater;
  port: number;
  bootstrap: string;
  spoolDir: string;
}

/** breakwater with one `kafka` dependency in front of `brokers`; health checks out of the way unless asked. */
export async function sidecar(t: TeardownHost, brokers: readonly string[], o: SidecarOptions = {}): Promise<Sidecar> {
  const port = o.port ?? (await freePort());
  const spoolDir = o.spoolDir ?? mkdtempSync(join(tmpdir(), 'bw-spool-'));
  const bw = await startBreakwater(
    t,
    `admin: { listen: "{{ADMIN}}", token: ${TOKEN} }
log: { level: info, fallbackSummaryInterval: 1s }
spool: { dir: ${spoolDir}, maxBytes: ${o.maxSpoolBytes ?? '256MiB'} }
dependencies:
  kafka:
    protocol: kafka
    listen: 127.0.0.1:${port}
    upstream: [${brokers.join(', ')}]
    timeout: ${o.timeout ?? '10s'}
    connectTimeout: 1s
    failWith: ${o.failWith ?? 'BROKER_NOT_AVAILABLE'}
    breaker: ${o.breaker ?? '{ failures: 2, openFor: 2s, halfOpenSuccesses: 1 }'}
    health: ${o.health ?? '{ interval: 300ms, unhealthyThreshold: 1000 }'}
${o.brokerPortBase !== undefined ? `    brokerPortBase: ${o.brokerPortBase}\n` : ''}${o.extra ?? ''}${o.fallback ? `    fallback:\n${o.fallback}` : ''}
`,
  );
  await bw.waitFor(() => bw.logs.some((l) => /^breakwater started/.test(String(l.msg))), 'the "breakwater started" log line');
  return { bw, port, bootstrap: `127.0.0.1:${port}`, spoolDir };
}

/** A kafkajs client for `brokers`; quiet logs, short retries unless asked. */
export function kafka(brokers: readonly string[], o: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: 'breakwater-test',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 10_000,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 },
    ...o,
  });
}

export const metricOf = (bw: Breakwater, series: string): Promise<number> =>
  bw.metric(new RegExp(`^${series.replace(/[{}"|()[\]]/g, (c) => `\\${c}`)} `)).then((v) => v ?? 0);

export const requests = (bw: Breakwater, api: string): Promise<number> => metricOf(bw, `breakwater_kafka_requests_total{dependency="kafka",api="${api}"}`);

export async function breakerState(bw: Breakwater): Promise<string> {
  return (await bw.get('/status')).body.dependencies.kafka.breaker.state;
}
