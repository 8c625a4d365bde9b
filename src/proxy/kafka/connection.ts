// One client connection to a Kafka listener (the bootstrap one or a broker's) and its own
// upstream connection. Requests are forwarded as the bytes they came in; a queue of (correlation
// id, api key, version) in request order matches the responses, which go back as bytes too,
// except the few whose broker addresses are rewritten. When the breaker refuses a request or the
// broker cannot be reached, breakwater answers it itself (spool, fail, the last known cluster
// state), in its place in the response order.
import net from 'node:net';
import type { KafkaDependencyConfig } from '../../config/schema.js';
import type { Dependency } from '../../dependency/dependency.js';
import type { FallbackReason } from '../../fallback/chain.js';
import type { Logger } from '../../log/logger.js';
import { SpoolFullError, SpoolInputError, type Spool, type SpoolInput } from '../../store/spool/spool.js';
import { API_FETCH, API_JOIN_GROUP, API_PRODUCE, API_SYNC_GROUP, apiName } from './api-keys.js';
import type { BrokerRoute, KafkaCluster, Upstream } from './cluster.js';
import type { TopicRules } from './fallbacks.js';
import { FrameScanner, isFlexibleRequest, parseRequestHeader, requestBodyOffset, responseHeaderLength } from './framing.js';
import { encodeApiVersionsResponse, encodeUnsupportedApiVersions } from './messages/api-versions.js';
import { KafkaErrorCode, errorName } from './messages/errors.js';
import { encodeEmptyFetchResponse, parseFetchRequest } from './messages/fetch.js';
import { encodeFindCoordinatorError, parseFindCoordinatorRequest } from './messages/find-coordinator.js';
import { encodeResponseFrame } from './messages/header.js';
import { answerMetadata, parseMetadataRequest, parseMetadataResponse } from './messages/metadata.js';
import { encodeProduceResponse, firstProduceErrorIn, parseProduceRequest, produceAcks, type ProduceRequest } from './messages/produce.js';
import { inspectRecords } from './messages/record-batch.js';
import {
  API_API_VERSIONS,
  API_DESCRIBE_CLUSTER,
  API_FIND_COORDINATOR,
  API_METADATA,
  API_VERSIONS_MAX_VERSION,
  brokersIn,
  DEFAULT_NARROW_LIMITS,
  narrowApiVersions,
  parseApiVersions,
  rewriteAddresses,
} from './rewrite.js';
import { KafkaWireError } from './wire.js';

/** What a connection needs from its listener. */
export interface ConnectionHost {
  readonly dep: Dependency;
  readonly config: KafkaDependencyConfig;
  readonly log: Logger;
  readonly cluster: KafkaCluster;
  readonly rules: TopicRules;
  readonly spool: Spool | undefined;
  readonly failCode: number;
  requestSeen(apiKey: number): void;
  nextBootstrap(): Upstream;
  spooled(records: number): void;
  spoolRejected(reason: string, records: number): void;
  connectionClosed(c: KafkaConnection): void;
}

interface Entry {
  correlationId: number;
  apiKey: number;
  apiVersion: number;
  /** The request, kept only until it is sent or answered locally. */
  frame: Buffer | null;
  /** Breaker permit; -1 once settled (or when there was none). */
  token: number;
  started: number;
  deadline: number;
  /** A long poll (Fetch, JoinGroup, SyncGroup): its duration says nothing about the broker. */
  untimed: boolean;
  /** No response is expected (Produce with acks=0). */
  silent: boolean;
  /** Metadata request for every topic: the response replaces the stored topic list. */
  allTopics: boolean;
  /** The frame for the client once known; CLOSE = close the connection here. */
  answer: Buffer | null;
  timer: NodeJS.Timeout | undefined;
}

