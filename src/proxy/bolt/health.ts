// The Neo4j health check: a fresh Bolt connection that handshakes, says HELLO (and LOGON on
// 5.1+), and with credentials runs RETURN 1 on the configured database. Without credentials
// a Security FAILURE still proves the server answers (like Redis' NOAUTH).
//
// What the real server (5.26) taught us: on 5.3+ HELLO must carry bolt_agent or it fails with
// Neo.ClientError.Request.Invalid; a FAILURE during HELLO/LOGON closes the connection (no
// IGNORED/RESET dance); a pipelined GOODBYE makes the server close before answering what came
// earlier, so GOODBYE goes only after the last answer; 5.7+ reports neo4j_code, older code.
import { connect } from 'node:net';
import type { Probe } from '../../health/check.js';
import { isMap, packStruct, readStructHeader, readValue, type PackMap, type PackValue } from './packstream.js';

export interface BoltTarget {
  host: string;
  port: number;
  /** For messages: bolt://127.0.0.1:7687 */
  label: string;
}

export function boltTargets(urls: readonly string[]): BoltTarget[] {
  return urls.map((u) => {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new Error(`bad Neo4j upstream URL ${JSON.stringify(u)}: expected bolt://host[:port] or neo4j://host[:port]`);
    }
    if (url.protocol !== 'bolt:' && url.protocol !== 'neo4j:') {
      throw new Error(`Neo4j upstream ${JSON.stringify(u)} has scheme ${url.protocol}//: the Bolt health check speaks plain TCP, use bolt://host[:port] or neo4j://host[:port]`);
    }
    const port = Number(url.port || 7687);
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port, label: `bolt://${url.hostname}:${port}` };
  });
}

// 60 60 B0 17, then 5.8 down to 5.0, 4.4, and two empty proposals
const HANDSHAKE = Buffer.from('6060b017' + '00080805' + '00000404' + '00000000' + '00000000', 'hex');
const AGENT = 'breakwater-health/1';
const RUN = 0x10;
const SUCCESS = 0x70;
const RECORD = 0x71;
const FAILURE = 0x7f;
const GOODBYE = chunked(packStruct(0x02, []));

function map(entries: Record<string, PackValue>): PackMap {
  return Object.assign(Object.create(null) as PackMap, entries);
}

/** One message as a single chunk plus the 00 00 end marker (probe messages are small). */
function chunked(message: Buffer): Buffer {
  const out = Buffer.alloc(message.length + 4);
  out.writeUInt16BE(message.length, 0);
  message.copy(out, 2);
  return out;
}

interface Step {
  name: string;
  bytes: Buffer;
}

/** What the probe sends after the handshake, for the negotiated version. */
function steps(major: number, minor: number, auth: { user?: string; password?: string; database?: string }, withCredentials: boolean): Step[] {
  const atLeast = (ma: number, mi: number): boolean => major > ma || (major === ma && minor >= mi);
  const basic = (): PackMap => map({ scheme: 'basic', principal: auth.user ?? '', credentials: auth.password ?? '' });
  const hello = map({ user_agent: AGENT });
  if (atLeast(5, 3)) hello.bolt_agent = map({ product: AGENT });
  if (!atLeast(5, 1) && withCredentials) Object.assign(hello, basic());
  const out: Step[] = [{ name: 'HELLO', bytes: chunked(packStruct(0x01, [hello])) }];
  if (atLeast(5, 1)) out.push({ name: 'LOGON', bytes: chunked(packStruct(0x6a, [withCredentials ? basic() : map({ scheme: 'none' })])) });
  if (withCredentials) {
    const extra = auth.database ? map({ db: auth.database }) : map({});
    out.push({ name: 'RUN "RETURN 1"', bytes: chunked(packStruct(RUN, ['RETURN 1', map({}), extra])) });
    out.push({ name: 'PULL', bytes: chunked(packStruct(0x3f, [map({ n: -1 })])) });
  }
  return out;
}

