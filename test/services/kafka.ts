// A real Apache Kafka broker for tests: KRaft (no ZooKeeper), one node that is
// both broker and controller, on free ports, in its own temp dir. Runs
// `java -cp '<cache>/libs/*' kafka.Kafka server.properties` on the jars that
// test/services/kafka-install.sh takes from Maven Central into a cache outside
// the repository (npm test runs the installer). Ready when a Metadata request
// on the PLAINTEXT listener lists this broker.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from './ports.js';
import { serviceOf, type ServiceControl, ManagedProcess, ServiceError, findBinary, isAddressInUse, makeTempDir } from './process.js';

/** The kafka_2.13 version kafka-install.sh installs (keep the two in step). */
export const KAFKA_VERSION = '4.4.0';

export interface KafkaServer extends ServiceControl {
  /** PLAINTEXT listener (clients). */
  port: number;
  /** CONTROLLER listener (KRaft quorum); clients never use it. */
  controllerPort: number;
  /** ['127.0.0.1:<port>'], for kafkajs `brokers` / bootstrap.servers. */
  brokers: string[];
  /** The cluster id written to meta.properties (fresh per server). */
  clusterId: string;
  /** One Metadata request on a fresh connection (default timeout 5 s). */
  metadata(opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<KafkaMetadata>;
}

export interface StartKafkaOptions {
  /** Fixed PLAINTEXT port; default a free one. */
  port?: number;
  /** Fixed CONTROLLER port; default a free one. */
  controllerPort?: number;
  /** Readiness timeout on start and restart, default 90 s. */
  readyTimeoutMs?: number;
  /** Extra or overriding server.properties, e.g. { 'auto.create.topics.enable': false }. */
  properties?: Record<string, string | number | boolean>;
}

export interface KafkaMetadata {
  clusterId: string | null;
  controllerId: number;
  brokers: { nodeId: number; host: string; port: number; rack: string | null }[];
}

/** Where kafka-install.sh puts the jars: $BREAKWATER_KAFKA_HOME, else <XDG cache>/breakwater/kafka-<version>. */
export function kafkaHome(): string {
  const override = process.env.BREAKWATER_KAFKA_HOME;
  if (override) return override;
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'breakwater', `kafka-${KAFKA_VERSION}`);
}

const INSTALL_HINT = 'run `bash test/services/kafka-install.sh` (npm test does this for you; it needs java 17+ and mvn)';

interface Install {
  home: string;
  libs: string;
  bootstrap: string;
  cdsArchive: string | undefined;
}

function findInstall(): Install {
  const home = kafkaHome();
  const libs = path.join(home, 'libs');
  const bootstrap = path.join(home, 'bootstrap');
  const jar = path.join(libs, `kafka_2.13-${KAFKA_VERSION}.jar`);
  const missing = [path.join(home, '.installed'), jar, bootstrap].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    throw new ServiceError(
      'E_SERVICE_NOT_INSTALLED',
      `Kafka ${KAFKA_VERSION} is not installed in ${home} (missing ${missing.join(', ')}): ${INSTALL_HINT}`,
    );
  }
  const jsa = path.join(home, 'kafka.jsa');
  return { home, libs, bootstrap, cdsArchive: fs.existsSync(jsa) ? jsa : undefined };
}

function findJava(): string {
  const javaHome = process.env.JAVA_HOME;
  if (!process.env.BREAKWATER_JAVA && javaHome) {
    const candidate = path.join(javaHome, 'bin', 'java');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // fall back to PATH
    }
  }
  return findBinary('java', 'openjdk-17-jre-headless', 'BREAKWATER_JAVA');
}

/** A Kafka Uuid in its base64url form, as kafka-storage random-uuid prints one. */
function randomKafkaUuid(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka never hands out ids starting with '-' (command-line safety); small ids are reserved
    if (!id.startsWith('-') && !id.startsWith('AAAAAAAAAAAAAAAAAAAA')) return id;
  }
}