const CLOSE = Buffer.alloc(0);
/** Broker-side trouble in a Produce response: counts against the breaker. */
const BROKER_TROUBLE: ReadonlySet<number> = new Set([
  KafkaErrorCode.REQUEST_TIMED_OUT,
  KafkaErrorCode.BROKER_NOT_AVAILABLE,
  KafkaErrorCode.NOT_ENOUGH_REPLICAS,
  KafkaErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  KafkaErrorCode.KAFKA_STORAGE_ERROR,
]);
const MAX_LOCAL_FETCH_WAIT_MS = 30_000;
/** Responses read whole before they go to the client: rewritten, or their error codes read. */
const NEEDS_WHOLE_RESPONSE: ReadonlySet<number> = new Set([API_PRODUCE, API_METADATA, API_FIND_COORDINATOR, API_DESCRIBE_CLUSTER, API_API_VERSIONS]);

type UpstreamState = 'none' | 'connecting' | 'open';

export class KafkaConnection {
  private readonly scanner: FrameScanner;
  private upstream: net.Socket | undefined;
  private upState: UpstreamState = 'none';
  /** The response being read from upstream, and how. */
  private reading: Entry | undefined;
  private remaining = 0;
  private frameBytes = 0;
  private streaming = false;
  private readonly parts: Buffer[] = [];
  /** Size prefix and correlation id when they span chunks. */
  private readonly head = Buffer.allocUnsafe(8);
  private headFill = 0;
  private upError: Error | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  /** host:port of the upstream connection, for the cluster's per-broker view. */
  private upAddr = '';
  private okNoted = 0;
  /** Entries that expect an answer, in request order. */
  private readonly queue: Entry[] = [];
  /** Entries written upstream that expect a response, in send order. */
  private sent: Entry[] = [];
  /** Entries waiting for the upstream connection. */
  private unsent: Entry[] = [];
  private closed = false;
  private refusedIdempotent = false;

  constructor(
    private readonly client: net.Socket,
    private readonly host: ConnectionHost,
    /** A broker listener's route; undefined for the bootstrap listener. */
    private readonly route: BrokerRoute | undefined,
  ) {
    this.scanner = new FrameScanner(host.config.maxFrameBytes);
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    client.on('error', () => undefined); // 'close' follows
    client.on('close', () => this.onClientClose());
  }

  get pending(): number {
    return this.sent.length + (this.reading ? 1 : 0);
  }

  // --- client → breakwater ------------------------------------------------------------

  private onClientData(chunk: Buffer): void {
    if (this.closed) return;
    this.scanner.push(chunk);
    const up = this.upstream;
    up?.cork();
    try {
      for (let frame = this.scanner.next(); frame !== null && !this.closed; frame = this.scanner.next()) this.onRequest(frame);
    } catch (err) {
      if (!(err instanceof KafkaWireError)) throw err;
      this.badInput(err.code, err.message);
    } finally {
      up?.uncork();
    }
  }

  private onRequest(frame: Buffer): void {
    if (frame.length < 14) return this.badInput('truncated', `a ${frame.length - 4}-byte request is shorter than a request header`);
    const apiKey = frame.readInt16BE(4);
    const apiVersion = frame.readInt16BE(6);
    const correlationId = frame.readInt32BE(8);
    this.host.requestSeen(apiKey);
    const flexible = isFlexibleRequest(apiKey, apiVersion);
    if (flexible === undefined) return this.badInput('unknown_api', `unknown api key ${apiKey}`);
    if (apiKey === API_API_VERSIONS) {
      if (apiVersion > API_VERSIONS_MAX_VERSION) {
        // What a broker answers a version it does not know: UNSUPPORTED_VERSION and its range.
        const e = this.entry(frame, apiKey, apiVersion, correlationId);
        e.answer = encodeResponseFrame(apiKey, 0, correlationId, encodeUnsupportedApiVersions(API_VERSIONS_MAX_VERSION));
        return this.flush();
      }
    } else {
      const max = this.host.cluster.maxVersion(apiKey);
      // The broker closes the connection on a version it does not offer; refusing here keeps a
      // client's mistake from counting against the cluster's breaker.
      if (max === -1) return this.badInput('unknown_api', `api key ${apiKey} is not offered by the cluster`);
      if (max !== undefined && apiVersion > max) {
        return this.badInput('unsupported_version', `${apiName(apiKey)} v${apiVersion} is not offered (highest v${max}): the client ignored ApiVersions`);
      }
    }
    if (apiKey === API_PRODUCE) return this.produce(frame, apiVersion, correlationId, flexible);

    const e = this.entry(frame, apiKey, apiVersion, correlationId);
    if (apiKey === API_METADATA) e.allTopics = this.asksAllTopics(frame, apiVersion);
    const permit = this.host.dep.admit();
    if (typeof permit === 'number') this.forward(e, permit);
    else this.answerLocally(e, permit);
  }

