// A tiny raw Bolt client for tests: it speaks bytes to a real Neo4j or to breakwater's Bolt
// listener, so tests can see exactly what goes over the wire (chunk boundaries, NOOPs, the
// handshake form) where the neo4j driver would hide it. Not a mock of anything.
//
//   const w = await connectBolt(port);                 // 5.8..5.0 or 4.4, four plain proposals
//   const w = await connectBolt(port, { manifest: true }); // 5.7+ manifest handshake
//   w.hello().logon('neo4j', password).run('RETURN 1').pull(-1);   // pipelined
//   (hello() adds bolt_agent on 5.3+, which the server requires there)
//   await w.success(); ...; (await w.next()).signature === RECORD
//
// The helpers send at once (pipelining is normal Bolt) and return the client; message()
// builds a message without sending it, for send() with a small maxChunkSize or for sendRaw().
import net from 'node:net';
import { PackStreamError, packStruct, readStructHeader, readValue, type PackMap, type PackValue } from '../../src/proxy/bolt/packstream.js';

export const BOLT = {
  HELLO: 0x01,
  GOODBYE: 0x02,
  RESET: 0x0f,
  RUN: 0x10,
  BEGIN: 0x11,
  COMMIT: 0x12,
  ROLLBACK: 0x13,
  DISCARD: 0x2f,
  PULL: 0x3f,
  TELEMETRY: 0x54,
  ROUTE: 0x66,
  LOGON: 0x6a,
  LOGOFF: 0x6b,
  SUCCESS: 0x70,
  RECORD: 0x71,
  IGNORED: 0x7e,
  FAILURE: 0x7f,
} as const;

export const BOLT_PREAMBLE = Buffer.from('6060b017', 'hex');
/** 5.8 down to 5.0, 4.4, and two empty slots. */
export const PLAIN_PROPOSALS = Buffer.from('00080805' + '00000404' + '00000000' + '00000000', 'hex');
/** The manifest marker first (Bolt 5.7+ servers answer with their ranges), then plain fallbacks. */
export const MANIFEST_PROPOSALS = Buffer.from('000001ff' + '00080805' + '00020404' + '00000003', 'hex');
/** The newest version this client picks from a manifest (its helpers speak 4.4 and 5.x). */
const MAX_VERSION = { major: 5, minor: 8 };

export interface BoltVersion {
  major: number;
  minor: number;
}

export interface BoltMessage {
  signature: number;
  fields: PackValue[];
}

export interface ConnectBoltOptions {
  host?: string;
  /** The 16 bytes of proposals after the preamble; default PLAIN_PROPOSALS (MANIFEST_PROPOSALS with manifest). */
  proposals?: Buffer;
  /** Use the manifest handshake (MANIFEST_PROPOSALS unless proposals are given). */
  manifest?: boolean;
  /** Largest chunk send() writes (1..65535); smaller values force messages across chunks. */
  maxChunkSize?: number;
  /** For the handshake and as next()'s default wait; default 10 s. */
  timeoutMs?: number;
}

export interface BoltWire {
  /** The negotiated version. */
  readonly version: BoltVersion;
  /** Whether the server answered with a manifest; then its offered ranges and capabilities. */
  readonly manifest: { offered: BoltVersion[]; ranges: Buffer[]; capabilities: number } | undefined;
  readonly socket: net.Socket;
  maxChunkSize: number;
  /** Chunks each message (see maxChunkSize) and ends it with 00 00. */
  send(...messages: Buffer[]): BoltWire;
  /** Bytes as they are: no chunking. */
  sendRaw(bytes: Buffer): BoltWire;
  /** The next message from the server (NOOP chunks skipped); rejects on close, garbage or timeout. */
  next(timeoutMs?: number): Promise<BoltMessage>;
  /** The next message, which must be SUCCESS: its metadata; otherwise rejects saying what came. */
  success(timeoutMs?: number): Promise<PackMap>;
  /** Resolves when the socket has closed (never rejects). */
  readonly closed: Promise<void>;
  close(): void;
  hello(extra?: PackMap): BoltWire;
  logon(user: string, password: string): BoltWire;
  run(query: string, params?: PackMap, extra?: PackMap): BoltWire;
  pull(n: number): BoltWire;
  reset(): BoltWire;
  goodbye(): BoltWire;
}

function map(entries: Record<string, PackValue>): PackMap {
  return Object.assign(Object.create(null) as PackMap, entries);
}

/** One message's bytes, unchunked: message(BOLT.RUN, ['RETURN 1', {}, {}]). */
export function message(signature: number, fields: readonly PackValue[]): Buffer {
  return packStruct(signature, fields);
}

