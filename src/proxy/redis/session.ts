// One client connection and its own upstream connection (so AUTH, SELECT, CLIENT SETNAME and
// WATCH/MULTI/EXEC state stay the client's). Commands are scanned for their boundaries and name,
// asked of the breaker one by one, and forwarded as the bytes they came in, a whole chunk per
// write; replies are scanned for their ends and written back a whole chunk per write. Commands
// the breaker refuses, or that Redis failed, are answered by the fallback chain in their place
// in the reply order.
import { connect, type Socket } from 'node:net';
import { REJECTED } from '../../breaker/breaker.js';
import type { FallbackReason } from '../../fallback/chain.js';
import { errorText, isTroubleError } from './classify.js';
import { commandInfoFromBytes, UNKNOWN_COMMAND, type CommandInfo } from './commands.js';
import { failMessage, type RedisFallback } from './fallbacks.js';
import { MAX_CAPTURED_ARGS, ReplyScanner, RequestScanner, RespError } from './framing.js';
import type { RedisListener } from './listener.js';
import { EXECABORT, errorReply, type Proto } from './replies.js';

const enum Flag {
  /** Answered by breakwater: `local` is written when the entry reaches the head. */
  Local = 1,
  /** A setup command replayed on a new upstream connection: its reply is not the client's. */
  Replay = 2,
  Blocking = 4,
  /** SUBSCRIBE, MONITOR, CLIENT REPLY: after its reply the connection is a plain pipe. */
  Passthrough = 8,
  /** EXEC sent as DISCARD: the reply is replaced by `local`. */
  Replace = 16,
  /** HELLO: a success switches the protocol to `proto`. */
  Hello = 32,
  Multi = 64,
}

interface Pending {
  flags: number;
  info: CommandInfo;
  argc: number;
  /** Breaker permit; -1 when none was taken (replays, transaction clean-up). */
  token: number;
  start: number;
  local: Buffer | undefined;
  /** A copy of a setup command: kept to replay it on a new upstream connection. */
  bytes: Buffer | undefined;
  proto: Proto;
}

const RECORDED = new Set(['auth', 'select', 'hello', 'client setname', 'client setinfo']);
const DISCARD = Buffer.from('*1\r\n$7\r\nDISCARD\r\n');
const NULL_ARRAY: Record<Proto, Buffer> = { 2: Buffer.from('*-1\r\n'), 3: Buffer.from('_\r\n') };
const OK = Buffer.from('+OK\r\n');

/** An error in Redis's own words, for the cases where breakwater answers exactly as Redis would. */
function redisError(text: string): Buffer {
  return Buffer.from(`-ERR ${text}\r\n`);
}

export class RedisSession {
  private upstream: Socket | undefined;
  private readonly queue: Pending[] = [];
  private head = 0;
  /** When the entry now at the head of the queue got there (for the request timeout). */
  headSince = 0;
  /** performance.now() read once per chunk of data, not once per command. */
  private clock = performance.now();
  private readonly requests: RequestScanner;
  private readonly replies = new ReplyScanner();
  /** Bytes of an incomplete command. */
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private need = 0;
  /** Bytes of a reply in progress that must not reach the client as they are. */
  private held: Buffer[] = [];
  private holding = false;
  proto: Proto = 2;
  private passthroughRequests = false;
  private passthroughReplies = false;
  private inMulti = false;
  private multiUpstream = false;
  private multiDirty = false;
  private watching = false;
  private watchLost = false;
  private quitting = false;
  /** After malformed input: nothing more is read from the client. */
  private refusing = false;
  private closed = false;
  /** Setup commands in effect, replayed on a new upstream connection. */
  private readonly setup = new Map<string, Buffer>();
  /** Start of the run of forwarded bytes in the chunk being scanned. */
  private runStart = 0;
  private runBuf: Buffer | undefined;