  private produce(frame: Buffer, v: number, correlationId: number, flexible: boolean): void {
    let body: Buffer;
    let acks: number;
    let req: ProduceRequest | undefined;
    try {
      body = frame.subarray(requestBodyOffset(frame, flexible));
      acks = produceAcks(v, body);
      // While the spool still holds records of a partition, its new records queue behind them.
      const spool = this.host.spool;
      if (spool !== undefined && spool.anyPending) {
        req = parseProduceRequest(v, body);
        if (this.draining(req, spool)) {
          const e = this.entry(frame, API_PRODUCE, v, correlationId, acks === 0);
          return this.localProduce(e, req, acks, 'draining');
        }
      }
    } catch (err) {
      if (err instanceof KafkaWireError) return this.badInput(err.code, `Produce v${v}: ${err.message}`);
      throw err;
    }
    const e = this.entry(frame, API_PRODUCE, v, correlationId, acks === 0);
    const permit = this.host.dep.admit();
    if (typeof permit === 'number') return this.forward(e, permit);
    this.answerLocally(e, permit, req);
  }

  private draining(req: ProduceRequest, spool: Spool): boolean {
    for (const t of req.topics) {
      if (this.host.rules.forTopic(t.name) !== 'spool') continue;
      for (const p of t.partitions) if (spool.hasPending(streamOf(t.name, p.index))) return true;
    }
    return false;
  }

  private asksAllTopics(frame: Buffer, v: number): boolean {
    try {
      return parseMetadataRequest(v, frame.subarray(parseRequestHeader(frame).headerEnd)).topics === null;
    } catch {
      return false;
    }
  }

  private entry(frame: Buffer, apiKey: number, apiVersion: number, correlationId: number, silent = false): Entry {
    const e: Entry = {
      correlationId,
      apiKey,
      apiVersion,
      frame,
      token: -1,
      started: 0,
      deadline: Infinity,
      untimed: apiKey === API_FETCH || apiKey === API_JOIN_GROUP || apiKey === API_SYNC_GROUP,
      silent,
      allTopics: false,
      answer: null,
      timer: undefined,
    };
    if (!silent) this.queue.push(e);
    return e;
  }

  // --- forwarding ------------------------------------------------------------------------

  private forward(e: Entry, token: number): void {
    e.token = token;
    e.started = performance.now();
    const timeout = this.host.config.timeout;
    if (e.apiKey === API_FETCH) e.deadline = e.started + timeout + fetchMaxWait(e.frame!, e.apiVersion);
    else if (e.apiKey !== API_JOIN_GROUP && e.apiKey !== API_SYNC_GROUP) e.deadline = e.started + timeout;
    if (this.upState === 'open') {
      this.send(e);
      return;
    }
    this.unsent.push(e);
    if (this.upState === 'none') this.connect();
  }

  private send(e: Entry): void {
    this.upstream!.write(e.frame!);
    e.frame = null;
    if (e.silent) {
      // acks=0: the broker never says whether it took the records.
      this.settle(e, 'ignored');
      return;
    }
    this.sent.push(e);
  }

