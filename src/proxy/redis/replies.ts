// RESP replies breakwater sends itself while Redis is refused: cache misses for reads (shapes from
// commands.ts), breakwater's own errors, and the connection-setup commands, answered the way Redis
// 7 does so that clients connect and degrade instead of crash-looping. Every byte sequence here
// was compared with a real redis-server 7.0 (test/proxy/redis/replies.test.ts), except what a
// fallback cannot know: the server version (FALLBACK_VERSION), the client id (always 0, which no
// real client has) and INFO's contents.
//
// Constant replies are shared Buffers: callers must not write into them.
import type { MissShape } from './commands.js';

export type Proto = 2 | 3;

/** What HELLO and INFO report: a version every client treats as "Redis 7 without 7.2+ extras". */
export const FALLBACK_VERSION = '7.0.0';

const FALLBACK_CLIENT_ID = 0;
const MAX_MESSAGE_BYTES = 1024;

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const CRLF = ascii('\r\n');

const OK = ascii('+OK\r\n');
const PONG = ascii('+PONG\r\n');
const RESET = ascii('+RESET\r\n');
const NONE = ascii('+none\r\n');
const ZERO = ascii(':0\r\n');
const MINUS_TWO = ascii(':-2\r\n');
const EMPTY_STRING = ascii('$0\r\n\r\n');
const EMPTY_ARRAY = ascii('*0\r\n');
const EMPTY_SCAN = ascii('*2\r\n$1\r\n0\r\n*0\r\n');
const NIL2 = ascii('$-1\r\n');
const NULL_ARRAY2 = ascii('*-1\r\n');
const NULL3 = ascii('_\r\n');
const EMPTY_SET3 = ascii('~0\r\n');
const EMPTY_MAP3 = ascii('%0\r\n');

export const EXECABORT: Buffer = ascii('-EXECABORT Transaction discarded because of previous errors.\r\n');

/** `-ERR breakwater: <message>\r\n`, message made single-line, capped at about 1 KiB. */
export function errorReply(message: string): Buffer {
  return errorLine(`ERR breakwater: ${message}`);
}

/** An error reply of any prefix; CR and LF would end the line early, so each becomes a space, as in Redis. */
function errorLine(text: string): Buffer {
  let bytes = Buffer.from(text.replace(/[\r\n]/g, ' '), 'utf8');
  if (bytes.length > MAX_MESSAGE_BYTES) {
    let cut = MAX_MESSAGE_BYTES;
    while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--; // not inside a UTF-8 sequence
    bytes = Buffer.concat([bytes.subarray(0, cut), ascii('...')]);
  }
  return Buffer.concat([ascii('-'), bytes, CRLF]);
}

// Options can change the reply type in ways argc does not reveal (LPOS ... COUNT): no safe miss.
const NO_MISS_WITH_OPTIONS = errorReply('no cache-miss reply for this command with options while Redis is unavailable');

/** The miss reply for a read, given its shape, the number of arguments including the command name, and the connection's protocol. */
export function missReply(shape: MissShape, argc: number, proto: Proto): Buffer {
  const nil = proto === 3 ? NULL3 : NIL2;
  switch (shape) {
    case 'nil':
      return nil;
    case 'nil-unless-count':
      return argc > 2 ? EMPTY_ARRAY : nil;
    case 'nil-if-plain':
      return argc === 3 ? nil : NO_MISS_WITH_OPTIONS;
    case 'empty-string':
      return EMPTY_STRING;
    case 'empty-string-if-plain':
      return argc === 3 ? EMPTY_STRING : NO_MISS_WITH_OPTIONS;
    case 'zero':
      return ZERO;
    case 'minus-two':
      return MINUS_TWO;
    case 'none':
      return NONE;
    case 'empty-array':
      return EMPTY_ARRAY;
    case 'empty-set':
      return proto === 3 ? EMPTY_SET3 : EMPTY_ARRAY;
    case 'empty-map':
      return proto === 3 ? EMPTY_MAP3 : EMPTY_ARRAY;
    case 'empty-scan':
      return EMPTY_SCAN;
    case 'null-array':
      return proto === 3 ? NULL3 : NULL_ARRAY2;
    case 'nils-from-1':
      return arrayOf(argc - 1, nil);
    case 'nils-from-2':
      return arrayOf(argc - 2, nil);
    case 'null-arrays-from-2':
      return arrayOf(argc - 2, proto === 3 ? NULL3 : NULL_ARRAY2);
    case 'zeros-from-2':
      return arrayOf(argc - 2, ZERO);
    case 'zero-per-get':
      return arrayOf(Math.floor((argc - 2) / 3), ZERO);
  }
}

