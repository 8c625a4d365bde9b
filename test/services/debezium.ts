// The real CDC source for tests: Kafka Connect in standalone mode
// (org.apache.kafka.connect.cli.ConnectStandalone) running the Debezium
// PostgreSQL connector against a test PostgreSQL (postgres.ts) and writing to
// a test Kafka broker (kafka.ts). The jars come from Maven Central through
// test/services/debezium-install.sh into a cache outside the repository
// (npm test runs the installer).
//
// The connector reproduces the original system's: PostgreSQL connector,
// plugin.name=pgoutput, topic.prefix nova, a RegexRouter
// `nova\.public\.(.+)` -> `cdc.$1`, JsonConverter for keys and values with
// schemas.enable as asked, Debezium's default encodings
// (time.precision.mode=adaptive, decimal.handling.mode=precise, tombstones
// on delete). Topics: Connect creates cdc.* itself through the admin client
// (topic.creation.default.* = broker defaults), so it works whether or not the
// broker auto-creates topics.
//
// Ready when the REST API (free 127.0.0.1 port) reports the connector and its
// task RUNNING and the replication slot is active, i.e. the initial snapshot
// is done and the task streams: every change committed after
// startDebezium() resolves arrives as a streamed event (op c/u/d), every row
// committed before it as a snapshot read (op r).
//
// JVM: -Xmx512m, serial GC, C1 only, and an AppCDS archive of Connect's
// classes that the first graceful stop() leaves in the install dir (see
// appCdsPlan in process.ts; BREAKWATER_CONNECT_CDS=0 turns it off).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';
import type { PostgresServer } from './postgres.js';
import { serviceOf, type ServiceControl, ManagedProcess, ServiceError, appCdsPlan, findJava, isAddressInUse, log4j2FileConfig, makeTempDir } from './process.js';

/** The versions debezium-install.sh installs (keep them in step). */
export const DEBEZIUM_VERSION = '3.6.1.Final';
export const CONNECT_VERSION = '4.3.0';

export interface StartDebeziumOptions {
  /** Kafka bootstrap servers, host:port[,host:port]. */
  bootstrap: string;
  postgres: PostgresServer;
  /** Tables in schema public, e.g. ['posts', 'follows', 'comments', 'likes']. */
  tables: string[];
  /** key/value.converter.schemas.enable: true = {schema, payload} envelopes. */
  schemasEnable: boolean;
  /** topic.prefix, default 'nova' (the RegexRouter maps `<prefix>.public.X` to `cdc.X`). */
  topicPrefix?: string;
  /** Replication slot; default a fresh one per start (bw_<random>). */
  slotName?: string;
  /** More (or overriding) connector properties, e.g. { 'tombstones.on.delete': 'false' }. */
  extra?: Record<string, string>;
  /** More (or overriding) worker properties. */
  workerExtra?: Record<string, string>;
  /** Readiness timeout (connector and task RUNNING, slot streaming) on start and restart; default 120 s. */
  readyTimeoutMs?: number;
}

export interface ConnectorStatus {
  name: string;
  connector: { state: string; worker_id?: string; trace?: string };
  tasks: { id: number; state: string; worker_id?: string; trace?: string }[];
  type?: string;
}

export interface DebeziumServer extends ServiceControl {
  /** Kafka Connect REST API: http://127.0.0.1:<restPort> */
  restUrl: string;
  restPort: number;
  /** Connector name in the worker. */
  connectorName: string;
  slotName: string;
  publicationName: string;
  topicPrefix: string;
  /** Topics the tables' changes go to: cdc.<table>. */
  topics: string[];
  /** The connector properties written to connector.properties. */
  connectorConfig: Record<string, string>;
  /** GET /connectors/<name>/status (default timeout 5 s). */
  status(opts?: { timeoutMs?: number }): Promise<ConnectorStatus>;
}

/** Where debezium-install.sh puts the jars: $BREAKWATER_DEBEZIUM_HOME, else <XDG cache>/breakwater/debezium-<version>. */
export function debeziumHome(): string {
  const override = process.env.BREAKWATER_DEBEZIUM_HOME;
  if (override) return override;
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'breakwater', `debezium-${DEBEZIUM_VERSION}`);
}

const INSTALL_HINT = 'run `bash test/services/debezium-install.sh` (npm test does this for you; it needs java 17+ and mvn)';