  private connect(): void {
    const to = this.route?.upstream ?? this.host.nextBootstrap();
    this.upState = 'connecting';
    this.upError = undefined;
    const up = net.connect({ host: to.host, port: to.port, noDelay: true });
    const addr = `${to.host}:${to.port}`;
    this.upAddr = addr;
    this.upstream = up;
    this.reading = undefined;
    this.parts.length = 0;
    this.headFill = 0;
    this.connectTimer = setTimeout(() => up.destroy(new Error(`connect timeout after ${this.host.config.connectTimeout}ms`)), this.host.config.connectTimeout);
    up.on('connect', () => {
      clearTimeout(this.connectTimer);
      if (this.closed) return;
      this.upState = 'open';
      this.okNoted = Date.now();
      this.host.cluster.brokerOk(addr, this.okNoted);
      const waiting = this.unsent;
      this.unsent = [];
      up.cork();
      for (const e of waiting) this.send(e);
      up.uncork();
    });
    up.on('data', (chunk: Buffer) => this.onUpstreamData(chunk));
    up.on('error', (err) => (this.upError = err));
    up.on('close', () => this.onUpstreamClose(up, addr));
  }

  private onUpstreamClose(up: net.Socket, addr: string): void {
    clearTimeout(this.connectTimer);
    if (up !== this.upstream) return;
    const wasOpen = this.upState === 'open';
    this.upstream = undefined;
    this.upState = 'none';
    if (this.closed) return;
    const err = this.upError;
    // One broker down while others answer is not the cluster's trouble: the client gets what a
    // dead broker gives (its connection closed, then refused: see KafkaCluster.suspend), refreshes
    // Metadata and follows the new leader.
    const clusterWide = err !== undefined || !wasOpen ? this.host.cluster.brokerDown(addr, Date.now()) : false;
    if (!wasOpen) {
      const message = `Kafka broker ${addr} unreachable: ${err?.message ?? 'connection closed'}`;
      const waiting = this.unsent;
      this.unsent = [];
      if (!clusterWide) {
        for (const e of waiting) this.settle(e, 'ignored');
        this.host.log.debug({ upstream: addr, err: err?.message }, `${message}; other brokers answer: closing the client connection as the broker would`);
        if (this.route !== undefined) this.host.cluster.suspend(this.route);
        this.destroy();
        return;
      }
      // The cluster is unreachable: one failure for the attempt; the waiting requests are answered here.
      let counted = false;
      for (const e of waiting) {
        if (!counted && e.token >= 0) {
          this.settle(e, 'failure', message);
          counted = true;
        } else this.settle(e, 'ignored');
        this.answerLocally(e, 'failed');
      }
      this.host.log.debug({ upstream: addr, err: err?.message }, message);
      return;
    }
    // The broker went away with requests in flight. A reset is broker trouble; a clean close is
    // what a broker also does to a request it cannot parse, so it is not held against the cluster
    // (the reconnect that follows tells). The client reconnects and retries, as with a broker.
    const lost = [...(this.reading ? [this.reading] : []), ...this.sent, ...this.unsent];
    this.reading = undefined;
    const inFlight = lost.length;
    let counted = false;
    for (const e of lost) {
      if (err !== undefined && clusterWide && !counted && e.token >= 0) {
        this.settle(e, 'failure', `Kafka broker ${addr} connection lost: ${err.message}`);
        counted = true;
      } else this.settle(e, 'ignored');
    }
    this.sent = [];
    this.unsent = [];
    if (inFlight > 0 || this.queue.length > 0) {
      this.host.log.debug({ upstream: addr, inFlight, err: err?.message }, `Kafka broker ${addr} closed the connection with ${inFlight} requests in flight; closing the client's`);
      this.destroy();
    }
  }

  // --- broker → client ---------------------------------------------------------------------

  // A response is read by its size prefix. When it needs nothing from breakwater (everything
  // but the rewritten address responses and Produce, whose error codes are read) and it is next
  // in the client's order, its bytes go to the client as they arrive: a 1 MiB Fetch response is
  // neither held back until complete nor copied into one buffer.