/** `*n` followed by n copies of item. */
function arrayOf(n: number, item: Buffer): Buffer {
  if (n <= 0) return EMPTY_ARRAY;
  const header = ascii(`*${n}\r\n`);
  const out = Buffer.allocUnsafe(header.length + n * item.length);
  header.copy(out, 0);
  for (let i = 0, at = header.length; i < n; i++, at += item.length) item.copy(out, at);
  return out;
}

function bulk(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([ascii(`$${bytes.length}\r\n`), bytes, CRLF]);
}

const integer = (n: number): Buffer => ascii(`:${n}\r\n`);

/** The wrong-arity error, named as Redis names it ('client|setname'). */
const wrongArgs = (name: string): Buffer => errorLine(`ERR wrong number of arguments for '${name}' command`);

// HELLO's reply: a map in RESP3, the same pairs flattened into an array in RESP2.
function helloReply(proto: Proto): Buffer {
  const pairs = [
    bulk('server'), bulk('redis'),
    bulk('version'), bulk(FALLBACK_VERSION),
    bulk('proto'), integer(proto),
    bulk('id'), integer(FALLBACK_CLIENT_ID),
    bulk('mode'), bulk('standalone'),
    bulk('role'), bulk('master'),
    bulk('modules'), EMPTY_ARRAY,
  ];
  return Buffer.concat([ascii(proto === 3 ? `%${pairs.length / 2}\r\n` : `*${pairs.length}\r\n`), ...pairs]);
}
const HELLO_REPLY: Readonly<Record<Proto, Buffer>> = { 2: helloReply(2), 3: helloReply(3) };

// INFO: what ioredis's ready check reads (`loading:0`, else it waits and asks again), what tools
// print first (version, mode), and a section saying the answer is breakwater's. The Breakwater
// section is in every reply, whatever sections were asked for.
const INFO_SECTIONS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['Server', [`redis_version:${FALLBACK_VERSION}`, 'redis_mode:standalone']],
  ['Persistence', ['loading:0', 'async_loading:0']],
  ['Breakwater', ['breakwater_fallback:1', 'breakwater_note:Redis is unavailable; breakwater answered this INFO itself']],
];
const INFO_ALL = new Set(['default', 'all', 'everything']);

function infoReply(sections: readonly string[], proto: Proto): Buffer {
  const wanted = new Set(sections.map((s) => s.toLowerCase()));
  const everything = wanted.size === 0 || [...wanted].some((s) => INFO_ALL.has(s));
  const text = INFO_SECTIONS.filter(([title]) => everything || title === 'Breakwater' || wanted.has(title.toLowerCase()))
    .map(([title, lines]) => `# ${title}\r\n${lines.map((l) => `${l}\r\n`).join('')}`)
    .join('\r\n');
  // Redis 7 sends INFO as a verbatim string (`=len\r\ntxt:...`) in RESP3, a bulk string in RESP2.
  return proto === 3 ? ascii(`=${4 + text.length}\r\ntxt:${text}\r\n`) : bulk(text);
}

/** Redis's string2ll: optional '-', no leading zeros, no '+' or spaces, within int64. */
function parseLongLong(arg: Buffer): bigint | undefined {
  const s = arg.toString('latin1');
  if (!/^(0|-?[1-9][0-9]{0,18})$/.test(s)) return undefined;
  const v = BigInt(s);
  return v >= -(2n ** 63n) && v < 2n ** 63n ? v : undefined;
}

/** Redis's client-name rule: printable ASCII without spaces (an empty name clears it). */
function validClientName(name: Buffer): boolean {
  for (const b of name) if (b < 0x21 || b > 0x7e) return false;
  return true;
}
const BAD_CLIENT_NAME = errorLine('ERR Client names cannot contain spaces, newlines or special characters.');

/** Redis's default `databases`: the real setting cannot be asked while Redis is away. */
const DATABASES = 16;