  constructor(
    readonly client: Socket,
    private readonly listener: RedisListener,
  ) {
    this.requests = new RequestScanner(listener.config.maxRequestBytes);
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    client.on('error', () => undefined);
    // The client shut down its side (the server allows half-open): answer what it sent, then close.
    client.on('end', () => this.quitAfterReplies());
    client.on('close', () => this.onClientClose());
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  // --- requests ---

  private onClientData(chunk: Buffer): void {
    this.clock = performance.now();
    if (this.closed || this.refusing) return;
    if (this.passthroughRequests) {
      this.writeUpstream(chunk);
      return;
    }
    let buf = chunk;
    if (this.carryBytes > 0) {
      this.carry.push(chunk);
      this.carryBytes += chunk.length;
      if (this.carryBytes < this.need) return;
      buf = Buffer.concat(this.carry, this.carryBytes);
      this.carry = [];
      this.carryBytes = 0;
    }
    const up = this.upstream;
    up?.cork();
    this.runBuf = buf;
    this.runStart = 0;
    let pos = 0;
    try {
      while (pos < buf.length) {
        if (this.passthroughRequests) {
          pos = buf.length;
          break;
        }
        const end = this.requests.next(buf, pos);
        if (end < 0) {
          this.flushRun(pos);
          const rest = buf.subarray(pos);
          this.carry.push(rest);
          this.carryBytes = rest.length;
          this.need = this.requests.needAtLeast;
          return; // finally uncorks
        }
        if (this.requests.argc > 0) this.command(buf, pos, end);
        pos = end;
      }
      this.flushRun(pos);
    } catch (err) {
      if (!(err instanceof RespError)) throw err;
      this.flushRun(pos);
      this.protocolError(err);
    } finally {
      this.runBuf = undefined;
      if (this.upstream === up) up?.uncork();
    }
  }

  /** Sends the run of forwarded bytes that ends at `end`. */
  private flushRun(end: number): void {
    const buf = this.runBuf;
    if (buf === undefined || end <= this.runStart) return;
    this.writeUpstream(this.runStart === 0 && end === buf.length ? buf : buf.subarray(this.runStart, end));
    this.runStart = end;
  }

  /** The command buf[start..end) is not forwarded as it is: the run so far goes, it is skipped. */
  private skip(start: number, end: number): void {
    this.flushRun(start);
    this.runStart = end;
  }

  private command(buf: Buffer, start: number, end: number): void {
    const s = this.requests;
    const info = commandInfoFromBytes(buf, s.argStart[0]!, s.argEnd[0]!) ?? UNKNOWN_COMMAND;
    if (info.klass === 'transaction') return this.transaction(info, buf, start, end);
    if (this.inMulti && !this.multiUpstream) {
      // Redis never saw this MULTI: nothing may run, and EXEC will abort.
      // A queued command is answered with an error, as Redis does for one it cannot queue: a miss
      // here would read as a success of the transaction. The breaker's current reason is named.
      this.skip(start, end);
      this.multiDirty = true;
      const dep = this.listener.dep;
      dep.fallback('fail', dep.refusal());
      return this.pushLocal(info, this.requests.argc, errorReply(failMessage({ dep, reason: dep.refusal(), error: undefined })));
    }
    const dep = this.listener.dep;
    const blocking = info.blocking === 'always' || (info.blocking === 'with-block-arg' && this.hasArg(buf, BLOCK));
    // A blocking command would hold a half-open trial permit for as long as it waits (BLPOP 0:
    // for ever) while every other command is refused: it goes without one, and is no trial.
    const permitless = blocking && dep.breaker.state === 'half_open';
    const token = permitless ? -1 : dep.breaker.acquire();
    if (token === REJECTED && !permitless) {
      dep.rejected();
      this.skip(start, end);
      if (this.inMulti) this.multiDirty = true;
      return this.refused(info, buf, start, end, dep.refusal());
    }
    let flags = blocking ? Flag.Blocking : 0;
    let bytes: Buffer | undefined;
    let proto = this.proto;
    if (info.klass === 'setup' || info.klass === 'pubsub' || info.name === 'monitor' || info.name === 'reset') {
      const key = this.setupKey(info, buf);
      // Recorded ones are replayed; any short setup command is kept so that, should Redis fail
      // it, the fallback can answer it (PING → PONG, INFO) as it does while the breaker is open.
      if (RECORDED.has(key) || (info.klass === 'setup' && end - start <= 4096)) bytes = Buffer.from(buf.subarray(start, end));
      if (info.name === 'hello' && s.argc > 1) {
        flags |= Flag.Hello;
        proto = buf[s.argStart[1]!] === 51 /* 3 */ ? 3 : buf[s.argStart[1]!] === 50 ? 2 : this.proto;
      } else if (info.name === 'reset') {
        this.resetState();
      } else if (info.name === 'quit') {
        this.quitting = true;
      } else if (key === 'client reply' || info.name === 'monitor' || SUBSCRIBE_FAMILY.has(info.name)) {
        // UNSUBSCRIBE too: outside subscriber mode RESP2 still answers one reply per channel.
        flags |= Flag.Passthrough;
        this.passthroughRequests = true;
        // CLIENT REPLY OFF|SKIP gets no reply: the timeout must not wait for one (the next reply
        // Redis sends, after CLIENT REPLY ON or the skipped command, completes it).
        if (key === 'client reply' && !this.hasArg(buf, ON)) flags |= Flag.Blocking;
      }
    }
    this.send(this.entry(flags, info, s.argc, token, bytes, proto));
  }

  /** MULTI, EXEC, DISCARD, WATCH, UNWATCH: a transaction the breaker interrupts ends in -EXECABORT. */
  private transaction(info: CommandInfo, buf: Buffer, start: number, end: number): void {
    const dep = this.listener.dep;
    const argc = this.requests.argc;
    const localReply = (reply: Buffer): void => {
      this.skip(start, end);
      this.pushLocal(info, argc, reply);
    };
    const tryForward = (flags = 0): boolean => {
      const token = dep.breaker.acquire();
      if (token === REJECTED) {
        dep.rejected();
        return false;
      }
      this.send(this.entry(flags, info, argc, token, undefined, this.proto));
      return true;
    };
    switch (info.name) {
      case 'multi':
        if (this.inMulti) {
          // Redis answers this itself when it holds the transaction.
          if (!this.multiUpstream || !tryForward()) localReply(redisError('MULTI calls can not be nested'));
          return;
        }
        this.inMulti = true;
        this.multiDirty = false;
        this.multiUpstream = tryForward(Flag.Multi);
        if (!this.multiUpstream) localReply(OK);
        return;
      case 'exec':
      case 'discard': {
        if (!this.inMulti) {
          if (!tryForward()) localReply(redisError(`${info.name.toUpperCase()} without MULTI`));
          return;
        }
        const exec = info.name === 'exec';
        // A dirty transaction aborts; a clean one whose WATCH Redis never saw reports the watched
        // keys as changed (a null reply), so the client retries it.
        const dirty = this.multiDirty || !this.multiUpstream;
        const abort = exec && (dirty || this.watchLost);
        let answer = !exec ? OK : dirty || !this.watchLost ? EXECABORT : NULL_ARRAY[this.proto];
        const upstreamMulti = this.multiUpstream && this.upstream !== undefined;
        this.inMulti = false;
        this.multiUpstream = false;
        this.multiDirty = false;
        this.watching = false;
        this.watchLost = false;
        if (!upstreamMulti) return localReply(answer);
        if (!abort && tryForward()) return;
        // Redis holds a transaction that must not run: discard it there, answer here.
        this.skip(start, end);
        this.writeUpstream(DISCARD);
        if (exec && !abort) answer = EXECABORT; // the breaker refused the EXEC itself
        this.push(this.entry(Flag.Replace, info, argc, -1, undefined, this.proto, answer));
        return;
      }
      case 'watch':
        if (this.inMulti) return localReply(redisError('WATCH inside MULTI is not allowed'));
        if (tryForward()) {
          this.watching = true;
          return;
        }
        // Redis never saw the WATCH: the EXEC that follows reports the watched keys as changed.
        this.watchLost = true;
        return localReply(OK);
      default: // unwatch
        this.watching = false;
        this.watchLost = false;
        if (this.upstream !== undefined && tryForward()) return;
        return localReply(OK);
    }
  }

  private setupKey(info: CommandInfo, buf: Buffer): string {
    if (info.name !== 'client' || this.requests.argc < 2) return info.name;
    const s = this.requests;
    return `client ${buf.toString('latin1', s.argStart[1]!, s.argEnd[1]!).toLowerCase()}`;
  }

  private hasArg(buf: Buffer, word: Buffer): boolean {
    const s = this.requests;
    const n = Math.min(s.argc, MAX_CAPTURED_ARGS);
    for (let i = 1; i < n; i++) {
      const a = s.argStart[i]!;
      const b = s.argEnd[i]!;
      if (b - a === word.length && buf.toString('latin1', a, b).toUpperCase() === word.toString('latin1')) return true;
    }
    return false;
  }

  private entry(flags: number, info: CommandInfo, argc: number, token: number, bytes: Buffer | undefined, proto: Proto, local?: Buffer): Pending {
    return { flags, info, argc, token, start: this.clock, local, bytes, proto };
  }

  private push(e: Pending): void {
    if (this.pending === 0) this.headSince = e.start;
    this.queue.push(e);
  }

  /** Queues a forwarded command; the bytes stay in the current run (or are written by the caller). */
  private send(e: Pending): void {
    if (this.upstream === undefined) this.openUpstream();
    this.push(e);
  }

  /** An answer from breakwater, written now if nothing is ahead of it, else in its turn. */
  private pushLocal(info: CommandInfo, argc: number, reply: Buffer): void {
    this.listener.commandOutcome(info, 'fallback');
    if (this.pending === 0) {
      this.client.write(reply);
      return;
    }
    this.push(this.entry(Flag.Local, info, argc, -1, undefined, this.proto, reply));
  }

  /** A command the breaker refused: the fallback chain answers it in its place. */
  private refused(info: CommandInfo, buf: Buffer, start: number, end: number, reason: FallbackReason): void {
    const argc = this.requests.argc;
    const copy = info.klass === 'setup' ? Buffer.from(buf.subarray(start, end)) : undefined;
    this.fallback(info, argc, copy, reason, undefined, undefined);
  }

  private fallback(info: CommandInfo, argc: number, bytes: Buffer | undefined, reason: FallbackReason, error: string | undefined, upstreamError: Buffer | undefined): void {
    let answer: Buffer | undefined;
    let after: { proto?: Proto; close?: boolean } | undefined;
    const ctx: RedisFallback = {
      dep: this.listener.dep,
      info,
      argc,
      args: () => (bytes === undefined ? [] : argsOf(bytes)),
      proto: this.proto,
      reason,
      error,
      upstreamError,
      reply: (b, a) => {
        answer = b;
        after = a;
      },
    };
    const served = this.listener.chain.serve(ctx);
    if (typeof served !== 'string') throw new Error('redis fallback steps are synchronous');
    if (after?.proto !== undefined) this.proto = after.proto;
    if (bytes !== undefined && answer !== undefined && answer[0] !== 45 /* - */) {
      const key = info.name === 'client' ? `client ${argsOf(bytes)[1]?.toString('latin1').toLowerCase()}` : info.name;
      if (RECORDED.has(key)) this.setup.set(key, bytes);
      if (info.name === 'reset') this.resetState();
    }
    this.pushLocal(info, argc, answer ?? errorReply('no fallback answered'));
    if (after?.close) this.quitAfterReplies();
  }

  private resetState(): void {
    this.setup.clear();
    this.inMulti = this.multiUpstream = this.multiDirty = false;
    this.watching = this.watchLost = false;
    this.proto = 2;
  }

  private quitAfterReplies(): void {
    this.quitting = true;
    if (this.pending === 0) this.end();
  }

  // --- upstream ---

  private openUpstream(): void {
    const target = this.listener.nextTarget();
    const s = connect({ host: target.host, port: target.port, noDelay: true });
    this.upstream = s;
    this.replies.reset();
    this.held = [];
    this.holding = false;
    s.on('data', (chunk: Buffer) => {
      if (this.upstream === s) this.onUpstreamData(chunk);
    });
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (this.upstream === s) this.upstreamLost(`${target.label}: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' '));
    });
    s.on('close', () => {
      if (this.upstream === s) this.upstreamLost(`${target.label} closed the connection`);
    });
    // The connection state the client set up earlier (answered while Redis was away, or on a
    // connection that was lost) is restored first; those replies are not the client's.
    for (const bytes of this.setup.values()) {
      s.write(bytes);
      this.push(this.entry(Flag.Replay, UNKNOWN_COMMAND, 0, -1, bytes, this.proto));
    }
  }

  private writeUpstream(bytes: Buffer): void {
    const up = this.upstream;
    if (up === undefined) return;
    // write() is false on an ended or destroyed socket too (Redis closed it; 'close' is still
    // to come): no 'drain' would ever resume the client then.
    if (!up.write(bytes) && up.writable && !this.client.isPaused()) {
      this.client.pause();
      up.once('drain', () => this.client.resume());
    }
  }

  private onUpstreamData(chunk: Buffer): void {
    this.clock = performance.now();
    if (this.passthroughReplies) {
      this.writeClient(chunk);
      return;
    }
    const client = this.client;
    client.cork();
    let out = 0;
    let p = 0;
    try {
      while (p < chunk.length) {
        const end = this.replies.scan(chunk, p);
        if (end < 0) {
          const r = this.replies;
          if (r.inProgress && (this.holding || this.mustHold(r.type))) {
            const from = r.start >= 0 ? r.start : 0;
            if (from > out) this.writeClient(chunk.subarray(out, from));
            this.held.push(from === 0 ? chunk : chunk.subarray(from));
            this.holding = true;
            out = chunk.length;
          }
          break;
        }
        const replyStart = this.replies.start;
        p = end;
        // A push does not consume a pending command, except that in RESP3 (UN)SUBSCRIBE is answered by one.
        if (this.replies.type === 62 /* > push */ && !this.pushAnswersHead()) continue;
        const e = this.shift();
        if (e === undefined) {
          // Out of step with Redis: the replies accounted for go out, then the connection closes
          // (a client left waiting on an open connection would hang).
          if (replyStart > out) this.writeClient(chunk.subarray(out, replyStart));
          client.uncork();
          this.upstreamLost('Redis sent a reply no command was waiting for');
          return this.end();
        }
        out = this.replied(e, chunk, out, replyStart, end);
        if (this.passthroughReplies) {
          // The reply that switched the connection (unless replied() wrote it) and all after it.
          if (out < chunk.length) this.writeClient(chunk.subarray(out));
          out = chunk.length;
          break;
        }
        out = this.flushLocals(chunk, out, end);
      }
      if (out < chunk.length) this.writeClient(out === 0 ? chunk : chunk.subarray(out));
    } catch (err) {
      if (!(err instanceof RespError)) throw err;
      client.uncork();
      return this.upstreamLost(`Redis sent a malformed reply: ${err.message}`);
    }
    client.uncork();
    if (this.quitting && this.pending === 0) this.end();
  }

  /** RESP3 answers SUBSCRIBE and UNSUBSCRIBE (and their P/S forms) with pushes, not replies. */
  private pushAnswersHead(): boolean {
    const e = this.queue[this.head];
    return e !== undefined && SUBSCRIBE_FAMILY.has(e.info.name);
  }

  /** Replies that are not passed on as they stream: errors (maybe replaced) and internal ones. */
  private mustHold(type: number): boolean {
    const e = this.queue[this.head];
    return type === 45 || type === 33 || (e !== undefined && (e.flags & (Flag.Replay | Flag.Replace)) !== 0);
  }

  private shift(): Pending | undefined {
    if (this.head >= this.queue.length) return undefined;
    const e = this.queue[this.head++]!;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.headSince = this.clock;
    return e;
  }

  /**
   * Accounts for a complete reply chunk[replyStart..end) (replyStart -1: it began in an earlier
   * chunk) to entry e; returns the offset up to which chunk bytes are written or dropped.
   */
  private replied(e: Pending, chunk: Buffer, out: number, replyStart: number, end: number): number {
    const dep = this.listener.dep;
    const held = this.holding;
    let bytes: Buffer | undefined;
    let from = replyStart < 0 ? 0 : replyStart;
    if (held) {
      this.held.push(chunk.subarray(0, end));
      bytes = Buffer.concat(this.held);
      this.held = [];
      this.holding = false;
      from = 0;
    }
    const type = this.replies.type;
    const isError = type === 45 || type === 33;
    const reply = (): Buffer => bytes ?? chunk.subarray(from, end);
    const ms = this.clock - e.start;
    if (e.flags & Flag.Replay) {
      if (from > out) this.writeClient(chunk.subarray(out, from));
      if (isError) {
        const r = reply();
        const [name, sub] = argsOf(e.bytes!).map((a) => a.toString('latin1').toLowerCase());
        const key = `${name} ${sub}`;
        if (LABELS.has(key)) {
          // Connection labels only: a Redis without them (CLIENT SETINFO is 7.2+; breakwater
          // answered it while Redis was away) is no reason to drop the client.
          this.setup.delete(key);
          return end;
        }
        dep.log.warn({ error: errorText(r, 0, r.length) }, 'a setup command replayed on a new Redis connection failed; closing the client connection');
        this.end();
      }
      return end;
    }
    if (e.flags & Flag.Replace) {
      if (from > out) this.writeClient(chunk.subarray(out, from));
      this.writeClient(e.local!);
      this.listener.commandOutcome(e.info, 'fallback');
      return end;
    }
    if (isError) {
      const r = reply();
      if (isTroubleError(r, 0, r.length)) {
        if (e.token >= 0) dep.failure(e.token, ms, errorText(r, 0, r.length));
        this.listener.commandOutcome(e.info, 'failure');
        if (from > out) this.writeClient(chunk.subarray(out, from));
        this.fallbackInPlace(e, 'failed', errorText(r, 0, r.length), Buffer.from(r));
        return end;
      }
      if (e.token >= 0) dep.ignored(e.token, ms);
      this.listener.commandOutcome(e.info, 'ignored');
      if (e.flags & Flag.Multi) this.multiUpstream = this.inMulti = false;
    } else {
      if (e.token >= 0) {
        if (e.flags & Flag.Blocking) dep.untimedSuccess(e.token);
        else dep.success(e.token, ms);
      }
      this.listener.commandOutcome(e.info, 'success');
      if (e.flags & Flag.Hello) this.proto = e.proto;
      if (e.bytes !== undefined) {
        const key = this.setupKeyOf(e);
        if (RECORDED.has(key)) this.setup.set(key, e.bytes);
      }
      if (e.flags & Flag.Passthrough) this.passthroughReplies = true;
    }
    if (held) {
      // A held reply began in an earlier chunk: nothing of this chunk precedes it.
      this.writeClient(bytes!);
      return end;
    }
    return out;
  }

  private setupKeyOf(e: Pending): string {
    return e.info.name === 'client' ? `client ${argsOf(e.bytes!)[1]?.toString('latin1').toLowerCase()}` : e.info.name;
  }

  /** A forwarded command Redis failed: the fallback chain answers it now, in its place. */
  private fallbackInPlace(e: Pending, reason: FallbackReason, error: string, upstreamError: Buffer | undefined): void {
    // Entries behind it wait: the answer must be written before them.
    const rest = this.queue.splice(this.head);
    this.queue.length = 0;
    this.head = 0;
    this.fallback(e.info, e.argc, e.bytes, reason, error, upstreamError);
    for (const r of rest) this.queue.push(r);
  }

  /** Writes the answers of local entries now at the head, after the reply bytes up to `end`. */
  private flushLocals(chunk: Buffer, out: number, end: number): number {
    let e = this.queue[this.head];
    if (e === undefined || !(e.flags & Flag.Local)) return out;
    if (end > out) this.writeClient(chunk.subarray(out, end));
    while (e !== undefined && e.flags & Flag.Local) {
      this.shift();
      this.writeClient(e.local!);
      e = this.queue[this.head];
    }
    return end;
  }

  private writeClient(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const up = this.upstream;
    if (!this.client.write(bytes) && up !== undefined && !up.isPaused()) {
      up.pause();
      this.client.once('drain', () => {
        // The time the client did not read is not Redis's: the head's timeout starts again.
        this.headSince = performance.now();
        up.resume();
      });
    }
  }

  /** The upstream connection is gone (error, close, timeout): what was in flight is answered by the fallbacks. */
  upstreamLost(message: string): void {
    const up = this.upstream;
    if (up === undefined) return;
    // Part of a reply already went to the client (it was not held back).
    const midReply = this.replies.inProgress && !this.holding;
    this.upstream = undefined;
    up.destroy();
    this.replies.reset();
    this.held = [];
    this.holding = false;
    if (this.closed) return;
    // Paused for this upstream's backpressure: its 'drain' will not come now.
    if (!this.refusing && this.client.isPaused()) this.client.resume();
    if (midReply) {
      // Nothing may follow half a reply (a fallback after half a bulk string would be read as its
      // rest): the client must reconnect. The failures still count; their answers go nowhere.
      this.client.destroy();
      this.failPending(message);
      return;
    }
    if (this.passthroughReplies || this.passthroughRequests || this.quitting) {
      // Subscribers and monitors reconnect and subscribe again; nothing can be answered for them.
      this.failPending(message);
      this.end();
      return;
    }
    if (this.inMulti && this.multiUpstream) {
      this.multiUpstream = false;
      this.multiDirty = true;
    }
    if (this.watching) this.watchLost = true;
    this.failPending(message);
  }

  private failPending(message: string): void {
    const dep = this.listener.dep;
    const entries = this.queue.splice(this.head);
    this.queue.length = 0;
    this.head = 0;
    const now = performance.now();
    this.client.cork();
    for (const e of entries) {
      if (e.flags & Flag.Local) {
        this.pushLocalRaw(e);
        continue;
      }
      if (e.flags & Flag.Replay) continue;
      if (e.token >= 0) dep.failure(e.token, now - e.start, message);
      this.listener.commandOutcome(e.info, 'failure');
      if (e.flags & Flag.Replace) this.pushLocal(e.info, e.argc, e.local!);
      else if (!this.closed) this.fallback(e.info, e.argc, e.bytes, 'failed', message, undefined);
    }
    this.client.uncork();
  }

  private pushLocalRaw(e: Pending): void {
    if (this.pending === 0) this.client.write(e.local!);
    else this.push(e);
  }

  /** Called by the listener's sweep: the head command waited longer than the timeout. */
  timedOut(now: number, timeout: number): boolean {
    const e = this.queue[this.head];
    if (e === undefined || e.flags & (Flag.Blocking | Flag.Local) || this.passthroughReplies) return false;
    // Upstream paused because the client is not reading its replies: the wait is the client's.
    if (this.upstream?.isPaused() === true) return false;
    return now - Math.max(e.start, this.headSince) > timeout;
  }

  // --- the client side ends ---

  private protocolError(err: RespError): void {
    const dep = this.listener.dep;
    dep.metrics.badRequest(err.code === 'too_large' ? 'oversized_request' : 'malformed_resp');
    const reply = errorReply(err.code === 'too_large' ? err.message : `Protocol error: ${err.message}`);
    // Replies already owed come first; then the error, then the connection closes.
    this.refusing = true;
    this.client.pause();
    this.pushLocal(UNKNOWN_COMMAND, 0, reply);
    this.quitAfterReplies();
  }

  private end(): void {
    this.closed = true;
    this.client.end();
    this.upstream?.end();
  }

  private onClientClose(): void {
    const dep = this.listener.dep;
    const left = this.pending;
    const endedHere = this.closed;
    this.closed = true;
    for (let i = this.head; i < this.queue.length; i++) {
      const e = this.queue[i]!;
      if (e.token >= 0) dep.breaker.ignore(e.token);
    }
    this.queue.length = 0;
    this.head = 0;
    // A command cut off half-way, or replies still owed when the client (not breakwater) closed:
    // it left mid-request. (After QUIT or a half-close breakwater ends the connection itself.)
    if (this.carryBytes > 0 || (left > 0 && !endedHere)) dep.metrics.badRequest('client_disconnect');
    const up = this.upstream;
    this.upstream = undefined;
    up?.destroy();
    this.listener.sessionClosed(this);
  }

  /** Shutdown: close once nothing is owed to the client. */
  closeIfIdle(): void {
    if (this.pending === 0) this.end();
  }

  destroy(): void {
    this.client.destroy();
  }
}

const BLOCK = Buffer.from('BLOCK');
const ON = Buffer.from('ON');
/** Recorded setup that only labels the connection: a replay Redis refuses is dropped, not fatal. */
const LABELS = new Set(['client setname', 'client setinfo']);
const SUBSCRIBE_FAMILY = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe']);

/** The arguments of one complete command (a copy of its bytes), name first. */
export function argsOf(bytes: Buffer): Buffer[] {
  const scanner = new RequestScanner(Number.MAX_SAFE_INTEGER);
  const end = scanner.next(bytes, 0);
  if (end < 0) return [];
  const out: Buffer[] = [];
  if (scanner.argc <= MAX_CAPTURED_ARGS) {
    for (let i = 0; i < scanner.argc; i++) out.push(bytes.subarray(scanner.argStart[i]!, scanner.argEnd[i]!));
    return out;
  }
  // Long commands: walk the bulks (only setup commands get here, and they are short).
  let p = bytes.indexOf(10) + 1;
  while (p < end) {
    const nl = bytes.indexOf(10, p);
    const size = Number(bytes.toString('latin1', p + 1, nl - 1));
    out.push(bytes.subarray(nl + 1, nl + 1 + size));
    p = nl + 1 + size + 2;
  }
  return out;
}