  private onUpstreamData(chunk: Buffer): void {
    if (this.upstream === undefined || this.closed) return;
    const now = Date.now();
    if (now - this.okNoted > 1000) {
      this.okNoted = now;
      this.host.cluster.brokerOk(this.upAddr, now);
    }
    this.client.cork();
    try {
      let off = 0;
      while (off < chunk.length && !this.closed) {
        if (this.reading === undefined) {
          if (this.headFill === 0 && chunk.length - off >= 8) {
            // the common case: size and correlation id in this chunk; the frame starts at off
            if (!this.beginResponse(chunk.readInt32BE(off), chunk.readInt32BE(off + 4))) return;
          } else {
            const n = Math.min(8 - this.headFill, chunk.length - off);
            chunk.copy(this.head, this.headFill, off, off + n);
            this.headFill += n;
            off += n;
            if (this.headFill < 8) break;
            this.headFill = 0;
            if (!this.beginResponse(this.head.readInt32BE(0), this.head.readInt32BE(4))) return;
            this.take(Buffer.from(this.head));
            continue;
          }
        }
        const n = Math.min(this.remaining, chunk.length - off);
        this.take(n === chunk.length ? chunk : chunk.subarray(off, off + n));
        off += n;
      }
    } finally {
      this.client.uncork();
    }
  }

  /** Size prefix and correlation id of the next response are known; false when closed. */
  private beginResponse(size: number, correlationId: number): boolean {
    if (size < 4 || size > this.host.config.maxFrameBytes) {
      this.upstreamProtocolError(`a response frame of ${size} bytes, outside 4..${this.host.config.maxFrameBytes} (maxFrameBytes)`);
      return false;
    }
    const e = this.sent.shift();
    if (e === undefined) {
      this.upstreamProtocolError(`a response with no request outstanding (correlation id ${correlationId})`);
      return false;
    }
    if (correlationId !== e.correlationId) {
      this.sent.unshift(e);
      this.upstreamProtocolError(`correlation id ${correlationId} where ${e.correlationId} (${apiName(e.apiKey)}) was expected`);
      return false;
    }
    this.reading = e;
    this.remaining = size + 4;
    this.frameBytes = size + 4;
    this.streaming = !NEEDS_WHOLE_RESPONSE.has(e.apiKey) && this.queue[0] === e;
    return true;
  }

  private take(part: Buffer): void {
    this.remaining -= part.length;
    if (this.streaming) this.client.write(part);
    else this.parts.push(part);
    if (this.remaining === 0) this.endResponse();
  }

  private endResponse(): void {
    const e = this.reading!;
    this.reading = undefined;
    if (this.streaming) {
      this.queue.shift(); // e was the head
      this.settle(e, 'success');
      this.flush();
      return;
    }
    const parts = this.parts;
    const frame = parts.length === 1 ? parts[0]! : Buffer.concat(parts, this.frameBytes);
    parts.length = 0;
    this.onResponse(e, frame);
  }

  private onResponse(e: Entry, frame: Buffer): void {
    try {
      switch (e.apiKey) {
        case API_PRODUCE: {
          const code = firstProduceErrorIn(e.apiVersion, frame.subarray(4 + responseHeaderLength(e.apiKey, e.apiVersion, frame)), BROKER_TROUBLE);
          if (code !== undefined) this.settle(e, 'failure', `Produce answered ${errorName(code)}`);
          else this.settle(e, 'success');
          break;
        }
        case API_METADATA:
        case API_FIND_COORDINATOR:
        case API_DESCRIBE_CLUSTER:
        case API_API_VERSIONS:
          this.settle(e, 'success');
          this.rewrite(e, frame);
          return;
        default:
          this.settle(e, 'success');
      }
    } catch (err) {
      if (!(err instanceof KafkaWireError)) throw err;
      this.upstreamProtocolError(`${apiName(e.apiKey)} v${e.apiVersion} response: ${err.message}`);
      return;
    }
    e.answer = frame;
    this.flush();
  }