function serverProperties(dir: string, port: number, controllerPort: number, extra: StartKafkaOptions['properties']): string {
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': path.join(dir, 'data'),
    'num.partitions': 1,
    'default.replication.factor': 1,
    'auto.create.topics.enable': true,
    'offsets.topic.replication.factor': 1,
    // the default 50 partitions make the first consumer group slow to start
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    // After kill() the restarted controller refuses the broker's new
    // registration (DUPLICATE_BROKER_REGISTRATION) until the old one's session
    // expires (default 9 s); 3 s keeps kill()+restart() quick. A pause() longer
    // than that could let the controller fence its own broker right after
    // resume(); not seen with a 6 s pause (the next produce succeeded at once).
    'broker.session.timeout.ms': 3000,
    'broker.heartbeat.interval.ms': 500,
    // a small broker: several run at once on a 2-core test machine
    'num.network.threads': 2,
    'num.io.threads': 2,
    'background.threads': 2,
    'num.recovery.threads.per.data.dir': 1,
    'log.cleaner.threads': 1,
    ...extra,
  };
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n')}\n`;
}

function log4j2Properties(logFile: string): string {
  return `status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${logFile}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka-request.name = kafka.request.logger
logger.kafka-request.level = WARN
`;
}

// --- a raw Metadata request (v4: the newest non-flexible version) ----------------

/**
 * One Metadata v4 request (all topics) to 127.0.0.1:port on a fresh
 * connection; resolves to the brokers, cluster id and controller it lists.
 */
export function kafkaMetadata(port: number, signal: AbortSignal): Promise<KafkaMetadata> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const socket = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const done = (err: unknown, md?: KafkaMetadata): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(md as KafkaMetadata);
    };
    const onAbort = (): void => done(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    const correlationId = 0x62770000 + Math.floor(Math.random() * 0xffff);
    socket.on('connect', () => {
      const clientId = Buffer.from('breakwater-test-probe');
      const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
      let o = 0;
      o = body.writeInt16BE(3, o); // api_key Metadata
      o = body.writeInt16BE(4, o); // api_version
      o = body.writeInt32BE(correlationId, o);
      o = body.writeInt16BE(clientId.length, o);
      o += clientId.copy(body, o);
      o = body.writeInt32BE(-1, o); // topics: null = all
      body.writeInt8(0, o); // allow_auto_topic_creation
      const size = Buffer.alloc(4);
      size.writeInt32BE(body.length);
      socket.write(Buffer.concat([size, body]));
    });
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4) return;
      const size = buf.readInt32BE(0);
      if (buf.length < 4 + size) return;
      try {
        done(undefined, parseMetadataV4(buf.subarray(4, 4 + size), correlationId));
      } catch (err) {
        done(err);
      }
    });
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error(`kafka at 127.0.0.1:${port} closed the connection without a Metadata response`)));
  });
}

function parseMetadataV4(b: Buffer, correlationId: number): KafkaMetadata {
  let o = 0;
  const int16 = (): number => {
    const v = b.readInt16BE(o);
    o += 2;
    return v;
  };
  const int32 = (): number => {
    const v = b.readInt32BE(o);
    o += 4;
    return v;
  };
  const nullableString = (): string | null => {
    const len = int16();
    if (len < 0) return null;
    const s = b.toString('utf8', o, o + len);
    o += len;
    return s;
  };
  if (int32() !== correlationId) throw new Error('Metadata response: unexpected correlation id');
  int32(); // throttle_time_ms
  const brokers: KafkaMetadata['brokers'] = [];
  for (let n = int32(); n > 0; n--) {
    const nodeId = int32();
    const host = nullableString() ?? '';
    const port = int32();
    const rack = nullableString();
    brokers.push({ nodeId, host, port, rack });
  }
  const clusterId = nullableString();
  const controllerId = int32();
  return { clusterId, controllerId, brokers };
}

// --- ports ---------------------------------------------------------------------

// freePorts() picks ports outside the kernel's ephemeral range (see ports.ts).

// --- start ---------------------------------------------------------------------

function errorLines(logFile: string, max = 6): string {
  let text: string;
  try {
    text = fs.readFileSync(logFile, 'utf8');
  } catch {
    return '';
  }
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length && out.length < max * 2; i++) {
    if (/^\[[^\]]+\] (ERROR|FATAL) /.test(lines[i] as string)) {
      out.push(lines[i] as string);
      const next = lines[i + 1];
      if (next !== undefined && !next.startsWith('[')) out.push(next);
    }
  }
  return out.join('\n');
}