function selectReply(arg: Buffer): Buffer {
  const id = parseLongLong(arg);
  if (id === undefined) return errorLine('ERR value is not an integer or out of range');
  if (id < -(2n ** 31n) || id >= 2n ** 31n) {
    return errorLine('ERR value is out of range, value must between -2147483648 and 2147483647');
  }
  return id >= 0n && id < DATABASES ? OK : errorLine('ERR DB index is out of range');
}

export interface SetupAnswer {
  reply: Buffer;
  /** The connection's protocol after this command. */
  proto: Proto;
  /** Close the connection once the reply is written (QUIT). */
  close?: boolean;
}

function hello(args: readonly Buffer[], proto: Proto): SetupAnswer {
  let next = proto;
  let i = 1;
  if (args.length > 1) {
    const ver = parseLongLong(args[i++]!);
    if (ver === undefined) return { reply: errorLine('ERR Protocol version is not an integer or out of range'), proto };
    if (ver !== 2n && ver !== 3n) return { reply: errorLine('NOPROTO unsupported protocol version'), proto };
    next = ver === 3n ? 3 : 2;
  }
  for (; i < args.length; i++) {
    const opt = args[i]!.toString('latin1').toLowerCase();
    const more = args.length - 1 - i;
    if (opt === 'auth' && more >= 2) {
      i += 2; // credentials cannot be checked without Redis; nothing is served that needs them
    } else if (opt === 'setname' && more >= 1) {
      if (!validClientName(args[++i]!)) return { reply: BAD_CLIENT_NAME, proto };
    } else {
      return { reply: errorLine(`ERR Syntax error in HELLO option '${args[i]!.toString('utf8')}'`), proto };
    }
  }
  return { reply: HELLO_REPLY[next], proto: next };
}

function client(args: readonly Buffer[], proto: Proto): Buffer | undefined {
  if (args.length < 2) return wrongArgs('client');
  const sub = args[1]!.toString('latin1').toLowerCase();
  const arity = (n: number, reply: Buffer): Buffer => (args.length === n ? reply : wrongArgs(`client|${sub}`));
  switch (sub) {
    case 'setname':
      return arity(3, validClientName(args[2] ?? Buffer.alloc(0)) ? OK : BAD_CLIENT_NAME);
    case 'setinfo':
      return arity(4, OK);
    case 'id':
      return arity(2, integer(FALLBACK_CLIENT_ID));
    case 'getname':
      return arity(2, proto === 3 ? NULL3 : NIL2); // no name is kept
    default:
      return undefined;
  }
}

/**
 * Setup commands answered locally while Redis is unreachable. args[0] is the command name; args
 * are the raw argument buffers. Returns undefined if it is not a setup command it can answer
 * (e.g. CLIENT KILL, CLIENT LIST); the caller then errors. Also returns the protocol the
 * connection uses afterwards (HELLO 3 switches to 3, HELLO 2 to 2; other versions get -NOPROTO).
 * RESET only answers: leaving MULTI or subscriber mode is the caller's job.
 */
export function setupReply(args: readonly Buffer[], proto: Proto): SetupAnswer | undefined {
  if (args.length === 0) return undefined;
  const name = args[0]!.toString('latin1').toLowerCase();
  const argc = args.length;
  const same = (reply: Buffer): SetupAnswer => ({ reply, proto });
  switch (name) {
    case 'ping':
      return same(argc === 1 ? PONG : argc === 2 ? bulk(args[1]!) : wrongArgs('ping'));
    case 'echo':
      return same(argc === 2 ? bulk(args[1]!) : wrongArgs('echo'));
    case 'auth':
      return same(argc === 1 ? wrongArgs('auth') : argc > 3 ? errorLine('ERR syntax error') : OK);
    case 'select':
      return same(argc === 2 ? selectReply(args[1]!) : wrongArgs('select'));
    case 'readonly':
    case 'readwrite':
      return same(argc === 1 ? OK : wrongArgs(name));
    case 'quit':
      return { reply: OK, proto, close: true };
    case 'reset':
      return argc === 1 ? { reply: RESET, proto: 2 } : same(wrongArgs('reset'));
    case 'hello':
      return hello(args, proto);
    case 'info':
      return same(infoReply(args.slice(1).map((a) => a.toString('latin1')), proto));
    case 'client': {
      const reply = client(args, proto);
      return reply === undefined ? undefined : same(reply);
    }
    default:
      return undefined;
  }
}