  /** Rewrites broker addresses (and narrows ApiVersions); may wait for new broker listeners. */
  private rewrite(e: Entry, frame: Buffer): boolean {
    const hl = responseHeaderLength(e.apiKey, e.apiVersion, frame);
    const body = frame.subarray(4 + hl);
    const cluster = this.host.cluster;
    try {
      if (e.apiKey === API_API_VERSIONS) {
        const narrowed = narrowApiVersions(e.apiVersion, body, DEFAULT_NARROW_LIMITS);
        const parsed = parseApiVersions(e.apiVersion, narrowed);
        if (parsed.errorCode === 0) cluster.learnApiVersions([...parsed.apiKeys].map(([k, r]) => [k, r.min, r.max] as [number, number, number]));
        e.answer = withBody(frame, hl, body, narrowed);
        this.flush();
        return true;
      }
      if (e.apiKey === API_METADATA) cluster.learnMetadata(parseMetadataResponse(e.apiVersion, body), e.allTopics);
      const wait = cluster.ensure(brokersIn(e.apiKey, e.apiVersion, body));
      const finish = (): void => {
        if (this.closed) return;
        try {
          e.answer = withBody(frame, hl, body, rewriteAddresses(e.apiKey, e.apiVersion, body, cluster.localAddress));
          this.flush();
        } catch (err) {
          this.upstreamProtocolError(`cannot rewrite ${apiName(e.apiKey)} v${e.apiVersion}: ${String(err)}`);
        }
      };
      if (wait === undefined) finish();
      else {
        wait.then(finish, (err: unknown) => {
          this.host.log.error({ err: String(err) }, `could not open a local listener for a Kafka broker: ${String(err)}`);
          this.destroy();
        });
      }
      return true;
    } catch (err) {
      if (!(err instanceof KafkaWireError)) throw err;
      // Never pass an address through unrewritten: the client would bypass breakwater.
      this.upstreamProtocolError(`cannot rewrite ${apiName(e.apiKey)} v${e.apiVersion}: ${err.message}`);
      return false;
    }
  }

  private flush(): void {
    const q = this.queue;
    while (q.length > 0 && q[0]!.answer !== null) {
      const e = q.shift()!;
      if (e.answer === CLOSE) {
        this.client.end();
        this.destroy(false);
        return;
      }
      this.client.write(e.answer!);
      e.answer = null;
    }
  }

  // --- answers breakwater gives ---------------------------------------------------------------

  private answerLocally(e: Entry, reason: FallbackReason, parsed?: ProduceRequest): void {
    const dep = this.host.dep;
    const frame = e.frame!;
    e.frame = null;
    const v = e.apiVersion;
    try {
      const body = frame.subarray(parseRequestHeader(frame).headerEnd);
      switch (e.apiKey) {
        case API_PRODUCE:
          return this.localProduce(e, parsed ?? parseProduceRequest(v, body), produceAcks(v, body), reason);
        case API_FETCH: {
          const req = parseFetchRequest(v, body);
          dep.fallback('static', reason);
          e.timer = setTimeout(
            () => {
              e.timer = undefined;
              e.answer = encodeResponseFrame(API_FETCH, v, e.correlationId, encodeEmptyFetchResponse(v, 0));
              this.flush();
            },
            Math.min(Math.max(req.maxWaitMs, 0), MAX_LOCAL_FETCH_WAIT_MS),
          );
          return;
        }
        case API_API_VERSIONS: {
          const state = this.host.cluster.state;
          if (state === undefined || state.apiVersions.length === 0) break;
          dep.fallback('cache', reason);
          e.answer = encodeResponseFrame(API_API_VERSIONS, v, e.correlationId, encodeApiVersionsResponse(v, state.apiVersions));
          return this.flush();
        }
        case API_METADATA: {
          const state = this.host.cluster.state;
          if (state === undefined) break;
          dep.fallback('cache', reason);
          const local = { ...state, brokers: state.brokers.filter((b) => this.host.cluster.route(b.nodeId) !== undefined).map((b) => ({ ...b, ...this.host.cluster.localAddress(b) })) };
          e.answer = encodeResponseFrame(API_METADATA, v, e.correlationId, answerMetadata(v, local, parseMetadataRequest(v, body)));
          return this.flush();
        }
        case API_FIND_COORDINATOR: {
          const req = parseFindCoordinatorRequest(v, body);
          dep.fallback('fail', reason);
          e.answer = encodeResponseFrame(
            API_FIND_COORDINATOR,
            v,
            e.correlationId,
            encodeFindCoordinatorError(v, req.keys, KafkaErrorCode.COORDINATOR_NOT_AVAILABLE, `breakwater: Kafka ${dep.name} unavailable (${reason})`),
          );
          return this.flush();
        }
      }
    } catch (err) {
      if (!(err instanceof KafkaWireError)) throw err;
      return this.badInput(err.code, `${apiName(e.apiKey)} v${v}: ${err.message}`);
    }
    // Nothing breakwater can say for this request: close, as a broker that went away would.
    dep.fallback('fail', reason);
    e.answer = CLOSE;
    this.flush();
  }

