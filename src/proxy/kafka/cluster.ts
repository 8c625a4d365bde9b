// What breakwater knows about one upstream Kafka cluster: the brokers (their upstream addresses
// and the local listener each one gets), and the last known cluster state (brokers, topics,
// ApiVersions) that answers clients while the cluster is unreachable. The state is kept on disk
// when the dependency spools, so that a restarted sidecar can still answer a producer.
import { connect, createServer, type Server, type Socket } from 'node:net';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../log/logger.js';
import { listen } from '../http/listen.js';
import { loadClusterState, mergeMetadata, saveClusterState, withApiVersions, type ClusterState } from './messages/cluster-state.js';
import type { MetadataModel } from './messages/metadata.js';
import type { BrokerAddress } from './rewrite.js';

export interface Upstream {
  host: string;
  port: number;
}

export interface BrokerRoute {
  nodeId: number;
  /** Where this broker really is (from the latest Metadata). */
  upstream: Upstream;
  /** The local listener clients reach it through. */
  server: Server;
  port: number;
  /** Not listening while the broker is down and others answer (see suspend()). */
  suspended: boolean;
  probe: NodeJS.Timeout | undefined;
}

export interface ClusterOptions {
  /** Host the broker listeners bind (the host of `listen`). */
  bindHost: string;
  /** Host written into the addresses clients receive. */
  advertisedHost: string;
  brokerPortBase: number | undefined;
  /** Where the cluster state and the broker ports are kept; undefined: memory only. */
  stateDir: string | undefined;
  log: Logger;
  /** Called for each client connection a broker listener accepts. */
  accept: (socket: Socket, route: BrokerRoute) => void;
}