function text(v: PackValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * Probes one Neo4j server over Bolt. With user and password: HELLO/LOGON, RUN "RETURN 1"
 * (on `database` when set) and PULL must all succeed. Without: any answer to HELLO/LOGON
 * that is SUCCESS or a Security FAILURE counts as up.
 */
export function boltProbe(target: BoltTarget, auth: { user?: string; password?: string; database?: string }): Probe {
  const withCredentials = typeof auth.user === 'string' && auth.user !== '' && typeof auth.password === 'string';
  const { host, port, label } = target;
  return (signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) {
        reject(Object.assign(new Error('timeout'), { name: 'TimeoutError' }));
        return;
      }
      const s = connect({ host, port });
      let got: Buffer = Buffer.alloc(0);
      let version = ''; // "5.8" once negotiated
      let plan: Step[] = [];
      let answered = 0; // steps answered with SUCCESS
      let parts: Buffer[] = []; // chunks of the message being received
      let settled = false;

      const done = (err?: Error): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        if (err) {
          s.destroy();
          reject(err);
          return;
        }
        // polite: GOODBYE, then close once it is flushed
        s.end(GOODBYE, () => s.destroy());
        resolve();
      };
      const onAbort = (): void => done(Object.assign(new Error('timeout'), { name: 'TimeoutError' }));
      signal.addEventListener('abort', onAbort);

      const stage = (): string => (version === '' ? 'the Bolt handshake' : (plan[answered]?.name ?? 'GOODBYE'));

      // One whole message: true when the probe is decided.
      const onMessage = (body: Buffer): boolean => {
        const head = readStructHeader(body, 0, body.length);
        if (head.signature === RECORD) return false; // RETURN 1's row
        const meta = head.size > 0 ? readValue(body, head.next, body.length, 1).value : null;
        const fields = isMap(meta) ? meta : map({});
        if (head.signature === SUCCESS) {
          answered++;
          if (answered < plan.length) return false;
          done();
          return true;
        }
        if (head.signature === FAILURE) {
          const code = text(fields.neo4j_code) ?? text(fields.code) ?? '(no code)';
          const message = text(fields.message) ?? '(no message)';
          // without credentials, being asked for them proves the server is up
          if (!withCredentials && code.includes('Security')) done();
          else done(new Error(`${label} (Bolt ${version}): ${stage()} failed: ${code}: ${message}`));
          return true;
        }
        done(new Error(`${label} (Bolt ${version}) answered ${stage()} with message 0x${head.signature.toString(16)} instead of SUCCESS or FAILURE`));
        return true;
      };

      const onData = (): void => {
        if (version === '') {
          if (got.length < 4) return;
          if (got.readUInt32BE(0) === 0) {
            done(new Error(`${label} speaks none of Bolt 5.0–5.8 or 4.4 (handshake answered 00000000): upgrade Neo4j or point breakwater at a 4.4+ server`));
            return;
          }
          if (got[0] !== 0 || got[1] !== 0) {
            done(new Error(`${label} is not a Bolt server: it answered the handshake with ${JSON.stringify(got.subarray(0, 16).toString('latin1'))} (the HTTP port instead of the Bolt port?)`));
            return;
          }
          version = `${got[3]}.${got[2]}`;
          plan = steps(got[3]!, got[2]!, auth, withCredentials);
          got = got.subarray(4);
          s.write(Buffer.concat(plan.map((p) => p.bytes))); // pipelined, as drivers do
        }
        let at = 0;
        while (got.length - at >= 2) {
          const len = got.readUInt16BE(at);
          if (len === 0) {
            at += 2;
            if (parts.length === 0) continue; // a NOOP
            const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
            parts = [];
            if (onMessage(body)) return;
            continue;
          }
          if (got.length - at < 2 + len) break;
          parts.push(got.subarray(at + 2, at + 2 + len));
          at += 2 + len;
        }
        got = got.subarray(at); // socket buffers are never reused: views are safe
      };

      s.once('connect', () => s.write(HANDSHAKE));
      s.on('data', (d: Buffer) => {
        got = got.length === 0 ? d : Buffer.concat([got, d]);
        try {
          onData();
        } catch (err) {
          done(new Error(`${label} sent a malformed Bolt message during ${stage()}: ${(err as Error).message}`));
        }
      });
      s.on('error', (e) => done(e)); // on, not once: a late EPIPE after GOODBYE must not go unhandled
      s.once('close', () => done(new Error(`${label} closed the connection during ${stage()}`)));
    });
}
