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
import type { Admin as KafkajsAdmin } from 'kafkajs';
import { freePorts } from './ports.js';
import { serviceOf, type ServiceControl, ManagedProcess, ServiceError, delay, findJava, isAddressInUse, log4j2FileConfig, makeTempDir } from './process.js';

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

/** A Kafka Uuid in its base64url form, as kafka-storage random-uuid prints one. */
function randomKafkaUuid(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // Kafka never hands out ids starting with '-' (command-line safety); small ids are reserved
    if (!id.startsWith('-') && !id.startsWith('AAAAAAAAAAAAAAAAAAAA')) return id;
  }
}

type Properties = Record<string, string | number | boolean>;

/**
 * server.properties of one node: broker+controller (node 1, the only KRaft voter,
 * listening on controllerPort too) or broker only (talks to the voter at controllerPort).
 */
function baseProperties(dir: string, port: number, controllerPort: number, nodeId: number, controller: boolean): Properties {
  return {
    'process.roles': controller ? 'broker,controller' : 'broker',
    'node.id': nodeId,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: controller ? `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}` : `PLAINTEXT://127.0.0.1:${port}`,
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
  };
}

function formatProperties(...layers: (Properties | undefined)[]): string {
  const props: Properties = Object.assign({}, ...layers);
  return `${Object.entries(props)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n')}\n`;
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

interface NodeSpec {
  /** ManagedProcess name and temp dir prefix: 'kafka', 'kafka-node2'. */
  name: string;
  nodeId: number;
  /** Node 1 of a cluster and the single-node server: broker+controller. */
  controller: boolean;
  port: number;
  /** The voter's CONTROLLER port (this node's own when it is the controller). */
  controllerPort: number;
  clusterId: string;
  /** Layered over the base server.properties, in order. */
  properties: (Properties | undefined)[];
  heap: string[];
  readyTimeoutMs: number;
  probe: (signal: AbortSignal) => Promise<boolean>;
}

interface PreparedNode {
  proc: ManagedProcess;
  logFile: string;
}

/** Writes the node's temp dir (data dir, meta.properties, configs) and builds its (not yet started) process. */
async function prepareNode(java: string, install: Install, spec: NodeSpec): Promise<PreparedNode> {
  const dir = await makeTempDir(spec.name);
  const dataDir = path.join(dir, 'data');
  const logDir = path.join(dir, 'logs');
  const logFile = path.join(logDir, 'server.log');
  const configFile = path.join(dir, 'server.properties');
  const log4jFile = path.join(dir, 'log4j2.properties');
  try {
    await fsp.mkdir(logDir);
    if (spec.controller) {
      // The storage format (kafka.tools.StorageTool) ran once at install time;
      // its bootstrap snapshot does not depend on ports, only meta.properties is per server.
      await fsp.cp(install.bootstrap, dataDir, { recursive: true });
    } else {
      // A broker-only node needs just meta.properties: it fetches the metadata
      // log (bootstrap records included) from the controller as an observer.
      await fsp.mkdir(dataDir);
    }
    await fsp.writeFile(
      path.join(dataDir, 'meta.properties'),
      `node.id=${spec.nodeId}\ndirectory.id=${randomKafkaUuid()}\nversion=1\ncluster.id=${spec.clusterId}\n`,
    );
    await fsp.writeFile(
      configFile,
      formatProperties(baseProperties(dir, spec.port, spec.controllerPort, spec.nodeId, spec.controller), ...spec.properties),
    );
    await fsp.writeFile(log4jFile, log4j2FileConfig(logFile, 'INFO', { 'kafka.request.logger': 'WARN' }));
  } catch (err) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }

  const jvm = [
    ...spec.heap,
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
    name: spec.name,
    command: java,
    args: [...jvm, '-cp', `${install.libs}/*`, 'kafka.Kafka', configFile],
    dir,
    logFiles: [logFile],
    probe: spec.probe,
    readyTimeoutMs: spec.readyTimeoutMs,
    stopTimeoutMs: 10_000,
  });
  return { proc, logFile };
}

/** Ready when a Metadata request on `port` lists broker `nodeId` on that port. */
function listsItself(port: number, nodeId: number): (signal: AbortSignal) => Promise<boolean> {
  return async (signal) => {
    const md = await kafkaMetadata(port, signal);
    return md.brokers.some((b) => b.nodeId === nodeId && b.port === port);
  };
}

function metadataOn(port: number): (mdOpts?: { timeoutMs?: number; signal?: AbortSignal }) => Promise<KafkaMetadata> {
  return (mdOpts = {}) => kafkaMetadata(port, mdOpts.signal ?? AbortSignal.timeout(mdOpts.timeoutMs ?? 5_000));
}

