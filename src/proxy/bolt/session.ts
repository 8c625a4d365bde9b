// One client connection and its own upstream connection (Bolt is stateful: login, open
// transactions and results belong to the connection). Requests are framed by their chunks and
// forwarded as the bytes they came in; responses are framed to pair each summary with its
// request and forwarded a whole read at a time. The breaker is asked once per call: an
// auto-commit RUN with its PULLs, or a transaction from BEGIN to COMMIT/ROLLBACK. Requests it
// refuses, or that Neo4j failed before answering, are answered by breakwater in their place in
// the response order: from the fallback chain (a RUN), or as Neo4j's state machine would (a
// FAILURE, then IGNORED until RESET). Without Neo4j at all, breakwater plays the server from the
// handshake on, and reconnects (replaying the login) when the breaker lets a call through.
import { connect, type Socket } from 'node:net';
import { REJECTED } from '../../breaker/breaker.js';
import type { FallbackReason } from '../../fallback/chain.js';
import { returnFields } from '../cypher/return-fields.js';
import { classifyCode, failureInfo } from './classify.js';
import { FAIL_CODES, type BoltFallback, type LocalAnswer } from './fallbacks.js';
import { BoltFramingError, MessageReader, NOOP, payloadOf, rawOf } from './framing.js';
import {
  CLIENT_HANDSHAKE_BYTES,
  LOCAL_VERSIONS,
  chooseLocalVersion,
  covers,
  exactHandshake,
  isManifest,
  localManifest,
  manifestRanges,
  parseClientChoice,
  parseClientHandshake,
  parseServerAnswer,
  versionBytes,
  type BoltVersion,
  type Proposal,
} from './handshake.js';
import type { BoltListener, QueryInfo } from './listener.js';
import { isSummary, requestName, Sig } from './messages.js';
import { isMap, PackStreamError } from './packstream.js';
import { HAS_MORE, IGNORED, failure, resultEnd, runSuccess, success } from './replies.js';
import { credentialDigest, decodeRun, firstMap, principalOf, recordsWanted, type RunRequest } from './requests.js';
import { localRoute, rewriteRoute, routeDatabase } from './routing.js';

/** One breaker call: an auto-commit RUN and its PULLs, or a transaction. */
interface Unit {
  readonly token: number;
  /** ms spent waiting for Neo4j's answers (not the client's think time inside a transaction). */
  waited: number;
  open: boolean;
}

/** A result being stored for the `cache` fallback as it streams by. */
interface Capture {
  readonly key: string;
  fields: string[] | undefined;
  records: Buffer[];
  bytes: number;
}

/** The RUN a result came from (shared by the RUN's entry and its PULLs' entries). */
interface ResultRef {
  readonly run: RunRequest;
  /** `cache` and `static` may answer it: a read query, auto-commit or in a read transaction. */
  readonly servable: boolean;
  readonly auto: boolean;
  readonly info: QueryInfo;
  readonly cacheKey: string | undefined;
  /** Set while a result of a cached query streams by from Neo4j. */
  capture: Capture | undefined;
}

const enum Kind {
  Plain = 0,
  Run = 1,
  Pull = 2,
  Hello = 3,
  Logon = 4,
  Route = 5,
  Reset = 6,
  EndsTx = 7,
}

interface Entry {
  readonly sig: number;
  kind: Kind;
  /** Answered by Neo4j; otherwise `produce` answers when the entry reaches the head. */
  up: boolean;
  /** A local answer waiting for a fallback lookup (the cache): it holds the head. */
  lookup: boolean;
  produce: (() => Buffer | Promise<Buffer>) | undefined;
  unit: Unit | undefined;
  result: ResultRef | undefined;
  /** Part of its answer has reached the client (RECORDs of a PULL). */
  answered: boolean;
  /** When it began waiting for Neo4j (performance.now()). */
  since: number;
  /** PULL/DISCARD: the records asked for (-1: all). */
  want: number;
  /** HELLO/LOGON: the digest of the credentials it carries, verified when Neo4j accepts them. */
  digest: string | undefined;
  /** Calls that end (as the caller's) when this entry is answered: what a RESET or a newer RUN leaves behind. */
  ends: Unit[] | undefined;
}

/** A result breakwater serves: chunked RECORD messages and where each ends. */
interface LocalResult {
  readonly records: Buffer;
  readonly ends: number[];
  next: number;
  readonly db: string | undefined;
}

type Outcome = 'success' | 'failure' | 'caller' | 'ignored';

const enum Phase {
  Handshake,
  /** Waiting for Neo4j's handshake answer. */
  UpstreamHandshake,
  /** A manifest was sent (by Neo4j or by breakwater): waiting for the client's choice. */
  Choice,
  Messages,
  Closed,
}

/** Bytes written to a socket before breakwater stops reading from the other side. */
const HIGH_WATER = 1 << 20;
/** Neo4j's socket reads into a buffer of this size (Node's own default read size). */
const UP_READ_BYTES = 64 * 1024;
/** Client bytes held while the handshake is under way (a driver sends a few hundred). */
const MAX_EARLY_BYTES = 1 << 20;

let connectionIds = 0;