function findHome(): string {
  const home = debeziumHome();
  const libs = path.join(home, 'libs');
  const missing = [
    path.join(home, '.installed'),
    path.join(libs, `connect-runtime-${CONNECT_VERSION}.jar`),
    path.join(libs, `debezium-connector-postgres-${DEBEZIUM_VERSION}.jar`),
  ].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    throw new ServiceError(
      'E_SERVICE_NOT_INSTALLED',
      `Kafka Connect ${CONNECT_VERSION} + Debezium ${DEBEZIUM_VERSION} are not installed in ${home} (missing ${missing.join(', ')}): ${INSTALL_HINT}`,
    );
  }
  return home;
}

/** A .properties line: escapes backslashes (and the characters that would end a key). */
function propLine(key: string, value: string): string {
  const esc = (s: string, isKey: boolean): string => {
    let out = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
    if (isKey) out = out.replace(/([=: #!])/g, '\\$1');
    else if (out.startsWith(' ')) out = `\\${out}`;
    return out;
  };
  return `${esc(key, true)}=${esc(value, false)}`;
}

function formatProperties(props: Record<string, string>): string {
  return `${Object.entries(props)
    .map(([k, v]) => propLine(k, v))
    .join('\n')}\n`;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function restStatus(restUrl: string, name: string, signal: AbortSignal): Promise<ConnectorStatus> {
  const res = await fetch(`${restUrl}/connectors/${encodeURIComponent(name)}/status`, { signal });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET /connectors/${name}/status: HTTP ${res.status}: ${body.slice(0, 300)}`);
  return JSON.parse(body) as ConnectorStatus;
}

async function startOnce(java: string, home: string, opts: StartDebeziumOptions): Promise<DebeziumServer> {
  const libs = path.join(home, 'libs');
  const pgs = opts.postgres;
  const restPort = await freePort();
  const restUrl = `http://127.0.0.1:${restPort}`;
  const topicPrefix = opts.topicPrefix ?? 'nova';
  const slotName = opts.slotName ?? `bw_${randomBytes(6).toString('hex')}`;
  const publicationName = `${slotName}_pub`;
  const connectorName = `breakwater-cdc-${slotName}`;
  const dir = await makeTempDir('debezium');
  const logDir = path.join(dir, 'logs');
  const logFile = path.join(logDir, 'connect.log');
  const workerFile = path.join(dir, 'worker.properties');
  const connectorFile = path.join(dir, 'connector.properties');
  const log4jFile = path.join(dir, 'log4j2.properties');
  const schemas = String(opts.schemasEnable);

  const worker: Record<string, string> = {
    'bootstrap.servers': opts.bootstrap,
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'key.converter.schemas.enable': schemas,
    'value.converter.schemas.enable': schemas,
    'offset.storage.file.filename': path.join(dir, 'connect.offsets'),
    'offset.flush.interval.ms': '1000',
    listeners: restUrl,
    'rest.advertised.host.name': '127.0.0.1',
    'rest.advertised.port': String(restPort),
    // connectors are on the worker's classpath (one flat classpath from debezium-install.sh);
    // service_load skips the slow reflective scan of every jar
    'plugin.discovery': 'service_load',
    // Connect creates the cdc.* topics itself (the connector sets topic.creation.default.*)
    'topic.creation.enable': 'true',
    'task.shutdown.graceful.timeout.ms': '5000',
    // acks=all is Connect's default for source tasks; say it anyway
    'producer.acks': 'all',
    'producer.linger.ms': '5',
    ...opts.workerExtra,
  };
  const connector: Record<string, string> = {
    name: connectorName,
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'plugin.name': 'pgoutput',
    'database.hostname': pgs.host,
    'database.port': String(pgs.port),
    'database.user': pgs.user,
    'database.password': pgs.password,
    'database.dbname': pgs.database,
    'topic.prefix': topicPrefix,
    'table.include.list': opts.tables.map((t) => `public.${t}`).join(','),
    'slot.name': slotName,
    'publication.name': publicationName,
    // the original system's encodings (Debezium's defaults, spelled out)
    'time.precision.mode': 'adaptive',
    'decimal.handling.mode': 'precise',
    'tombstones.on.delete': 'true',
    'key.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'value.converter': 'org.apache.kafka.connect.json.JsonConverter',
    'key.converter.schemas.enable': schemas,
    'value.converter.schemas.enable': schemas,
    transforms: 'route',
    'transforms.route.type': 'org.apache.kafka.connect.transforms.RegexRouter',
    'transforms.route.regex': `${escapeRegex(topicPrefix)}\\.public\\.(.+)`,
    'transforms.route.replacement': 'cdc.$1',
    // -1: the broker's num.partitions / default.replication.factor
    'topic.creation.default.replication.factor': '-1',
    'topic.creation.default.partitions': '-1',
    // quick to notice a change in a test
    'poll.interval.ms': '100',
    'status.update.interval.ms': '1000',
    ...opts.extra,
  };

  try {
    await fsp.mkdir(logDir);
    await fsp.writeFile(workerFile, formatProperties(worker));
    await fsp.writeFile(connectorFile, formatProperties(connector), { mode: 0o600 });
    // the connector's own lines say what it does (snapshot, slot, streaming)
    await fsp.writeFile(log4jFile, log4j2FileConfig(logFile, 'WARN', { 'io.debezium.connector.postgresql': 'INFO', 'io.debezium.pipeline': 'INFO' }));
  } catch (err) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }

  let failure: string | undefined;
  let proc: ManagedProcess | undefined;
  const slotActive = async (): Promise<boolean> => {
    const rows = await pgs.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slotName]);
    return rows[0]?.active === true;
  };
  const probe = async (signal: AbortSignal): Promise<boolean> => {
    const st = await restStatus(restUrl, connectorName, signal);
    const failed = [st.connector, ...st.tasks].find((s) => s.state === 'FAILED');
    if (failed) {
      // fail fast with the stack trace rather than wait for the timeout
      failure = failed.trace ?? `${connectorName}: FAILED`;
      const pid = proc?.pid;
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
      return false;
    }
    if (st.connector.state !== 'RUNNING' || st.tasks.length === 0 || st.tasks.some((t) => t.state !== 'RUNNING')) return false;
    return slotActive();
  };

  const jvm = [
    '-Xms128m',
    '-Xmx512m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1', // C1 only: faster start, less CPU; plenty for tests
    '-XX:-UsePerfData',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    '-Dlog4j2.disable.jmx=true',
    `-Dlog4j2.configurationFile=${log4jFile}`,
    `-Dkafka.logs.dir=${logDir}`,
  ];
  const cds = appCdsPlan(home, 'connect.jsa', process.env.BREAKWATER_CONNECT_CDS === '0');
  jvm.push(...cds.flags);
  proc = new ManagedProcess({
    name: 'debezium',
    command: java,
    args: [...jvm, '-cp', `${libs}/*`, 'org.apache.kafka.connect.cli.ConnectStandalone', workerFile, connectorFile],
    dir,
    logFiles: [logFile],
    probe,
    readyTimeoutMs: opts.readyTimeoutMs ?? 120_000,
    stopTimeoutMs: 15_000,
  });
  const managed = proc;
  const annotate = (err: unknown): unknown => {
    if (!(err instanceof ServiceError) || failure === undefined) return err;
    const f = failure;
    failure = undefined;
    return new ServiceError(err.code, `${err.message}\n--- the connector or its task FAILED: ---\n${f}`, { cause: err });
  };

  const server: DebeziumServer = serviceOf(managed, {
    restUrl,
    restPort,
    connectorName,
    slotName,
    publicationName,
    topicPrefix,
    topics: opts.tables.map((t) => `cdc.${t}`),
    connectorConfig: connector,
    stop: async () => {
      try {
        await managed.stop();
      } finally {
        cds.finish();
      }
    },
    restart: async () => {
      try {
        await managed.restart();
      } catch (err) {
        throw annotate(err);
      }
    },
    status: (sOpts: { timeoutMs?: number } = {}) => restStatus(restUrl, connectorName, AbortSignal.timeout(sOpts.timeoutMs ?? 5_000)),
  });
  try {
    await managed.startOrCleanUp(annotate);
  } catch (err) {
    cds.finish();
    throw err;
  }
  return server;
}

/**
 * Starts Kafka Connect standalone with the Debezium PostgreSQL connector for
 * `opts.tables` of `opts.postgres`, writing to `opts.bootstrap`, and waits
 * until it streams (see the top of this file). Throws E_SERVICE_NOT_INSTALLED
 * when the jars (`bash test/services/debezium-install.sh`) or java are
 * missing; E_SERVICE_EXITED with the task's stack trace when the connector fails.
 */
export async function startDebezium(opts: StartDebeziumOptions): Promise<DebeziumServer> {
  const home = findHome();
  const java = findJava();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(java, home, opts);
    } catch (err) {
      if (attempt >= 3 || !isAddressInUse(err)) throw err;
    }
  }
}

export { ServiceError };