  private localProduce(e: Entry, req: ProduceRequest, acks: number, reason: FallbackReason | 'draining'): void {
    const host = this.host;
    const dep = host.dep;
    const spool = host.spool;
    const failCode = host.failCode;
    const inputs: SpoolInput[] = [];
    const spooled: { r: PartitionResult; records: number }[] = [];
    let failed = false;
    const topics = req.topics.map((t) => {
      const rule = host.rules.forTopic(t.name);
      return {
        name: t.name,
        partitions: t.partitions.map((p): PartitionResult => {
          const r: PartitionResult = { index: p.index, errorCode: 0, errorMessage: null };
          if (rule !== 'spool' || spool === undefined) {
            failed = true;
            if (reason === 'draining') {
              // Another topic of this request drains the spool: this one may go straight to Kafka, later.
              r.errorCode = KafkaErrorCode.NOT_LEADER_OR_FOLLOWER;
              r.errorMessage = 'breakwater: retry (the spool is draining for another topic of this request)';
            } else {
              r.errorCode = failCode;
              r.errorMessage = `breakwater: Kafka ${dep.name} unavailable (${reason}); topic ${t.name} fails fast`;
            }
            return r;
          }
          if (p.records === null || p.records.length === 0) return r;
          let info;
          try {
            info = inspectRecords(p.records);
          } catch (err) {
            r.errorCode = KafkaErrorCode.CORRUPT_MESSAGE;
            r.errorMessage = `breakwater: cannot spool these records: ${String((err as Error).message)}`;
            host.spoolRejected('malformed', 0);
            return r;
          }
          if (info.transactional || info.idempotent) {
            r.errorCode = failCode;
            r.errorMessage = `breakwater: ${info.transactional ? 'transactional' : 'idempotent'} producers cannot be spooled (a replay would break their sequence numbers); set enable.idempotence=false for topic ${t.name}`;
            host.spoolRejected(info.transactional ? 'transactional' : 'idempotent', info.records);
            if (!this.refusedIdempotent) {
              this.refusedIdempotent = true;
              host.log.warn({ topic: t.name }, r.errorMessage);
            }
            return r;
          }
          inputs.push({ stream: streamOf(t.name, p.index), payload: p.records, count: info.records });
          spooled.push({ r, records: info.records });
          return r;
        }),
      };
    });
    if (failed) dep.fallback('fail', reason);
    const finish = (): void => {
      if (e.silent || this.closed) return;
      e.answer = encodeResponseFrame(API_PRODUCE, e.apiVersion, e.correlationId, encodeProduceResponse(e.apiVersion, topics));
      this.flush();
    };
    if (inputs.length === 0) return finish();
    const records = spooled.reduce((n, s) => n + s.records, 0);
    spool!.append(inputs).then(
      () => {
        dep.fallback('spool', reason);
        host.spooled(records);
        finish();
      },
      (err: unknown) => {
        const full = err instanceof SpoolFullError;
        const message = full ? `breakwater: ${err.message}` : `breakwater: could not write the spool: ${String((err as Error).message ?? err)}`;
        for (const s of spooled) {
          s.r.errorCode = failCode;
          s.r.errorMessage = message;
        }
        dep.fallback('fail', full ? 'spool_full' : 'spool_error');
        host.spoolRejected(full ? 'full' : err instanceof SpoolInputError ? 'too_large' : 'io', records);
        host.log.error({ err: message, records }, message);
        finish();
      },
    );
  }

  // --- outcomes, timeouts, closing ---------------------------------------------------------------