export class BoltSession {
  private phase = Phase.Handshake;
  version: BoltVersion = { major: 0, minor: 0 };
  private early: Buffer | undefined;
  private proposals: Proposal[] = [];
  private handshakeBytes: Buffer | undefined;
  /** Ranges of the manifest the client is choosing from. */
  private offered: Proposal[] = [];
  private up: Socket | undefined;
  /** The upstream has finished its handshake and login replay has been written. */
  private upReady = false;
  private outbox: Buffer[] = [];
  private upBuf: Buffer | undefined;
  /** Answers to replayed HELLO/LOGON to swallow before the queue's. */
  private replaying = 0;
  private upPaused = false;
  private readonly requests: MessageReader;
  private readonly responses: MessageReader;
  private readonly queue: Entry[] = [];
  private head = 0;
  /** When the head entry began waiting (for the timeout sweep). */
  headSince = 0;
  private clock = performance.now();
  /** Where PULL/DISCARD go: the current result is breakwater's. */
  private localResults = false;
  private localResult: LocalResult | undefined;
  private tx:
    | { local: boolean; unit: Unit | undefined; read: boolean; lost: boolean; qid: number; reason: FallbackReason; db: string | undefined; impUser: string | undefined }
    | undefined;
  /** breakwater answered a FAILURE: IGNORED until RESET, as Neo4j does. */
  private localFailed = false;
  /** Neo4j answered a FAILURE: it ignores until RESET, so no permits are taken for what it will ignore. */
  private upFailed = false;
  /** The call the last auto-commit RUN opened (its PULLs belong to it). */
  private autoUnit: Unit | undefined;
  /** Every call holding a permit: each ends exactly once (success, failure or the caller's). */
  private readonly openUnits = new Set<Unit>();
  /** Reading from the client is paused: Neo4j's socket is full, or the client's own. */
  private pausedForUp = false;
  private pausedForClient = false;
  /** Neo4j's socket is paused while a fallback lookup holds the answer order. */
  private upHeld = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private hello: Buffer | undefined;
  private logon: Buffer | undefined;
  private principal: string | undefined;
  private digest: string | undefined;
  /** Logged in by breakwater with credentials Neo4j never accepted: no cached results. */
  private unverified = false;
  private refusing: string | undefined;
  private quitting = false;
  private closed = false;
  private draining = false;
  private readonly connectionId = `bolt-breakwater-${++connectionIds}`;
  /** Scan position in the upstream read being processed: bytes before it are forwarded or dropped. */
  private runStart = 0;
  private runBuf: Buffer | undefined;

  constructor(
    readonly client: Socket,
    private readonly listener: BoltListener,
  ) {
    this.requests = new MessageReader(listener.config.maxMessageBytes, (sig, buf, start, end, parts) => this.onRequest(sig, buf, start, end, parts));
    // Neo4j's own answers are bounded by what the client pulls; the bound here only stops a broken stream.
    this.responses = new MessageReader(Number.MAX_SAFE_INTEGER, (sig, buf, start, end, parts) => this.onResponse(sig, buf, start, end, parts));
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.guarded('reading from the client', this.onClientData, chunk));
    client.on('error', () => undefined);
    client.on('end', () => this.quitAfterAnswers());
    client.on('close', () => this.onClientClose());
    client.on('drain', () => this.clientDrained());
    // A client that never finishes its handshake is not kept for ever.
    const limit = Math.max(10_000, listener.config.connectTimeout * 2);
    this.handshakeTimer = setTimeout(() => {
      if (this.phase !== Phase.Messages && !this.closed) this.badInput('client_stalled', `no Bolt handshake from the client within ${limit}ms`);
    }, limit);
    this.handshakeTimer.unref();
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  /** The head waits on Neo4j longer than timeout (and not because the client reads slowly). */
  timedOut(now: number, timeout: number): boolean {
    if (this.upPaused || this.upHeld || this.up === undefined || !this.upReady) return false;
    const e = this.queue[this.head];
    return e !== undefined && e.up && now - this.headSince > timeout;
  }

  // --- the handshake ---

  /**
   * Whatever goes wrong with one connection ends that connection, never the process. fn is a
   * method of this session called with arg: no closure per read on the data path.
   */
  private guarded<A>(what: string, fn: (this: BoltSession, arg: A) => void, arg: A): void {
    try {
      fn.call(this, arg);
    } catch (err) {
      this.listener.dep.metrics.badRequest('internal_error');
      this.listener.log.error({ err, client: this.client.remoteAddress }, `bolt session ended by an unexpected error while ${what}: ${(err as Error).message}`);
      this.destroy();
    }
  }

  private onClientData(chunk: Buffer): void {
    this.clock = performance.now();
    if (this.closed || this.refusing !== undefined) return;
    if (this.phase === Phase.Messages) {
      this.readRequests(chunk);
      return;
    }
    this.early = this.early === undefined ? chunk : Buffer.concat([this.early, chunk]);
    if (this.early.length > MAX_EARLY_BYTES) {
      this.badInput('malformed_handshake', `more than ${MAX_EARLY_BYTES} bytes before the handshake was done`);
      return;
    }
    if (this.phase === Phase.Handshake) {
      if (this.early.length < CLIENT_HANDSHAKE_BYTES) return;
      const hs = this.early.subarray(0, CLIENT_HANDSHAKE_BYTES);
      this.early = this.early.length > CLIENT_HANDSHAKE_BYTES ? this.early.subarray(CLIENT_HANDSHAKE_BYTES) : undefined;
      try {
        this.proposals = parseClientHandshake(hs);
      } catch (err) {
        this.badInput('malformed_handshake', (err as Error).message);
        return;
      }
      this.handshakeBytes = Buffer.from(hs);
      this.openHandshake();
      return;
    }
    if (this.phase === Phase.Choice) this.readChoice();
  }

  /** Neo4j's handshake when the breaker allows a connection; breakwater's own otherwise. */
  private openHandshake(): void {
    const token = this.listener.dep.breaker.acquire();
    if (token === REJECTED) {
      this.localHandshake();
      return;
    }
    this.phase = Phase.UpstreamHandshake;
    const started = performance.now();
    this.openUpstream(
      this.handshakeBytes!,
      (answer) => {
        this.listener.dep.breaker.ignore(token);
        this.client.write(answer.bytes);
        if (answer.manifest) {
          this.offered = manifestRanges(answer.bytes);
          this.phase = Phase.Choice;
          this.readChoice();
          return;
        }
        if (answer.version.major === 0) {
          this.client.end();
          return;
        }
        this.startMessages(answer.version);
      },
      (why) => {
        // A client that left first made Neo4j's side close: nobody's failure.
        if (this.closed) this.listener.dep.breaker.ignore(token);
        else {
          this.listener.dep.failure(token, performance.now() - started, why);
          this.localHandshake();
        }
      },
    );
  }

  private localHandshake(): void {
    if (this.proposals.some(isManifest)) {
      this.offered = LOCAL_VERSIONS.map((v) => ({ major: v.major, minor: v.minor, range: v.minor - v.minMinor }));
      this.client.write(localManifest());
      this.phase = Phase.Choice;
      this.readChoice();
      return;
    }
    const v = chooseLocalVersion(this.proposals);
    if (v === undefined) {
      this.listener.dep.metrics.badRequest('unsupported_version');
      this.client.end(Buffer.alloc(4));
      this.phase = Phase.Closed;
      return;
    }
    this.client.write(versionBytes(v));
    this.startMessages(v);
  }