/** Splits messages into chunks of at most maxChunk bytes, each message ended by 00 00. */
export function chunk(messages: readonly Buffer[], maxChunk = 0xffff): Buffer {
  if (!(Number.isInteger(maxChunk) && maxChunk >= 1 && maxChunk <= 0xffff)) throw new RangeError(`maxChunkSize ${maxChunk} must be an integer 1..65535`);
  const parts: Buffer[] = [];
  for (const m of messages) {
    for (let at = 0; at < m.length; at += maxChunk) {
      const piece = m.subarray(at, Math.min(m.length, at + maxChunk));
      const head = Buffer.alloc(2);
      head.writeUInt16BE(piece.length);
      parts.push(head, piece);
    }
    parts.push(Buffer.alloc(2));
  }
  return Buffer.concat(parts);
}

export function describeMessage(m: BoltMessage): string {
  const name = Object.entries(BOLT).find(([, v]) => v === m.signature)?.[0] ?? `0x${m.signature.toString(16)}`;
  const meta = m.fields[0];
  const text = JSON.stringify(meta, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
  return `${name} ${text ?? ''}`.trim();
}

/** Reads an unsigned LEB128 varint at `at`; undefined while incomplete. */
function varint(buf: Buffer, at: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (at + i >= buf.length) return undefined;
    const b = buf[at + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, next: at + i + 1 };
  }
  throw new Error(`a handshake varint at offset ${at} is longer than 5 bytes: ${buf.toString('hex')}`);
}

/** The versions a 4-byte range [00][range][minor][major] stands for, newest first. */
function expand(range: Buffer): BoltVersion[] {
  const major = range[3]!;
  const minor = range[2]!;
  const out: BoltVersion[] = [];
  for (let m = minor; m >= Math.max(0, minor - range[1]!); m--) out.push({ major, minor: m });
  return out;
}