/** Whether something accepts TCP connections at `to` (within timeoutMs). */
function accepts(to: Upstream, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: to.host, port: to.port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const STATE_FILE = 'cluster-state.json';
/** A broker that answered within this long counts as alive (see brokerDown). */
const ALIVE_MS = 30_000;
const PORTS_FILE = 'broker-ports.json';

export class KafkaCluster {
  private readonly routes = new Map<number, BrokerRoute>();
  private readonly opening = new Map<number, Promise<BrokerRoute>>();
  /** Ports used before (from disk): a restart reuses them, so clients' cached addresses stay valid. */
  private knownPorts = new Map<number, number>();
  state: ClusterState | undefined;
  private saving: Promise<void> = Promise.resolve();
  private saveQueued = false;
  private closed = false;
  /** Per upstream address: when it last answered, when a connection to it last failed. */
  private readonly seen = new Map<string, { okAt: number; downAt: number }>();

  constructor(private readonly opts: ClusterOptions) {}

  /** The broker at addr answered (a connection opened, a response arrived). */
  brokerOk(addr: string, now: number): void {
    const h = this.seen.get(addr);
    if (h === undefined) this.seen.set(addr, { okAt: now, downAt: 0 });
    else h.okAt = now;
  }

  /**
   * A connection to addr failed. Returns whether that is the cluster's trouble (and counts
   * against its breaker): not when another broker answered lately, because one broker down in
   * a cluster is Kafka's own business: clients see it as a dead broker and move to the new
   * leader, as they would without breakwater.
   */
  brokerDown(addr: string, now: number): boolean {
    const h = this.seen.get(addr);
    if (h === undefined) this.seen.set(addr, { okAt: 0, downAt: now });
    else h.downAt = now;
    return !this.anotherAlive(addr, now);
  }

  private anotherAlive(addr: string, now: number): boolean {
    for (const [a, o] of this.seen) {
      if (a !== addr && o.okAt > o.downAt && now - o.okAt < ALIVE_MS) return true;
    }
    return false;
  }

  /**
   * The broker behind route refused us while others answer: its listener stops listening, so a
   * client gets exactly what a dead broker gives it, a refused connection (kafkajs, for one,
   * refreshes Metadata on that, but not on a connection that opens and then closes). It listens
   * again on the same port once the broker accepts connections, or once no other broker answers
   * either (then breakwater answers for the cluster: spool, fail, stored state).
   */
  suspend(route: BrokerRoute): void {
    if (route.suspended || this.closed) return;
    route.suspended = true;
    route.server.close();
    const addr = `${route.upstream.host}:${route.upstream.port}`;
    this.opts.log.warn({ nodeId: route.nodeId, upstream: addr, port: route.port }, `Kafka broker ${route.nodeId} (${addr}) is down while others answer: its listener ${this.opts.bindHost}:${route.port} refuses connections until it is back`);
    let probing = false;
    route.probe = setInterval(() => {
      if (probing) return;
      probing = true;
      void (async () => {
        const up = !this.anotherAlive(`${route.upstream.host}:${route.upstream.port}`, Date.now()) || (await accepts(route.upstream, 1000));
        if (up && route.suspended && !this.closed) await this.resume(route);
      })().finally(() => (probing = false));
    }, 1000);
    route.probe.unref();
  }

  private async resume(route: BrokerRoute): Promise<void> {
    const server = this.serverFor(route);
    try {
      await listen(server, this.opts.bindHost, route.port);
    } catch (err) {
      this.opts.log.warn({ nodeId: route.nodeId, port: route.port, err: String(err) }, `Kafka broker ${route.nodeId}: cannot listen on ${route.port} again yet: ${String(err)}`);
      return;
    }
    clearInterval(route.probe);
    route.probe = undefined;
    route.server = server;
    route.suspended = false;
    this.opts.log.info({ nodeId: route.nodeId, port: route.port }, `Kafka broker ${route.nodeId}: listening again on ${this.opts.bindHost}:${route.port}`);
  }

  private serverFor(route: BrokerRoute): Server {
    return createServer({ noDelay: true }, (socket) => this.opts.accept(socket, route));
  }

  /** Loads the state kept on disk and opens a listener for every broker it names. */
  async start(): Promise<void> {
    const dir = this.opts.stateDir;
    if (dir === undefined) return;
    await fsp.mkdir(dir, { recursive: true });
    try {
      const ports = JSON.parse(await fsp.readFile(path.join(dir, PORTS_FILE), 'utf8')) as Record<string, number>;
      for (const [id, port] of Object.entries(ports)) {
        if (Number.isInteger(Number(id)) && Number.isInteger(port) && port > 0 && port < 65536) this.knownPorts.set(Number(id), port);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.log.warn({ err: String(err) }, `ignoring ${PORTS_FILE}: ${String(err)}`);
    }
    const loaded = await loadClusterState(path.join(dir, STATE_FILE), (err) => {
      this.opts.log.warn({ err: err.message }, `ignoring the stored Kafka cluster state: ${err.message}`);
    });
    if (loaded === undefined) return;
    this.state = loaded;
    this.opts.log.info(
      { brokers: loaded.brokers.length, topics: loaded.topics.length, updatedAt: new Date(loaded.updatedAt).toISOString() },
      `loaded the last known Kafka cluster state (${loaded.brokers.length} brokers, ${loaded.topics.length} topics)`,
    );
    await this.ensure(loaded.brokers);
  }

  route(nodeId: number): BrokerRoute | undefined {
    return this.routes.get(nodeId);
  }

  /** The local address clients get for a broker; every broker passed to ensure() has one. */
  localAddress = (b: BrokerAddress): { host: string; port: number } => {
    const r = this.routes.get(b.nodeId);
    if (r === undefined) throw new Error(`no local listener for Kafka broker ${b.nodeId}`);
    return { host: this.opts.advertisedHost, port: r.port };
  };

  /**
   * Makes sure every broker has a local listener and an up-to-date upstream address. Returns
   * undefined when nothing had to be opened (the common case: no promise, no await).
   */
  ensure(brokers: readonly BrokerAddress[]): Promise<void> | undefined {
    let waits: Promise<BrokerRoute>[] | undefined;
    for (const b of brokers) {
      const r = this.routes.get(b.nodeId);
      if (r !== undefined) {
        if (r.upstream.host !== b.host || r.upstream.port !== b.port) {
          this.opts.log.info({ nodeId: b.nodeId, from: r.upstream, to: { host: b.host, port: b.port } }, `Kafka broker ${b.nodeId} moved to ${b.host}:${b.port}`);
          r.upstream = { host: b.host, port: b.port };
        }
        continue;
      }
      (waits ??= []).push(this.open(b));
    }
    return waits && Promise.all(waits).then(() => undefined);
  }

  private open(b: BrokerAddress): Promise<BrokerRoute> {
    let p = this.opening.get(b.nodeId);
    if (p === undefined) {
      p = this.listenFor(b).finally(() => this.opening.delete(b.nodeId));
      this.opening.set(b.nodeId, p);
    }
    return p;
  }

  private async listenFor(b: BrokerAddress): Promise<BrokerRoute> {
    const route: BrokerRoute = { nodeId: b.nodeId, upstream: { host: b.host, port: b.port }, server: undefined as unknown as Server, port: 0, suspended: false, probe: undefined };
    const server = this.serverFor(route);
    route.server = server;
    const base = this.opts.brokerPortBase;
    const wanted = base !== undefined ? base + b.nodeId : this.knownPorts.get(b.nodeId) ?? 0;
    if (base !== undefined && (wanted < 1 || wanted > 65535)) {
      throw new Error(`brokerPortBase ${base} + broker id ${b.nodeId} = ${wanted} is not a port: lower brokerPortBase`);
    }
    try {
      await listen(server, this.opts.bindHost, wanted);
    } catch (err) {
      // A remembered port taken by something else: any free port will do (clients re-read Metadata).
      if (base !== undefined || wanted === 0) throw err;
      this.opts.log.warn({ nodeId: b.nodeId, port: wanted, err: String(err) }, `port ${wanted} of Kafka broker ${b.nodeId} is taken; using another`);
      await listen(server, this.opts.bindHost, 0);
    }
    const addr = server.address();
    route.port = typeof addr === 'object' && addr !== null ? addr.port : wanted;
    if (this.closed) {
      server.close();
      return route;
    }
    this.routes.set(b.nodeId, route);
    this.opts.log.info(
      { nodeId: b.nodeId, listen: `${this.opts.bindHost}:${route.port}`, upstream: `${b.host}:${b.port}` },
      `Kafka broker ${b.nodeId}: ${this.opts.bindHost}:${route.port} -> ${b.host}:${b.port}`,
    );
    if (this.knownPorts.get(b.nodeId) !== route.port) {
      this.knownPorts.set(b.nodeId, route.port);
      this.persist();
    }
    return route;
  }

  /** Folds a Metadata response into the state (and onto disk, in the background). */
  learnMetadata(model: MetadataModel, allTopics: boolean): void {
    const before = this.state;
    let next = mergeMetadata(before, model, allTopics, Date.now());
    // ApiVersions usually comes first, before there is a state to keep it in.
    if (next.apiVersions.length === 0 && this.apiVersions !== undefined) next = withApiVersions(next, this.apiVersions, Date.now());
    this.state = next;
    this.persist();
  }

  private apiVersions: [number, number, number][] | undefined;

  /** The ApiVersions the broker offers, as narrowed for clients. */
  learnApiVersions(apiKeys: [number, number, number][]): void {
    const prev = this.apiVersions ?? this.state?.apiVersions;
    if (prev !== undefined && prev.length === apiKeys.length && prev.every((e, i) => e[0] === apiKeys[i]![0] && e[1] === apiKeys[i]![1] && e[2] === apiKeys[i]![2])) return;
    this.apiVersions = apiKeys;
    if (this.state === undefined) return;
    this.state = withApiVersions(this.state, apiKeys, Date.now());
    this.persist();
  }

  /** Highest version the cluster accepts for an api key, from the stored ApiVersions; undefined when unknown. */
  maxVersion(apiKey: number): number | undefined {
    const list = this.state?.apiVersions;
    if (list === undefined || list.length === 0) return undefined;
    // Asked on every request: a table rebuilt only when the list changes, not a scan.
    if (this.maxTableOf !== list) {
      const table = new Int16Array(1024).fill(-1);
      for (const [k, , max] of list) if (k >= 0 && k < table.length) table[k] = max;
      this.maxTable = table;
      this.maxTableOf = list;
    }
    return apiKey >= 0 && apiKey < this.maxTable.length ? this.maxTable[apiKey]! : -1;
  }

  private maxTable = new Int16Array(0);
  private maxTableOf: unknown;

  /** Writes state and ports, one write at a time; bursts of changes coalesce into one. */
  private persist(): void {
    const dir = this.opts.stateDir;
    if (dir === undefined || this.saveQueued) return;
    this.saveQueued = true;
    this.saving = this.saving.then(async () => {
      this.saveQueued = false;
      try {
        if (this.state !== undefined) await saveClusterState(path.join(dir, STATE_FILE), this.state);
        const tmp = path.join(dir, `${PORTS_FILE}.tmp`);
        await fsp.writeFile(tmp, JSON.stringify(Object.fromEntries(this.knownPorts)));
        await fsp.rename(tmp, path.join(dir, PORTS_FILE));
      } catch (err) {
        this.opts.log.error({ err: String(err), dir }, `could not save the Kafka cluster state in ${dir}: ${String(err)}`);
      }
    });
  }

  get brokerCount(): number {
    return this.routes.size;
  }

  listeners(): { nodeId: number; listen: string; upstream: string }[] {
    return [...this.routes.values()].map((r) => ({ nodeId: r.nodeId, listen: `${this.opts.bindHost}:${r.port}`, upstream: `${r.upstream.host}:${r.upstream.port}` }));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.opening.values()]);
    for (const r of this.routes.values()) clearInterval(r.probe);
    await Promise.all([...this.routes.values()].map((r) => (r.suspended ? undefined : new Promise<void>((res) => r.server.close(() => res())))));
    await this.saving;
  }

  /** For a stateDir whose directory could not be created: fail at startup with the reason. */
  static checkWritable(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.accessSync(dir, fs.constants.W_OK);
  }
}