async function startOnce(java: string, install: Install, opts: StartKafkaOptions): Promise<KafkaServer> {
  const [autoPort, autoCtrl] = await freePorts(2);
  const port = opts.port ?? (autoPort as number);
  const controllerPort = opts.controllerPort ?? (autoCtrl === port ? (autoPort as number) : (autoCtrl as number));
  const dir = await makeTempDir('kafka');
  const dataDir = path.join(dir, 'data');
  const logDir = path.join(dir, 'logs');
  const logFile = path.join(logDir, 'server.log');
  const clusterId = randomKafkaUuid();
  const configFile = path.join(dir, 'server.properties');
  const log4jFile = path.join(dir, 'log4j2.properties');
  try {
    await fsp.mkdir(logDir);
    // The storage format (kafka.tools.StorageTool) ran once at install time;
    // its bootstrap snapshot does not depend on ports, only meta.properties is per server.
    await fsp.cp(install.bootstrap, dataDir, { recursive: true });
    await fsp.writeFile(
      path.join(dataDir, 'meta.properties'),
      `node.id=1\ndirectory.id=${randomKafkaUuid()}\nversion=1\ncluster.id=${clusterId}\n`,
    );
    await fsp.writeFile(configFile, serverProperties(dir, port, controllerPort, opts.properties));
    await fsp.writeFile(log4jFile, log4j2Properties(logFile));
  } catch (err) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }

  const jvm = [
    '-Xms256m',
    '-Xmx512m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1', // C1 only: faster start, less CPU; plenty for tests
    '-XX:-UsePerfData',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4jFile}`,
    `-Dkafka.logs.dir=${logDir}`,
    // AppCDS archive from kafka-install.sh; the JVM ignores a stale one (-Xshare:auto)
    ...(install.cdsArchive ? [`-XX:SharedArchiveFile=${install.cdsArchive}`, '-Xshare:auto'] : []),
  ];
  const proc = new ManagedProcess({
    name: 'kafka',
    command: java,
    args: [...jvm, '-cp', `${install.libs}/*`, 'kafka.Kafka', configFile],
    dir,
    logFiles: [logFile],
    probe: async (signal) => {
      const md = await kafkaMetadata(port, signal);
      return md.brokers.some((b) => b.nodeId === 1 && b.port === port);
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 90_000,
    stopTimeoutMs: 10_000,
  });

  const server: KafkaServer = serviceOf(proc, {
    port,
    controllerPort,
    brokers: [`127.0.0.1:${port}`],
    clusterId,
    restart: async () => {
      try {
        await proc.restart();
      } catch (err) {
        throw withErrorLines(err, logFile);
      }
    },
    metadata: (mdOpts: { timeoutMs?: number; signal?: AbortSignal } = {}) =>
      kafkaMetadata(port, mdOpts.signal ?? AbortSignal.timeout(mdOpts.timeoutMs ?? 5_000)),
  });
  await proc.startOrCleanUp((err) => withErrorLines(err, logFile));
  return server;
}

/** Adds the broker's ERROR lines (often scrolled out of the log tail by the shutdown that follows). */
function withErrorLines(err: unknown, logFile: string): unknown {
  if (!(err instanceof ServiceError)) return err;
  const errors = errorLines(logFile);
  if (!errors) return err;
  return new ServiceError(err.code, `${err.message}\n--- ERROR lines of ${logFile} ---\n${errors}`, { cause: err });
}

/**
 * Starts a single-node KRaft Kafka broker (broker+controller) on free ports
 * (or the given ones) in its own temp dir and waits until it answers a
 * Metadata request listing itself. Throws E_SERVICE_NOT_INSTALLED when the
 * jars are missing (run `bash test/services/kafka-install.sh`) or java is
 * (env BREAKWATER_JAVA or JAVA_HOME pick the JVM; BREAKWATER_KAFKA_HOME the install).
 */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaServer> {
  const install = findInstall();
  const java = findJava();
  const fixedPorts = opts.port !== undefined || opts.controllerPort !== undefined;
  // A free port can be taken by a parallel test between probe and bind: retry on fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(java, install, opts);
    } catch (err) {
      if (fixedPorts || attempt >= 3 || !isAddressInUse(err)) throw err;
    }
  }
}

export { ServiceError };