  private settle(e: Entry, outcome: 'success' | 'failure' | 'ignored', message = ''): void {
    const token = e.token;
    if (token < 0) return;
    e.token = -1;
    const dep = this.host.dep;
    const ms = performance.now() - e.started;
    if (outcome === 'ignored') dep.ignored(token, ms);
    else if (outcome === 'failure') dep.failure(token, ms, message);
    else if (e.untimed) dep.untimedSuccess(token);
    else dep.success(token, ms);
  }

  /** Called by the listener's sweep: the oldest request in flight past its deadline fails. */
  checkTimeout(now: number): void {
    const e = this.reading ?? this.sent[0];
    if (e === undefined || e.deadline > now) return;
    const message = `no response to ${apiName(e.apiKey)} from ${this.upAddr} within ${Math.round(now - e.started)}ms (timeout)`;
    this.settle(e, this.host.cluster.brokerDown(this.upAddr, Date.now()) ? 'failure' : 'ignored', message);
    this.host.log.warn({ api: apiName(e.apiKey) }, `Kafka: ${message}; closing the connection`);
    this.destroy();
  }

  private badInput(reason: string, message: string): void {
    this.host.dep.metrics.badRequest(reason);
    this.host.log.warn({ reason, client: this.client.remoteAddress, port: this.client.remotePort }, `Kafka client sent bad input, closing its connection: ${message}`);
    this.destroy();
  }

  private upstreamProtocolError(message: string): void {
    const dep = this.host.dep;
    dep.lastError = { message, at: new Date().toISOString() };
    this.host.log.error({ upstream: this.route ? `${this.route.upstream.host}:${this.route.upstream.port}` : 'bootstrap' }, `Kafka broker response: ${message}; closing the connection`);
    this.destroy();
  }

  private onClientClose(): void {
    if (this.closed) return;
    // Gone mid-request: a partial frame, or requests still unanswered (a long poll that a
    // leaving consumer abandons is normal and not counted).
    const unanswered = this.queue.filter((e) => !e.untimed).length;
    if (this.scanner.pending > 0 || unanswered > 0) {
      this.host.dep.metrics.badRequest('client_disconnect');
      this.host.log.info(
        { client: this.client.remoteAddress, partialBytes: this.scanner.pending, unanswered },
        `Kafka client left mid-request (${this.scanner.pending} bytes of a partial frame, ${unanswered} unanswered requests)`,
      );
    }
    this.destroy();
  }

  /** Closes both sides; permits still held are released without an outcome. */
  destroy(destroyClient = true): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.connectTimer);
    for (const e of [...this.sent, ...this.unsent, ...this.queue]) {
      this.settle(e, 'ignored');
      if (e.timer !== undefined) clearTimeout(e.timer);
    }
    this.sent = [];
    this.unsent = [];
    this.queue.length = 0;
    this.upstream?.destroy();
    this.upstream = undefined;
    if (destroyClient) this.client.destroy();
    this.host.connectionClosed(this);
  }

  /** For shutdown: close when nothing is in flight. */
  closeIfIdle(): void {
    if (this.queue.length === 0 && this.unsent.length === 0) {
      this.client.end();
      this.destroy(false);
    }
  }
}

interface PartitionResult {
  index: number;
  errorCode: number;
  errorMessage: string | null;
}

export function streamOf(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

/** Fetch's max_wait_ms: after replica_id before v15, first in the body from v15. */
function fetchMaxWait(frame: Buffer, v: number): number {
  try {
    const at = requestBodyOffset(frame, v >= 12) + (v >= 15 ? 0 : 4);
    return at + 4 <= frame.length ? Math.max(0, frame.readInt32BE(at)) : 0;
  } catch {
    return 0;
  }
}

/** The frame with a new body (the same frame when the body did not change). */
function withBody(frame: Buffer, headerLength: number, body: Buffer, newBody: Buffer): Buffer {
  if (newBody === body) return frame;
  const out = Buffer.allocUnsafe(4 + headerLength + newBody.length);
  out.writeInt32BE(headerLength + newBody.length, 0);
  frame.copy(out, 4, 4, 4 + headerLength);
  newBody.copy(out, 4 + headerLength);
  return out;
}