  private readChoice(): void {
    const buf = this.early;
    if (buf === undefined) return;
    let choice;
    try {
      choice = parseClientChoice(buf);
    } catch (err) {
      this.badInput('malformed_handshake', (err as Error).message);
      return;
    }
    if (choice === undefined) return;
    if (!covers(this.offered, choice.version)) {
      this.badInput('malformed_handshake', `the client chose Bolt ${choice.version.major}.${choice.version.minor}, which was not offered`);
      return;
    }
    const bytes = buf.subarray(0, choice.length);
    this.early = buf.length > choice.length ? buf.subarray(choice.length) : undefined;
    if (this.up !== undefined) this.up.write(bytes);
    this.startMessages(choice.version);
  }

  private startMessages(v: BoltVersion): void {
    this.version = v;
    this.phase = Phase.Messages;
    if (this.up !== undefined) this.upReady = true;
    const rest = this.early;
    this.early = undefined;
    if (rest !== undefined) this.readRequests(rest);
  }

  /**
   * Connects to Neo4j and writes `handshake`; `ok` gets its answer (the manifest answer whole),
   * `failed` why it could not be had within connectTimeout.
   */
  private openUpstream(
    handshake: Buffer,
    ok: (answer: { bytes: Buffer; manifest: boolean; version: BoltVersion }) => void,
    failed: (why: string) => void,
  ): void {
    const target = this.listener.nextTarget();
    // Reads go into a buffer of this connection's that is used again for the next read unless
    // something still holds the last read's bytes (reusedReadBuffer): no allocation and no
    // stream machinery per read. `onData` runs for each read, as a 'data' handler would.
    let readBuf: Buffer | undefined;
    let onData: (chunk: Buffer) => void = () => undefined;
    // The buffer function first runs inside connect(), before `sock` is assigned.
    let self: Socket | undefined;
    const sock = connect({
      host: target.host,
      port: target.port,
      noDelay: true,
      onread: {
        buffer: () => (readBuf = this.reusedReadBuffer(readBuf, self)),
        callback: (n: number, buf: Uint8Array): boolean => {
          onData((buf as Buffer).subarray(0, n));
          return true; // pausing is explicit (pause/resume), as with 'data'
        },
      },
    });
    self = sock;
    this.up = sock;
    this.upReady = false;
    this.upBuf = undefined;
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (this.up === sock) this.up = undefined;
      failed(why);
    };
    const timeout = this.listener.config.connectTimeout;
    const timer = setTimeout(() => fail(`no Bolt handshake from ${target.label} within ${timeout}ms (connectTimeout)`), timeout);
    sock.on('error', (err: NodeJS.ErrnoException) => fail(`cannot connect to ${target.label}: ${err.code ?? err.message}`));
    sock.on('close', () => {
      if (!settled) fail(`${target.label} closed the connection during the handshake`);
      else if (this.up === sock) this.upstreamClosed();
    });
    sock.on('drain', () => {
      if (this.up === sock) this.upDrained();
    });
    sock.write(handshake);
    onData = (chunk: Buffer): void => {
      if (settled) {
        if (this.up === sock) this.guarded('reading from neo4j', this.onUpstreamData, chunk);
        return;
      }
      this.readHeld = true;
      this.upBuf = this.upBuf === undefined ? chunk : Buffer.concat([this.upBuf, chunk]);
      let answer;
      try {
        answer = parseServerAnswer(this.upBuf);
      } catch (err) {
        fail(`${target.label} sent a malformed handshake answer: ${(err as Error).message}`);
        return;
      }
      if (answer === undefined) return;
      settled = true;
      clearTimeout(timer);
      const bytes = this.upBuf.subarray(0, answer.length);
      const rest = this.upBuf.length > answer.length ? this.upBuf.subarray(answer.length) : undefined;
      this.upBuf = undefined;
      this.guarded(
        'finishing the handshake with neo4j',
        () => {
          ok({ bytes, manifest: answer.manifest, version: answer.version ?? { major: 0, minor: 0 } });
          if (rest !== undefined && this.up === sock) this.onUpstreamData(rest);
        },
        undefined,
      );
    };
  }

  /** Something keeps a view of Neo4j's last read (so its buffer is not read into again). */
  private readHeld = false;

  /**
   * The buffer for sock's next read: the last one again when nothing holds on to its bytes — no
   * write to the client waiting (a queued write refers to them), no stash, no message piece
   * kept by the reader, no capture for the cache (readHeld) — else a new one.
   */
  private reusedReadBuffer(last: Buffer | undefined, sock: Socket | undefined): Buffer {
    const reuse =
      last !== undefined && sock !== undefined && this.up === sock && !this.readHeld && this.stash === undefined && !this.responses.partial && this.client.writableLength === 0;
    this.readHeld = false;
    return reuse ? last : Buffer.allocUnsafe(UP_READ_BYTES);
  }

  /** A new upstream connection for a call, on the version in use, with the login replayed. */
  private reconnect(): void {
    const v = this.version;
    // The login in effect now: a LOGOFF/LOGON sent after this goes through the outbox, in order.
    const replay = [this.hello, this.logon].filter((b): b is Buffer => b !== undefined);
    this.openUpstream(
      exactHandshake(v),
      (answer) => {
        if (answer.manifest || answer.version.major !== v.major || answer.version.minor !== v.minor) {
          this.upstreamLost(`Neo4j no longer speaks Bolt ${v.major}.${v.minor} (it answered ${answer.version.major}.${answer.version.minor})`);
          return;
        }
        const up = this.up!;
        up.cork();
        for (const setup of replay) {
          up.write(setup);
          this.replaying++;
        }
        for (const b of this.outbox) up.write(b);
        this.outbox = [];
        this.outboxBytes = 0;
        this.upReady = true;
        up.uncork();
        if (up.writableLength <= HIGH_WATER) this.upDrained();
      },
      (why) => this.upstreamLost(why),
    );
  }

  // --- requests ---

  private readRequests(chunk: Buffer): void {
    this.reqBuf = chunk;
    try {
      this.requests.push(chunk);
    } catch (err) {
      if (err instanceof BoltFramingError) this.badInput(err.message.includes('maxMessageBytes') ? 'oversized_message' : 'malformed_bolt', err.message);
      else throw err;
    } finally {
      this.flushRequests();
      this.reqBuf = undefined;
    }
    this.drainLocal();
    // Backpressure both ways: Neo4j (or the outbox while connecting) not taking requests, or
    // the client not reading the answers breakwater writes itself.
    if ((this.up !== undefined && this.up.writableLength > HIGH_WATER) || this.outboxBytes > HIGH_WATER) {
      this.pausedForUp = true;
      this.client.pause();
    }
    if (this.client.writableLength > HIGH_WATER) {
      this.pausedForClient = true;
      this.client.pause();
    }
  }

  /** Neo4j's socket (or the new connection) takes requests again. */
  private upDrained(): void {
    if (!this.pausedForUp) return;
    this.pausedForUp = false;
    this.resumeClient();
  }

  /** The client reads again: resume what was paused for it. */
  private clientDrained(): void {
    if (this.closed) return;
    if (this.upPaused && this.up !== undefined) {
      this.upPaused = false;
      if (!this.upHeld) this.up.resume();
    }
    if (this.pausedForClient) {
      this.pausedForClient = false;
      this.resumeAnswers();
      if (!this.pausedForClient) this.resumeClient();
    }
  }

  private onRequest(sig: number, buf: Buffer, start: number, end: number, parts: Buffer[] | undefined): void {
    if (this.refusing !== undefined || this.closed) return;
    const raw = rawOf(buf, start, end, parts);
    if (sig === NOOP) {
      if (this.up !== undefined) this.forward(raw);
      return;
    }
    this.listener.countRequest(sig);
    try {
      this.dispatch(sig, raw);
    } catch (err) {
      if (err instanceof PackStreamError) this.badInput('malformed_bolt', `a ${requestName(sig)} message is malformed: ${err.message}`);
      else throw err;
    }
  }

  private dispatch(sig: number, raw: Buffer): void {
    const connected = this.up !== undefined;
    const tx = this.tx;
    switch (sig) {
      case Sig.RUN:
        return this.onRun(raw);
      case Sig.PULL:
      case Sig.DISCARD: {
        const want = recordsWanted(firstMap(payloadOf(raw)));
        if (this.localResults || !connected || (tx !== undefined && (tx.local || tx.lost))) return this.local(sig, () => this.localPull(sig, want));
        this.upstream(sig, raw, Kind.Pull, tx?.unit ?? this.autoUnit, this.lastResult).want = want;
        return;
      }
      case Sig.BEGIN:
        return this.onBegin(raw);
      case Sig.COMMIT:
      case Sig.ROLLBACK:
        this.tx = undefined;
        this.localResults = false;
        if (tx === undefined && connected) return void this.upstream(sig, raw, Kind.Plain, undefined, undefined);
        if (tx === undefined || tx.local || tx.lost) {
          const lost = tx === undefined || tx.lost;
          return this.local(sig, () => (lost ? this.localFailure(FAIL_CODES.transient, 'breakwater: the connection to neo4j was lost during the transaction') : this.localFailed ? IGNORED : success()));
        }
        return void this.upstream(sig, raw, Kind.EndsTx, tx.unit, undefined);
      case Sig.RESET: {
        this.tx = undefined;
        this.localResults = false;
        // What is open now ends with this RESET (as the caller's): not a call sent after it.
        const open = [...this.openUnits];
        this.autoUnit = undefined;
        if (connected) {
          this.upstream(sig, raw, Kind.Reset, undefined, undefined).ends = open;
          return;
        }
        for (const u of open) this.endUnit(u, 'ignored', '');
        return this.local(sig, () => this.localReset());
      }
      case Sig.HELLO:
      case Sig.LOGON: {
        const copy = Buffer.from(raw);
        if (sig === Sig.HELLO) this.hello = copy;
        else this.logon = copy;
        const payload = payloadOf(copy);
        const meta = firstMap(payload);
        const digest = credentialDigest(meta);
        if (digest !== undefined) {
          this.digest = digest;
          this.principal = principalOf(meta);
        }
        if (connected) {
          this.upstream(sig, raw, sig === Sig.HELLO ? Kind.Hello : Kind.Logon, undefined, undefined).digest = digest;
          return;
        }
        return this.local(sig, () => this.localLogin(sig, digest));
      }
      case Sig.LOGOFF:
        this.logon = undefined;
        this.digest = undefined;
        this.principal = undefined;
        if (connected) return void this.upstream(sig, raw, Kind.Plain, undefined, undefined);
        return this.local(sig, () => (this.localFailed ? IGNORED : success()));
      case Sig.TELEMETRY:
        if (connected) return void this.upstream(sig, raw, Kind.Plain, undefined, undefined);
        return this.local(sig, () => (this.localFailed ? IGNORED : success()));
      case Sig.ROUTE: {
        if (connected) return void this.upstream(sig, raw, Kind.Route, undefined, undefined);
        const db = routeDatabase(payloadOf(raw)) ?? this.listener.homeDatabase(this.principal);
        return this.local(sig, () => (this.localFailed ? IGNORED : localRoute(this.listener.advertised, db, this.listener.localRouteTtl())));
      }
      case Sig.GOODBYE:
        if (connected) this.forward(raw);
        this.quitAfterAnswers();
        return;
      default:
        if (connected) return void this.upstream(sig, raw, Kind.Plain, undefined, undefined);
        return this.local(sig, () => this.localFailure('Neo.ClientError.Request.Invalid', `breakwater: message 0x${sig.toString(16)} is not a Bolt request`));
    }
  }

  /** The result the next PULL/DISCARD reads (the last RUN's). */
  private lastResult: ResultRef | undefined;

  private onRun(raw: Buffer): void {
    const payload = payloadOf(raw);
    const run = decodeRun(payload);
    const tx = this.tx;
    const info = this.listener.queryInfo(run.query);
    const auto = tx === undefined;
    const servable = info.readQuery && (auto || tx.read);
    const listener = this.listener;
    // Inside a transaction the database and impersonated user came with BEGIN.
    const db = tx?.db ?? run.db;
    const impUser = tx?.impUser ?? run.impUser;
    const cacheKey = servable && info.caches ? listener.cacheKey(this.version, run, db, impUser, this.identity()) : undefined;
    const result: ResultRef = { run, servable, auto, info, cacheKey, capture: undefined };
    this.lastResult = result;
    if (tx !== undefined) {
      if (tx.local || tx.lost) {
        this.localResults = true;
        const qid = tx.qid++;
        const reason = tx.reason;
        return this.local(Sig.RUN, () =>
          tx.lost ? this.localFailure(FAIL_CODES.transient, 'breakwater: the connection to neo4j was lost during the transaction') : this.serveRun(result, reason, undefined, qid),
        );
      }
      this.localResults = false;
      if (cacheKey !== undefined && listener.wantsResult(cacheKey)) result.capture = newCapture(cacheKey);
      return void this.upstream(Sig.RUN, raw, Kind.Run, tx.unit, result);
    }
    if (this.upFailed && this.up !== undefined) {
      // Neo4j ignores everything until RESET: no permit for a call it will not make.
      this.localResults = false;
      return void this.upstream(Sig.RUN, raw, Kind.Run, undefined, result);
    }
    const permit = listener.dep.admit();
    if (typeof permit !== 'number') {
      this.localResults = true;
      return this.local(Sig.RUN, () => this.serveRun(result, permit, undefined, undefined));
    }
    this.localResults = false;
    if (cacheKey !== undefined && listener.wantsResult(cacheKey)) result.capture = newCapture(cacheKey);
    // A result left open (PULL n without reading to the end) ends when the next RUN is answered.
    const previous = this.autoUnit;
    const unit = this.openUnit(permit);
    this.autoUnit = unit;
    if (this.up === undefined) this.reconnect();
    const e = this.upstream(Sig.RUN, raw, Kind.Run, unit, result);
    if (previous !== undefined && previous.open) e.ends = [previous];
  }

  private openUnit(token: number): Unit {
    const unit: Unit = { token, waited: 0, open: true };
    this.openUnits.add(unit);
    this.listener.dep.inFlight++;
    return unit;
  }

  /** Who the cache key is for: the user's name, or for a login without one (a token) a digest of it. */
  private identity(): string {
    return this.principal ?? (this.digest !== undefined ? `digest:${this.digest}` : '');
  }

  private onBegin(raw: Buffer): void {
    const meta = firstMap(payloadOf(raw));
    const read = meta.mode === 'r';
    const db = typeof meta.db === 'string' ? meta.db : undefined;
    const impUser = typeof meta.imp_user === 'string' ? meta.imp_user : undefined;
    this.localResults = false;
    const open = this.tx;
    if (open !== undefined) {
      // BEGIN inside a transaction: the server refuses it; it belongs to the open one.
      if (open.local || open.lost || this.up === undefined) return this.local(Sig.BEGIN, () => this.localFailure('Neo.ClientError.Request.Invalid', 'breakwater: BEGIN inside an open transaction'));
      this.upstream(Sig.BEGIN, raw, Kind.Plain, open.unit, undefined);
      return;
    }
    if (this.upFailed && this.up !== undefined) {
      this.tx = { local: false, unit: undefined, read, lost: false, qid: 0, reason: 'failed', db, impUser };
      this.upstream(Sig.BEGIN, raw, Kind.Plain, undefined, undefined);
      return;
    }
    const permit = this.listener.dep.admit();
    if (typeof permit !== 'number') {
      // A transaction breakwater answers: reads in it may be served, everything else fails.
      this.tx = { local: true, unit: undefined, read, lost: false, qid: 0, reason: permit, db, impUser };
      return this.local(Sig.BEGIN, () => (this.localFailed ? IGNORED : success()));
    }
    const unit = this.openUnit(permit);
    this.tx = { local: false, unit, read, lost: false, qid: 0, reason: 'failed', db, impUser };
    if (this.up === undefined) this.reconnect();
    this.upstream(Sig.BEGIN, raw, Kind.Plain, unit, undefined);
  }

  private upstream(sig: number, raw: Buffer, kind: Kind, unit: Unit | undefined, result: ResultRef | undefined): Entry {
    const e: Entry = { sig, kind, up: true, lookup: false, produce: undefined, unit, result, answered: false, since: this.clock, want: -1, digest: undefined, ends: undefined };
    this.push(e);
    this.forward(raw);
    return e;
  }

  private local(sig: number, produce: () => Buffer | Promise<Buffer>): void {
    this.push({ sig, kind: Kind.Plain, up: false, lookup: false, produce, unit: undefined, result: undefined, answered: false, since: this.clock, want: -1, digest: undefined, ends: undefined });
  }

  private push(e: Entry): void {
    if (this.pending === 0) this.headSince = this.clock;
    this.queue.push(e);
  }

  private outboxBytes = 0;
  /** The client read being scanned, and the run of it [reqStart, reqEnd) that goes to Neo4j as one write. */
  private reqBuf: Buffer | undefined;
  private reqStart = 0;
  private reqEnd = 0;

  private forward(raw: Buffer): void {
    const up = this.up;
    if (!this.upReady || up === undefined) {
      this.outbox.push(Buffer.from(raw));
      this.outboxBytes += raw.length;
      return;
    }
    // Requests that lie next to each other in the client's read (RUN then PULL) go in one write.
    const buf = this.reqBuf;
    if (buf !== undefined && raw.buffer === buf.buffer) {
      const start = raw.byteOffset - buf.byteOffset;
      if (start >= 0 && start + raw.length <= buf.length) {
        if (this.reqEnd > this.reqStart && start === this.reqEnd) {
          this.reqEnd += raw.length;
          return;
        }
        this.flushRequests();
        this.reqStart = start;
        this.reqEnd = start + raw.length;
        return;
      }
    }
    this.flushRequests();
    up.write(raw);
  }

  private flushRequests(): void {
    if (this.reqEnd > this.reqStart && this.reqBuf !== undefined && this.upReady && this.up !== undefined) {
      this.up.write(this.reqStart === 0 && this.reqEnd === this.reqBuf.length ? this.reqBuf : this.reqBuf.subarray(this.reqStart, this.reqEnd));
    }
    this.reqStart = 0;
    this.reqEnd = 0;
  }

  // --- answers breakwater gives ---

  private localFailure(code: string, message: string): Buffer {
    if (this.localFailed) return IGNORED;
    this.localFailed = true;
    return failure(this.version, code, message);
  }

  private localReset(): Buffer {
    this.localFailed = false;
    this.localResult = undefined;
    return success();
  }

  private localLogin(sig: number, digest: string | undefined): Buffer {
    if (this.localFailed) return IGNORED;
    // Credentials Neo4j has not accepted since breakwater started are let in, but never shown
    // cached results (which another user's login produced): only empty results and failures.
    this.unverified = digest !== undefined && !this.listener.verified.has(digest);
    if (sig === Sig.LOGON) return success();
    return success({ server: this.listener.serverAgent, connection_id: this.connectionId, hints: Object.create(null) });
  }

  /** A RUN breakwater answers through the fallback chain. */
  private serveRun(result: ResultRef, reason: FallbackReason, error: string | undefined, qid: number | undefined): Buffer | Promise<Buffer> {
    if (this.localFailed) return IGNORED;
    const listener = this.listener;
    const run = result.run;
    const ctx: BoltFallback = {
      dep: listener.dep,
      reason,
      error,
      query: run.query,
      readQuery: result.info.readQuery,
      servable: result.servable,
      cacheKey: this.unverified ? undefined : result.cacheKey,
      fields: () => result.info.fields ?? returnFields(run.query),
      answer: undefined,
    };
    const served = listener.chain.serve(ctx);
    const finish = (): Buffer => this.answerRun(ctx.answer, run, qid);
    return typeof served === 'string' ? finish() : served.then(finish, () => this.answerRun(undefined, run, qid));
  }

  private answerRun(answer: LocalAnswer | undefined, run: RunRequest, qid: number | undefined): Buffer {
    if (answer === undefined || answer.kind === 'failure') {
      this.localResult = undefined;
      return this.localFailure(answer?.code ?? FAIL_CODES.transient, answer?.message ?? 'breakwater: no fallback answered');
    }
    const records = answer.records ?? Buffer.alloc(0);
    this.localResult = { records, ends: recordEnds(records), next: 0, db: this.tx === undefined ? run.db : undefined };
    return runSuccess(answer.fields, qid);
  }

  private localPull(sig: number, want: number): Buffer {
    if (this.localFailed) return IGNORED;
    const r = this.localResult;
    if (r === undefined) return this.localFailure('Neo.ClientError.Request.Invalid', `breakwater: ${requestName(sig)} without a result to read`);
    if (sig === Sig.DISCARD) {
      this.localResult = undefined;
      return resultEnd(r.db);
    }
    const from = r.next === 0 ? 0 : r.ends[r.next - 1]!;
    const last = want < 0 ? r.ends.length : Math.min(r.ends.length, r.next + want);
    const to = last === 0 ? 0 : r.ends[last - 1]!;
    r.next = last;
    const more = last < r.ends.length;
    if (!more) this.localResult = undefined;
    const tail = more ? HAS_MORE : resultEnd(r.db);
    return to > from ? Buffer.concat([r.records.subarray(from, to), tail]) : tail;
  }

  // --- responses ---

  /** Neo4j's bytes not yet processed because a fallback lookup holds the head. */
  private stash: Buffer | undefined;

  private headBlocked(): boolean {
    const e = this.queue[this.head];
    return e !== undefined && !e.up;
  }

  private onUpstreamData(chunk: Buffer): void {
    this.clock = performance.now();
    if (this.closed) return;
    if (this.stash !== undefined || this.headBlocked()) {
      // Answers for entries behind a local one wait until it is written: order is the protocol.
      this.stash = this.stash === undefined ? chunk : Buffer.concat([this.stash, chunk]);
      this.holdUpstream();
      return;
    }
    this.runBuf = chunk;
    this.runStart = 0;
    this.lastEnd = 0;
    let consumed = chunk.length;
    // No cork: most reads end in one write of the whole read; cork would turn it into a writev.
    try {
      consumed = this.responses.push(chunk);
      this.flushRun(this.lastEnd);
    } catch (err) {
      this.runBuf = undefined;
      if (err instanceof BoltFramingError || err instanceof PackStreamError) this.listener.dep.metrics.badRequest('malformed_upstream');
      // A login Neo4j refused is the caller's problem, not Neo4j's failure.
      this.upstreamLost((err as Error).message, err instanceof LoginRefused ? 'ignored' : 'failure');
      return;
    }
    this.runBuf = undefined;
    if (consumed < chunk.length) {
      this.stash = chunk.subarray(consumed);
      this.holdUpstream();
    } else if (this.client.writableLength > HIGH_WATER && this.up !== undefined) {
      this.up.pause();
      this.upPaused = true;
    }
    // Every answer is in: a connection that is to end (a refused login, GOODBYE, half-close) ends now.
    if (this.pending === 0) this.onIdle();
  }

  /** End of the last whole message in the read being scanned. */
  private lastEnd = 0;

  private flushRun(to: number): void {
    const buf = this.runBuf;
    if (buf !== undefined && to > this.runStart) this.client.write(this.runStart === 0 && to === buf.length ? buf : buf.subarray(this.runStart, to));
    if (to > this.runStart) this.runStart = to;
  }

  /** Drops a message from what is forwarded (pieces from earlier reads were held back already). */
  private skip(start: number, end: number): void {
    this.flushRun(start);
    this.runStart = end;
  }

  private onResponse(sig: number, buf: Buffer, start: number, end: number, parts: Buffer[] | undefined): boolean {
    this.lastEnd = end;
    if (sig === NOOP) {
      if (parts !== undefined) this.skip(start, end);
      return true;
    }
    if (this.replaying > 0) {
      // The answer to a replayed login: Neo4j's business with breakwater, not the client's.
      this.skip(start, end);
      if (isSummary(sig)) {
        this.replaying--;
        if (sig === Sig.SUCCESS && this.replaying === 0 && this.digest !== undefined) {
          this.listener.verified.add(this.digest);
          this.unverified = false;
        }
        if (sig !== Sig.SUCCESS) {
          const info = sig === Sig.FAILURE ? failureInfo(payloadOf(rawOf(buf, start, end, parts))) : { code: 'IGNORED', message: '' };
          // The login this connection made while Neo4j was away is not good: it ends here, and
          // the driver's next connection hears Neo4j's own answer.
          this.quitting = true;
          throw new LoginRefused(`neo4j refused the login made while it was unavailable: ${info.code} ${info.message}`);
        }
      }
      return true;
    }
    const e = this.queue[this.head];
    if (e === undefined || !e.up) throw new Error(`neo4j sent a ${sig === Sig.RECORD ? 'RECORD' : `message 0x${sig.toString(16)}`} nobody asked for`);
    this.headSince = this.clock;
    if (sig === Sig.RECORD) {
      e.answered = true;
      const cap = e.result?.capture;
      if (cap !== undefined) this.captureRecord(cap, e.result!, rawOf(buf, start, end, parts));
      this.emitHeld(parts);
      return true;
    }
    if (!isSummary(sig)) throw new Error(`neo4j sent message 0x${sig.toString(16)} where a response was due`);
    this.answered(e, sig, buf, start, end, parts);
    if (this.head < this.queue.length && !this.queue[this.head]!.up) {
      this.flushRun(end);
      this.drainLocal();
      // A lookup still holds the head: stop here, the rest of the read waits for it.
      if (this.headBlocked()) return false;
    }
    return true;
  }

  /** Pieces of a forwarded message from earlier reads (the run covers the rest of it). */
  private emitHeld(parts: Buffer[] | undefined): void {
    if (parts === undefined) return;
    for (const p of parts) this.client.write(p);
  }

  /** The summary that ends e's answer. */
  private answered(e: Entry, sig: number, buf: Buffer, start: number, end: number, parts: Buffer[] | undefined): void {
    const unit = e.unit;
    if (unit !== undefined) unit.waited += this.clock - Math.max(e.since, this.headSince);
    this.head++;
    let ends = false;
    let outcome: Outcome = 'success';
    let error = '';
    let payload: Buffer | undefined;
    const body = (): Buffer => (payload ??= payloadOf(rawOf(buf, start, end, parts)));
    let forward = true;
    if (sig === Sig.FAILURE) {
      const info = failureInfo(body());
      this.upFailed = true;
      ends = true;
      outcome = classifyCode(info.code);
      error = `${info.code}: ${info.message}`;
      if (e.result !== undefined) e.result.capture = undefined;
      if (e.kind === Kind.Hello || e.kind === Kind.Logon) this.quitting = true;
    } else if (sig === Sig.IGNORED) {
      ends = true;
      outcome = 'ignored';
    } else {
      switch (e.kind) {
        case Kind.Run:
          if (e.result !== undefined && (e.result.capture !== undefined || (e.result.info.covered && e.result.info.fields === undefined))) this.runFields(e.result, body());
          break;
        case Kind.Pull: {
          const more = hasMore(body());
          ends = e.result?.auto === true && !more;
          const cap = e.result?.capture;
          if (!more && cap !== undefined) {
            e.result!.capture = undefined;
            this.storeCapture(cap);
          }
          if (e.sig === Sig.DISCARD && e.result !== undefined) e.result.capture = undefined;
          break;
        }
        case Kind.EndsTx:
          ends = true;
          break;
        case Kind.Reset:
          this.upFailed = false;
          this.localFailed = false;
          this.localResult = undefined;
          break;
        case Kind.Hello:
        case Kind.Logon:
          this.loggedIn(e, body());
          break;
        case Kind.Route: {
          this.listener.rememberRoute(this.principal, body());
          const rewritten = rewriteRoute(body(), this.listener.advertised);
          if (rewritten !== undefined) {
            forward = false;
            this.skip(start, end);
            this.client.write(rewritten);
          }
          break;
        }
      }
    }
    if (forward) this.emitHeld(parts);
    if (ends && unit !== undefined && unit.open) this.endUnit(unit, outcome, error);
    if (e.ends !== undefined) for (const u of e.ends) if (u.open) this.endUnit(u, 'ignored', '');
    this.headSince = this.clock;
  }

  private endUnit(unit: Unit, outcome: Outcome, error: string): void {
    unit.open = false;
    this.openUnits.delete(unit);
    const dep = this.listener.dep;
    dep.inFlight--;
    if (outcome === 'success') dep.success(unit.token, unit.waited);
    else if (outcome === 'failure') dep.failure(unit.token, unit.waited, error);
    else dep.ignored(unit.token, unit.waited);
    if (this.autoUnit === unit) this.autoUnit = undefined;
  }

  private runFields(result: ResultRef, payload: Buffer): void {
    const fields = firstMap(payload).fields;
    if (!Array.isArray(fields) || !fields.every((f) => typeof f === 'string')) return;
    const names = fields as string[];
    result.info.fields = names;
    if (result.capture !== undefined) result.capture.fields = names;
  }

  private captureRecord(cap: Capture, result: ResultRef, raw: Buffer): void {
    cap.bytes += raw.length;
    if (cap.bytes > this.listener.cacheMaxBytes) {
      result.capture = undefined;
      this.listener.cacheTooLarge();
      return;
    }
    // A view of the read (copied when the result is stored): the read buffer is not reused.
    this.readHeld = true;
    cap.records.push(raw);
  }

  private storeCapture(cap: Capture): void {
    if (cap.fields === undefined) return;
    this.listener.store(cap.key, cap.fields, Buffer.concat(cap.records, cap.bytes));
  }

  private loggedIn(e: Entry, payload: Buffer): void {
    const meta = firstMap(payload);
    if (e.kind === Kind.Hello && typeof meta.server === 'string') this.listener.serverAgent = meta.server;
    // Only the credentials this very message carried are verified (a HELLO's SUCCESS says nothing of a LOGON sent after it).
    if (e.digest !== undefined) {
      this.listener.verified.add(e.digest);
      if (e.digest === this.digest) this.unverified = false;
    }
  }

  /** Writes the answers of local entries at the head, in order; stops at one that waits for Neo4j or a fallback lookup. */
  private drainLocal(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.head < this.queue.length) {
        const e = this.queue[this.head]!;
        if (e.up || e.lookup) break;
        // A client that does not read its answers gets no more of them until it does.
        if (this.client.writableLength > HIGH_WATER) {
          this.pausedForClient = true;
          this.client.pause();
          break;
        }
        const answer = e.produce!();
        if (answer instanceof Promise) {
          e.lookup = true;
          void answer.then(
            (bytes) => this.settled(e, bytes),
            () => this.settled(e, this.localFailure(FAIL_CODES.transient, 'breakwater: the fallback failed')),
          );
          break;
        }
        this.head++;
        this.headSince = this.clock;
        if (!this.closed) this.client.write(answer);
      }
    } finally {
      this.draining = false;
    }
    this.compact();
    if (this.pending === 0) this.onIdle();
  }

  private settled(e: Entry, bytes: Buffer): void {
    e.lookup = false;
    e.produce = () => bytes;
    if (this.closed) return;
    this.resumeAnswers();
  }

  /** Answers breakwater owes, then Neo4j's answers held behind them. */
  private resumeAnswers(): void {
    this.drainLocal();
    const stash = this.stash;
    if (stash !== undefined && !this.headBlocked()) {
      this.stash = undefined;
      this.upHeld = false;
      if (!this.upPaused) this.up?.resume();
      this.onUpstreamData(stash);
    }
  }

  /** Stops reading Neo4j while a lookup holds the answer order. */
  private holdUpstream(): void {
    this.upHeld = true;
    this.up?.pause();
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private onIdle(): void {
    if (this.refusing !== undefined) {
      this.client.end(failure(this.version, 'Neo.ClientError.Request.Invalid', this.refusing));
      this.destroyUpstream();
      this.closed = true;
      return;
    }
    if (this.quitting) this.close();
  }

  // --- faults ---

  /** Neo4j failed the calls in flight (timeout, connection lost): record them, and answer in its place. */
  upstreamLost(why: string, outcome: 'failure' | 'ignored' = 'failure'): void {
    this.destroyUpstream();
    for (const unit of [...this.openUnits]) this.endUnit(unit, outcome, why);
    // Nobody is left to answer (the client closed first).
    if (this.closed) return;
    if (this.phase !== Phase.Messages) {
      // Lost during a handshake breakwater passes through: it answers the handshake itself.
      if (this.phase === Phase.UpstreamHandshake) this.localHandshake();
      return;
    }
    // In Neo4j's place: an auto-commit RUN not answered yet goes to the fallback chain (with its
    // PULLs); the first other request gets a FAILURE, and the rest IGNORED until a RESET, which
    // is answered as Neo4j would (it is never ignored).
    let failedYet = false;
    let served: ResultRef | undefined;
    for (let i = this.head; i < this.queue.length; i++) {
      const e = this.queue[i]!;
      if (!e.up) continue;
      e.up = false;
      const result = e.result;
      if (e.kind === Kind.Reset) {
        failedYet = false;
        served = undefined;
        e.produce = () => this.localReset();
      } else if (!failedYet && e.kind === Kind.Run && result?.auto === true && !e.answered) {
        served = result;
        result.capture = undefined;
        e.produce = () => this.serveRun(result, 'failed', why, undefined);
      } else if (e.kind === Kind.Pull && served !== undefined && result === served && !e.answered) {
        const want = e.want;
        e.produce = () => this.localPull(e.sig, want);
      } else {
        failedYet = true;
        e.produce = () => this.localFailure(FAIL_CODES.transient, `breakwater: ${why}`);
      }
    }
    if (served !== undefined && served === this.lastResult) this.localResults = true;
    if (this.tx !== undefined && !this.tx.local) this.tx.lost = true;
    this.stash = undefined;
    this.drainLocal();
  }

  /** Neo4j closed the connection. Idle: the next call reconnects. Busy: the calls in flight failed. */
  private upstreamClosed(): void {
    const busy = this.queue.slice(this.head).some((e) => e.up) || this.replaying > 0 || (this.tx !== undefined && !this.tx.local);
    if (busy) {
      this.upstreamLost('neo4j closed the connection');
      return;
    }
    this.destroyUpstream();
    if (this.quitting && this.pending === 0) this.close();
  }

  private destroyUpstream(): void {
    const up = this.up;
    this.up = undefined;
    this.upReady = false;
    this.outbox = [];
    this.replaying = 0;
    this.upFailed = false;
    this.upPaused = false;
    this.upHeld = false;
    this.outboxBytes = 0;
    this.responses.reset();
    up?.destroy();
    // Requests held back for the old connection may flow again (to the next one, or to breakwater).
    this.upDrained();
  }

  private badInput(reason: string, message: string): void {
    this.listener.dep.metrics.badRequest(reason);
    this.listener.log.warn({ reason, client: this.client.remoteAddress }, `bolt client sent bad input: ${message}`);
    if (this.phase !== Phase.Messages) {
      // Before the handshake is done there is no message to answer with: close, as Neo4j does.
      this.close();
      return;
    }
    this.refusing = `breakwater: ${message}`;
    this.client.pause();
    if (this.pending === 0) this.onIdle();
  }

  private resumeClient(): void {
    if (!this.closed && this.refusing === undefined && !this.pausedForUp && !this.pausedForClient) this.client.resume();
  }

  private quitAfterAnswers(): void {
    this.quitting = true;
    if (this.pending === 0) this.close();
  }

  private onClientClose(): void {
    if (this.closed && this.up === undefined) {
      this.listener.sessionClosed(this);
      return;
    }
    this.closed = true;
    clearTimeout(this.handshakeTimer);
    // The client left: what Neo4j was doing for it is nobody's failure.
    for (const unit of [...this.openUnits]) this.endUnit(unit, 'ignored', '');
    this.destroyUpstream();
    this.listener.sessionClosed(this);
  }

  closeIfIdle(): void {
    if (this.pending === 0 && this.tx === undefined) this.close();
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      this.client.end();
    }
    clearTimeout(this.handshakeTimer);
    for (const unit of [...this.openUnits]) this.endUnit(unit, 'ignored', '');
    this.destroyUpstream();
  }

  destroy(): void {
    this.close();
    this.client.destroy();
  }
}

/** Neo4j refused a login breakwater replayed for a connection it had let in while Neo4j was away. */
class LoginRefused extends Error {}

function newCapture(key: string): Capture {
  return { key, fields: undefined, records: [], bytes: 0 };
}

/** Where each chunked RECORD message in a stored result ends. */
function recordEnds(records: Buffer): number[] {
  const ends: number[] = [];
  let p = 0;
  while (p + 1 < records.length) {
    const size = (records[p]! << 8) | records[p + 1]!;
    p += 2 + size;
    if (size === 0) ends.push(p);
  }
  return ends;
}

const HAS_MORE_KEY = Buffer.from('has_more', 'latin1');

/** Whether a PULL/DISCARD SUCCESS says more records remain (`has_more: true`). */
function hasMore(payload: Buffer): boolean {
  if (payload.indexOf(HAS_MORE_KEY) < 0) return false;
  const meta = firstMap(payload);
  return isMap(meta) && meta.has_more === true;
}