async function startOnce(java: string, install: Install, opts: StartKafkaOptions): Promise<KafkaServer> {
  const [autoPort, autoCtrl] = await freePorts(2);
  const port = opts.port ?? (autoPort as number);
  const controllerPort = opts.controllerPort ?? (autoCtrl === port ? (autoPort as number) : (autoCtrl as number));
  const clusterId = randomKafkaUuid();
  const { proc, logFile } = await prepareNode(java, install, {
    name: 'kafka',
    nodeId: 1,
    controller: true,
    port,
    controllerPort,
    clusterId,
    properties: [opts.properties],
    heap: ['-Xms256m', '-Xmx512m'],
    readyTimeoutMs: opts.readyTimeoutMs ?? 90_000,
    probe: listsItself(port, 1),
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
    metadata: metadataOn(port),
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

// --- a cluster ------------------------------------------------------------------

export interface StartKafkaClusterOptions {
  /** Number of nodes (brokers), default 3. Node 1 is broker+controller, the others broker only. */
  brokers?: number;
  /** Readiness timeout of the whole cluster on start, and of one node on restart; default 120 s. */
  readyTimeoutMs?: number;
  /** Extra or overriding server.properties for every node. */
  properties?: Record<string, string | number | boolean>;
}

/** One node of a KafkaCluster: the ServiceControl of its process plus its identity. */
export interface KafkaClusterNode extends ServiceControl {
  /** node.id (1..N); node 1 is the controller. */
  nodeId: number;
  /** True for node 1 (broker+controller, the only KRaft voter). */
  controller: boolean;
  /** PLAINTEXT listener of this node. */
  port: number;
  /** ['127.0.0.1:<port>'] of this node only. */
  brokers: string[];
  /** One Metadata request to this node on a fresh connection (default timeout 5 s). */
  metadata(opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<KafkaMetadata>;
  /**
   * SIGTERM (a controlled shutdown: the controller moves its partition
   * leaderships first), SIGKILL after 10 s; data dir and ports stay, so
   * restart() brings it back. stop() instead also removes its temp dir, for good.
   */
  shutdown(): Promise<void>;
  /** Starts it again (after kill()/shutdown(), or stops it first); same ports and data; waits until it lists itself. */
  restart(): Promise<void>;
}

export interface KafkaCluster {
  /** '127.0.0.1:<port>' of every node, for kafkajs `brokers` / bootstrap.servers. */
  brokers: string[];
  /** Node i has nodeId i + 1. */
  nodes: KafkaClusterNode[];
  /** nodes[0]: broker+controller. */
  controller: KafkaClusterNode;
  /** CONTROLLER listener of node 1 (KRaft quorum); clients never use it. */
  controllerPort: number;
  /** The cluster id in every node's meta.properties. */
  clusterId: string;
  /** The node with this node.id; throws for an unknown one. */
  node(nodeId: number): KafkaClusterNode;
  /** One Metadata request to the first running node that answers (node 1 first). */
  metadata(opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<KafkaMetadata>;
  /**
   * Polls metadata() until it lists exactly these brokers (node ids, any order),
   * e.g. [1, 3] once node 2 is fenced, [1, 2, 3] once it rejoined; default timeout 30 s.
   */
  waitForBrokers(nodeIds: number[], opts?: { timeoutMs?: number }): Promise<KafkaMetadata>;
  /** SIGKILLs every node (the data is thrown away anyway) and removes their temp dirs. Idempotent. */
  stop(): Promise<void>;
}

function clusterProperties(n: number): Properties {
  return {
    'num.partitions': 3,
    'default.replication.factor': n,
    // a stopped broker must not block acks=-1 (all) produces
    'min.insync.replicas': 1,
    'offsets.topic.replication.factor': n,
    'transaction.state.log.replication.factor': n,
    'transaction.state.log.min.isr': 1,
    'share.coordinator.state.topic.replication.factor': n,
    'share.coordinator.state.topic.min.isr': 1,
  };
}

async function startClusterOnce(java: string, install: Install, n: number, opts: StartKafkaClusterOptions): Promise<KafkaCluster> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const startedAt = Date.now();
  const ports = await freePorts(n + 1);
  const controllerPort = ports[n] as number;
  const clusterId = randomKafkaUuid();
  const prepared: (PreparedNode & { nodeId: number; port: number })[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const nodeId = i + 1;
      const port = ports[i] as number;
      const node = await prepareNode(java, install, {
        name: `kafka-node${nodeId}`,
        nodeId,
        controller: nodeId === 1,
        port,
        controllerPort,
        clusterId,
        properties: [clusterProperties(n), opts.properties],
        // several JVMs at once on a small machine
        heap: ['-Xms128m', '-Xmx384m'],
        readyTimeoutMs,
        probe: listsItself(port, nodeId),
      });
      prepared.push({ ...node, nodeId, port });
    }
  } catch (err) {
    await Promise.all(prepared.map((p) => p.proc.stop().catch(() => undefined)));
    throw err;
  }

  const nodes: KafkaClusterNode[] = prepared.map(({ proc, logFile, nodeId, port }) =>
    serviceOf(proc, {
      nodeId,
      controller: nodeId === 1,
      port,
      brokers: [`127.0.0.1:${port}`],
      metadata: metadataOn(port),
      shutdown: () => proc.terminate(),
      restart: async () => {
        try {
          await proc.restart();
        } catch (err) {
          throw withErrorLines(err, logFile);
        }
      },
    }),
  );

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await Promise.all(prepared.map((p) => p.proc.kill()));
      await Promise.all(prepared.map((p) => p.proc.stop()));
    })();
    return stopped;
  };

  const metadata = async (mdOpts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<KafkaMetadata> => {
    let lastErr: unknown = new ServiceError('E_SERVICE_STATE', 'kafka cluster: no node is running');
    for (const node of nodes) {
      if (node.pid === undefined) continue;
      try {
        return await node.metadata(mdOpts);
      } catch (err) {
        lastErr = err;
      }
    }
    throw lastErr;
  };

  const waitForBrokers = async (nodeIds: number[], waitOpts: { timeoutMs?: number } = {}): Promise<KafkaMetadata> => {
    const want = [...nodeIds].sort((a, b) => a - b).join(',');
    const timeoutMs = waitOpts.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (;;) {
      try {
        const md = await metadata({ timeoutMs: Math.max(500, Math.min(2_000, deadline - Date.now())) });
        const have = md.brokers.map((b) => b.nodeId).sort((a, b) => a - b).join(',');
        if (have === want) return md;
        last = `brokers [${have}]`;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() >= deadline) {
        throw new ServiceError(
          'E_SERVICE_START_TIMEOUT',
          `kafka cluster: Metadata did not list brokers [${want}] within ${timeoutMs} ms (last: ${last})`,
        );
      }
      await delay(200);
    }
  };

  const cluster: KafkaCluster = {
    brokers: prepared.map((p) => `127.0.0.1:${p.port}`),
    nodes,
    controller: nodes[0] as KafkaClusterNode,
    controllerPort,
    clusterId,
    node: (nodeId) => {
      const node = nodes[nodeId - 1];
      if (!node) throw new ServiceError('E_SERVICE_STATE', `kafka cluster: no node ${nodeId} (nodes 1..${n})`);
      return node;
    },
    metadata,
    waitForBrokers,
    stop,
  };

  // All JVMs start at once; brokers become ready once the controller is up.
  // The first failure stops every node, so the other start()s end at once too.
  let firstErr: unknown;
  const results = await Promise.allSettled(
    prepared.map(({ proc, logFile }) =>
      proc.start().catch(async (err: unknown) => {
        if (firstErr === undefined) {
          firstErr = withErrorLines(err, logFile);
          await Promise.all(prepared.map((p) => p.proc.kill()));
        }
        throw err;
      }),
    ),
  );
  if (results.some((r) => r.status === 'rejected')) {
    await stop().catch(() => undefined);
    throw firstErr;
  }
  try {
    await waitForBrokers(
      nodes.map((node) => node.nodeId),
      { timeoutMs: Math.max(5_000, readyTimeoutMs - (Date.now() - startedAt)) },
    );
  } catch (err) {
    const tails = nodes.map((node) => node.logTail(10)).join('\n');
    await stop().catch(() => undefined);
    throw new ServiceError('E_SERVICE_START_TIMEOUT', `${(err as Error).message}\n${tails}`, { cause: err });
  }
  return cluster;
}

/**
 * Starts a KRaft Kafka cluster of `brokers` nodes (default 3) on free ports,
 * each node in its own temp dir: node 1 is broker+controller (the only voter),
 * nodes 2..N are brokers only. Topics default to 3 partitions replicated to
 * every node, min.insync.replicas=1 (a stopped broker does not block acks=all).
 * Ready when node 1's Metadata lists all nodes. Same install and errors as startKafka().
 */
export async function startKafkaCluster(opts: StartKafkaClusterOptions = {}): Promise<KafkaCluster> {
  const n = opts.brokers ?? 3;
  if (!Number.isInteger(n) || n < 1) {
    throw new ServiceError('E_SERVICE_STATE', `startKafkaCluster: brokers must be an integer >= 1, got ${n}`);
  }
  const install = findInstall();
  const java = findJava();
  // A free port can be taken by a parallel test between probe and bind: retry on fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(java, install, n, opts);
    } catch (err) {
      if (attempt >= 3 || !isAddressInUse(err)) throw err;
    }
  }
}

export { ServiceError };

/** A partition's leader, replicas and ISR (both sorted), as topicPartitions reports them. */
export interface PartitionInfo {
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** Partition leaders/replicas/ISR of `topic` from `admin` (a fresh kafkajs admin: no cached metadata), sorted by partition; connects and disconnects it. */
export async function topicPartitions(admin: KafkajsAdmin, topic: string): Promise<PartitionInfo[]> {
  await admin.connect();
  try {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    return (md.topics[0]?.partitions ?? [])
      .map((p) => ({ partitionId: p.partitionId, leader: p.leader, replicas: [...p.replicas].sort(), isr: [...p.isr].sort() }))
      .sort((a, b) => a.partitionId - b.partitionId);
  } finally {
    await admin.disconnect();
  }
}