/** Connects, handshakes, and resolves a client ready for HELLO. */
export function connectBolt(port: number, opts: ConnectBoltOptions = {}): Promise<BoltWire> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const proposals = opts.proposals ?? (opts.manifest ? MANIFEST_PROPOSALS : PLAIN_PROPOSALS);
  if (proposals.length !== 16) return Promise.reject(new RangeError(`proposals must be 16 bytes (four 4-byte versions), got ${proposals.length}`));
  const socket = net.connect({ host: opts.host ?? '127.0.0.1', port });
  socket.setNoDelay(true);

  let pending: Buffer = Buffer.alloc(0);
  let handshaken = false;
  let parts: Buffer[] = []; // chunks of the message being received
  const inbox: BoltMessage[] = [];
  const waiters: { resolve: (m: BoltMessage) => void; reject: (e: Error) => void }[] = [];
  let failure: Error | undefined; // after close or garbage: every next() rejects with it
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));

  const fail = (err: Error): void => {
    if (failure) return;
    failure = err;
    for (const w of waiters.splice(0)) w.reject(err);
  };
  const deliver = (m: BoltMessage): void => {
    const w = waiters.shift();
    if (w) w.resolve(m);
    else inbox.push(m);
  };

  const dechunk = (): void => {
    let at = 0;
    while (pending.length - at >= 2) {
      const len = pending.readUInt16BE(at);
      if (len === 0) {
        at += 2;
        if (parts.length === 0) continue; // a NOOP between messages
        const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        parts = [];
        try {
          const head = readStructHeader(body, 0, body.length);
          const fields: PackValue[] = [];
          let p = head.next;
          for (let i = 0; i < head.size; i++) {
            const r = readValue(body, p, body.length, 1);
            fields.push(r.value);
            p = r.end;
          }
          if (p !== body.length) throw new PackStreamError(`${body.length - p} bytes after the message's ${head.size} fields`);
          deliver({ signature: head.signature, fields });
        } catch (err) {
          fail(new Error(`bad Bolt message from port ${port} (${(err as Error).message}): ${body.toString('hex').slice(0, 400)}`));
          socket.destroy();
          return;
        }
        continue;
      }
      if (pending.length - at < 2 + len) break;
      parts.push(pending.subarray(at + 2, at + 2 + len)); // socket buffers are never reused
      at += 2 + len;
    }
    pending = pending.subarray(at);
  };

  return new Promise<BoltWire>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no Bolt handshake answer from port ${port} within ${timeoutMs} ms (got ${pending.toString('hex')})`));
    }, timeoutMs);
    let manifestInfo: BoltWire['manifest'];

    const ready = (version: BoltVersion): void => {
      clearTimeout(timer);
      handshaken = true;
      resolve(makeClient(version));
    };

    // The handshake: 4 bytes, or the manifest (00 00 01 FF, count, ranges, capabilities).
    const handshake = (): void => {
      if (pending.length < 4) return;
      if (pending.readUInt32BE(0) === 0) {
        socket.destroy();
        clearTimeout(timer);
        reject(new Error(`the server on port ${port} accepted none of the proposed Bolt versions (${proposals.toString('hex')})`));
        return;
      }
      if (pending.readUInt32BE(0) !== 0x000001ff) {
        // a version answer is 00 00 <minor> <major>; "HTTP/1.1 ..." or TLS bytes are not
        if (pending[0] !== 0 || pending[1] !== 0) {
          socket.destroy();
          clearTimeout(timer);
          reject(new Error(`not a Bolt handshake answer from port ${port}: ${pending.subarray(0, 16).toString('hex')} (${JSON.stringify(pending.subarray(0, 16).toString('latin1'))})`));
          return;
        }
        const version = { major: pending[3]!, minor: pending[2]! };
        pending = pending.subarray(4);
        ready(version);
        return;
      }
      const count = varint(pending, 4);
      if (!count) return;
      let at = count.next;
      if (pending.length < at + 4 * count.value) return;
      const ranges: Buffer[] = [];
      for (let i = 0; i < count.value; i++, at += 4) ranges.push(Buffer.from(pending.subarray(at, at + 4)));
      const caps = varint(pending, at);
      if (!caps) return;
      pending = pending.subarray(caps.next);
      const offered = ranges.flatMap(expand);
      const usable = offered
        .filter((v) => v.major < MAX_VERSION.major || (v.major === MAX_VERSION.major && v.minor <= MAX_VERSION.minor))
        .sort((a, b) => b.major - a.major || b.minor - a.minor);
      const choice = usable[0];
      if (!choice) {
        socket.destroy();
        clearTimeout(timer);
        reject(new Error(`the server's manifest offers no version this client speaks (<= ${MAX_VERSION.major}.${MAX_VERSION.minor}): ${ranges.map((r) => r.toString('hex')).join(' ')}`));
        return;
      }
      manifestInfo = { offered, ranges, capabilities: caps.value };
      // our choice as [00][00][minor][major], then our capabilities: none
      socket.write(Buffer.from([0, 0, choice.minor, choice.major, 0]));
      ready(choice);
    };

    const makeClient = (version: BoltVersion): BoltWire => {
      const client: BoltWire = {
        version,
        manifest: manifestInfo,
        socket,
        maxChunkSize: opts.maxChunkSize ?? 0xffff,
        closed,
        send(...messages) {
          socket.write(chunk(messages, client.maxChunkSize));
          return client;
        },
        sendRaw(bytes) {
          socket.write(bytes);
          return client;
        },
        next(wait = timeoutMs) {
          const queued = inbox.shift();
          if (queued) return Promise.resolve(queued);
          if (failure) return Promise.reject(failure);
          return new Promise<BoltMessage>((res, rej) => {
            const w = {
              resolve: (m: BoltMessage) => {
                clearTimeout(t);
                res(m);
              },
              reject: (e: Error) => {
                clearTimeout(t);
                rej(e);
              },
            };
            const t = setTimeout(() => {
              waiters.splice(waiters.indexOf(w), 1);
              rej(new Error(`no Bolt message from port ${port} within ${wait} ms`));
            }, wait);
            waiters.push(w);
          });
        },
        async success(wait) {
          const m = await client.next(wait);
          if (m.signature !== BOLT.SUCCESS) throw new Error(`expected SUCCESS, got ${describeMessage(m)}`);
          return (m.fields[0] ?? map({})) as PackMap;
        },
        close() {
          socket.destroy();
        },
        hello(extra = {}) {
          // Bolt 5.3+ servers refuse a HELLO without bolt_agent (Neo.ClientError.Request.Invalid)
          const meta = map({ user_agent: 'breakwater-test/1' });
          if (version.major > 5 || (version.major === 5 && version.minor >= 3)) meta.bolt_agent = map({ product: 'breakwater-test/1' });
          return client.send(message(BOLT.HELLO, [Object.assign(meta, extra)]));
        },
        logon(user, password) {
          return client.send(message(BOLT.LOGON, [map({ scheme: 'basic', principal: user, credentials: password })]));
        },
        run(query, params = {}, extra = {}) {
          return client.send(message(BOLT.RUN, [query, params, extra]));
        },
        pull(n) {
          return client.send(message(BOLT.PULL, [map({ n })]));
        },
        reset() {
          return client.send(message(BOLT.RESET, []));
        },
        goodbye() {
          return client.send(message(BOLT.GOODBYE, []));
        },
      };
      return client;
    };

    socket.once('connect', () => socket.write(Buffer.concat([BOLT_PREAMBLE, proposals])));
    socket.on('data', (d: Buffer) => {
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      if (!handshaken) handshake();
      if (handshaken) dechunk();
    });
    socket.on('error', (err) => {
      fail(err);
      if (!handshaken) {
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.once('close', () => {
      resolveClosed();
      const why = parts.length > 0 || pending.length > 0 ? ` in the middle of a message (${pending.length} bytes pending)` : '';
      fail(new Error(`the Bolt connection to port ${port} closed${why}`));
      if (!handshaken) {
        clearTimeout(timer);
        reject(new Error(`the Bolt connection to port ${port} closed during the handshake (got ${pending.toString('hex')})`));
      }
    });
  });
}
