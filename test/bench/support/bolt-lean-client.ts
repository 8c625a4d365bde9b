// A lean Bolt client for the Neo4j benchmark: the role redis-benchmark and wrk play in the other
// benches. neo4j-driver spends ~400 µs of CPU per query here (session, promises, PackStream),
// about as much as Neo4j itself, so with it as the client a 2-core machine measures mostly who
// gets the CPU. This client sends each query as prebuilt bytes (RUN + PULL in one write) and
// reads the answer with a minimal chunk walk, comparing the RECORD with the expected bytes: one
// query at a time per connection, as a pooled driver connection does.
import type net from 'node:net';
import { BOLT, chunk, connectBolt, message } from '../../support/bolt-wire.js';
import type { PackMap } from '../../../src/proxy/bolt/packstream.js';

function map(entries: Record<string, string | number>): PackMap {
  return Object.assign(Object.create(null) as PackMap, entries);
}

/** A query's bytes (RUN + PULL, chunked) and the one RECORD message its answer must carry. */
export interface LeanQuery {
  request: Buffer;
  record: Buffer;
}

/** RUN `query` with `params` in read mode, PULL all (as the driver does for a READ session), and the expected row. */
export function leanQuery(query: string, params: Record<string, string | number>, row: (string | number)[]): LeanQuery {
  return {
    request: chunk([message(BOLT.RUN, [query, map(params), map({ mode: 'r' })]), message(BOLT.PULL, [map({ n: 1000 })])]),
    record: message(BOLT.RECORD, [row]),
  };
}

export class LeanBoltConnection {
  private rest: Buffer | undefined;
  private parts: Buffer[] = [];
  private summaries = 0;
  private right = false;
  private expected: Buffer | undefined;
  private settle: ((ok: boolean) => void) | undefined;
  private fail: ((err: Error) => void) | undefined;
  private failure: string | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (b: Buffer) => this.onData(b));
    socket.on('error', (err) => this.abort(err));
    socket.on('close', () => this.abort(new Error('the connection closed')));
  }

  /** Connects (handshake, HELLO, LOGON through the test client), then takes the socket over. */
  static async open(port: number, user: string, password: string): Promise<LeanBoltConnection> {
    const w = await connectBolt(port);
    if (w.version.major < 5 || (w.version.major === 5 && w.version.minor < 1)) throw new Error(`the lean client speaks Bolt 5.1+ (LOGON); the server chose ${w.version.major}.${w.version.minor}`);
    w.hello();
    await w.success();
    w.logon(user, password);
    await w.success();
    // Nothing is in flight: the test client's reader can go.
    w.socket.removeAllListeners('data');
    return new LeanBoltConnection(w.socket);
  }

  /** Sends q and resolves whether the answer was exactly q's RECORD; rejects on FAILURE or a lost connection. */
  query(q: LeanQuery): Promise<boolean> {
    this.summaries = 0;
    this.right = false;
    this.expected = q.record;
    this.failure = undefined;
    return new Promise<boolean>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
      this.socket.write(q.request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private abort(err: Error): void {
    const fail = this.fail;
    this.settle = undefined;
    this.fail = undefined;
    fail?.(err);
  }

  private onData(b: Buffer): void {
    let buf = b;
    if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, b]);
      this.rest = undefined;
    }
    let at = 0;
    while (buf.length - at >= 2) {
      const len = buf.readUInt16BE(at);
      if (len === 0) {
        at += 2;
        if (this.parts.length > 0) this.onMessage(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts));
        this.parts = [];
        continue;
      }
      if (buf.length - at < 2 + len) break;
      this.parts.push(buf.subarray(at + 2, at + 2 + len));
      at += 2 + len;
    }
    if (at < buf.length) this.rest = buf.subarray(at);
  }

  private onMessage(m: Buffer): void {
    const sig = m[1];
    if (sig === BOLT.RECORD) {
      this.right = this.expected !== undefined && m.equals(this.expected);
      return;
    }
    if (sig === BOLT.FAILURE || sig === BOLT.IGNORED) this.failure ??= `${sig === BOLT.FAILURE ? 'FAILURE' : 'IGNORED'} ${m.subarray(2, 200).toString('latin1')}`;
    if (++this.summaries < 2) return;
    const settle = this.settle;
    const fail = this.fail;
    this.settle = undefined;
    this.fail = undefined;
    if (this.failure !== undefined) fail?.(new Error(this.failure));
    else settle?.(this.right);
  }
}
