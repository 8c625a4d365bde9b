// breakwater's own RESP replies against a real redis-server 7 on an empty database: every miss
// shape, byte for byte, in RESP2 and after HELLO 3; the setup commands where a fallback can say
// what Redis says; and ioredis / redis-cli connecting to a stand-in server built only from
// these replies.
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { COMMANDS, commandInfo } from '../../../src/proxy/redis/commands.js';
import { EXECABORT, errorReply, missReply, setupReply, type Proto } from '../../../src/proxy/redis/replies.js';
import { findBinary, withRedis } from '../../services/index.js';

/**
 * Sample arguments (command name first) for every command with a miss shape. A command with a
 * shape and no samples fails the test, and so does a sample for a command without one.
 */
const SAMPLES: Record<string, string[][]> = {
  bitcount: [['BITCOUNT', 'k'], ['BITCOUNT', 'k', '0', '-1', 'BIT']],
  bitfield_ro: [['BITFIELD_RO', 'k', 'GET', 'u8', '0'], ['BITFIELD_RO', 'k', 'GET', 'u8', '0', 'GET', 'i4', '3'], ['BITFIELD_RO', 'k']],
  dbsize: [['DBSIZE']],
  dump: [['DUMP', 'k']],
  exists: [['EXISTS', 'k'], ['EXISTS', 'a', 'b', 'c']],
  expiretime: [['EXPIRETIME', 'k']],
  geodist: [['GEODIST', 'k', 'a', 'b'], ['GEODIST', 'k', 'a', 'b', 'km']],
  geohash: [['GEOHASH', 'k', 'a'], ['GEOHASH', 'k', 'a', 'b', 'c'], ['GEOHASH', 'k']],
  geopos: [['GEOPOS', 'k', 'a'], ['GEOPOS', 'k', 'a', 'b'], ['GEOPOS', 'k']],
  georadius_ro: [['GEORADIUS_RO', 'k', '13.4', '52.5', '10', 'km'], ['GEORADIUS_RO', 'k', '0', '0', '1', 'm', 'WITHCOORD', 'WITHDIST', 'COUNT', '3']],
  georadiusbymember_ro: [['GEORADIUSBYMEMBER_RO', 'k', 'a', '10', 'km']],
  geosearch: [
    ['GEOSEARCH', 'k', 'FROMLONLAT', '13.4', '52.5', 'BYRADIUS', '10', 'km'],
    ['GEOSEARCH', 'k', 'FROMMEMBER', 'a', 'BYBOX', '1', '1', 'km', 'ASC', 'WITHHASH'],
  ],
  get: [['GET', 'k']],
  getbit: [['GETBIT', 'k', '7']],
  getrange: [['GETRANGE', 'k', '0', '-1']],
  hexists: [['HEXISTS', 'k', 'f']],
  hget: [['HGET', 'k', 'f']],
  hgetall: [['HGETALL', 'k']],
  hkeys: [['HKEYS', 'k']],
  hlen: [['HLEN', 'k']],
  hmget: [['HMGET', 'k', 'f'], ['HMGET', 'k', 'f', 'g', 'h']],
  hrandfield: [['HRANDFIELD', 'k'], ['HRANDFIELD', 'k', '2'], ['HRANDFIELD', 'k', '-2', 'WITHVALUES']],
  hscan: [['HSCAN', 'k', '0'], ['HSCAN', 'k', '0', 'MATCH', 'f*', 'COUNT', '10']],
  hstrlen: [['HSTRLEN', 'k', 'f']],
  hvals: [['HVALS', 'k']],
  keys: [['KEYS', '*']],
  lcs: [['LCS', 'a', 'b']],
  lindex: [['LINDEX', 'k', '0']],
  llen: [['LLEN', 'k']],
  lpos: [['LPOS', 'k', 'a']],
  lrange: [['LRANGE', 'k', '0', '-1']],
  mget: [['MGET', 'a'], ['MGET', 'a', 'b', 'c']],
  pexpiretime: [['PEXPIRETIME', 'k']],
  pfcount: [['PFCOUNT', 'k'], ['PFCOUNT', 'a', 'b']],
  pttl: [['PTTL', 'k']],
  randomkey: [['RANDOMKEY']],
  scan: [['SCAN', '0'], ['SCAN', '0', 'MATCH', 'user:*', 'COUNT', '100', 'TYPE', 'hash']],
  scard: [['SCARD', 'k']],
  sdiff: [['SDIFF', 'a'], ['SDIFF', 'a', 'b']],
  sinter: [['SINTER', 'a', 'b']],
  sintercard: [['SINTERCARD', '2', 'a', 'b'], ['SINTERCARD', '1', 'a', 'LIMIT', '5']],
  sismember: [['SISMEMBER', 'k', 'm']],
  smembers: [['SMEMBERS', 'k']],
  smismember: [['SMISMEMBER', 'k', 'm'], ['SMISMEMBER', 'k', 'm', 'n', 'o']],
  sort_ro: [['SORT_RO', 'k'], ['SORT_RO', 'k', 'BY', 'nosort', 'GET', '#', 'LIMIT', '0', '10', 'ALPHA']],
  srandmember: [['SRANDMEMBER', 'k'], ['SRANDMEMBER', 'k', '3'], ['SRANDMEMBER', 'k', '-3']],
  sscan: [['SSCAN', 'k', '0']],
  strlen: [['STRLEN', 'k']],
  substr: [['SUBSTR', 'k', '0', '3']],
  sunion: [['SUNION', 'a', 'b']],
  touch: [['TOUCH', 'a', 'b']],
  ttl: [['TTL', 'k']],
  type: [['TYPE', 'k']],
  xlen: [['XLEN', 'k']],
  xrange: [['XRANGE', 'k', '-', '+'], ['XRANGE', 'k', '-', '+', 'COUNT', '5']],
  xread: [['XREAD', 'STREAMS', 'k', '0'], ['XREAD', 'COUNT', '5', 'BLOCK', '10', 'STREAMS', 'a', 'b', '0', '0']],
  xrevrange: [['XREVRANGE', 'k', '+', '-']],
  zcard: [['ZCARD', 'k']],
  zcount: [['ZCOUNT', 'k', '-inf', '+inf']],
  zdiff: [['ZDIFF', '2', 'a', 'b'], ['ZDIFF', '1', 'a', 'WITHSCORES']],
  zinter: [['ZINTER', '2', 'a', 'b'], ['ZINTER', '2', 'a', 'b', 'WEIGHTS', '1', '2', 'WITHSCORES']],
  zintercard: [['ZINTERCARD', '2', 'a', 'b']],
  zlexcount: [['ZLEXCOUNT', 'k', '-', '+']],
  zmscore: [['ZMSCORE', 'k', 'm'], ['ZMSCORE', 'k', 'm', 'n']],
  zrandmember: [['ZRANDMEMBER', 'k'], ['ZRANDMEMBER', 'k', '2'], ['ZRANDMEMBER', 'k', '2', 'WITHSCORES']],
  zrange: [['ZRANGE', 'k', '0', '-1'], ['ZRANGE', 'k', '0', '-1', 'WITHSCORES'], ['ZRANGE', 'k', '(1', '5', 'BYSCORE', 'REV', 'LIMIT', '0', '2']],
  zrangebylex: [['ZRANGEBYLEX', 'k', '-', '+']],
  zrangebyscore: [['ZRANGEBYSCORE', 'k', '-inf', '+inf', 'WITHSCORES', 'LIMIT', '0', '10']],
  zrank: [['ZRANK', 'k', 'm']],
  zrevrange: [['ZREVRANGE', 'k', '0', '-1', 'WITHSCORES']],
  zrevrangebylex: [['ZREVRANGEBYLEX', 'k', '+', '-']],
  zrevrangebyscore: [['ZREVRANGEBYSCORE', 'k', '+inf', '-inf']],
  zrevrank: [['ZREVRANK', 'k', 'm']],
  zscan: [['ZSCAN', 'k', '0']],
  zscore: [['ZSCORE', 'k', 'm']],
  zunion: [['ZUNION', '2', 'a', 'b', 'AGGREGATE', 'MAX', 'WITHSCORES']],
};

/**
 * Options that change the reply type, which argc alone cannot tell apart from options that do
 * not (LPOS ... RANK 1 still answers nil): breakwater errors for any options.
 */
const WITH_OPTIONS: string[][] = [
  ['LPOS', 'k', 'a', 'COUNT', '2'],
  ['LPOS', 'k', 'a', 'RANK', '1', 'COUNT', '0', 'MAXLEN', '10'],
  ['LCS', 'a', 'b', 'LEN'],
  ['LCS', 'a', 'b', 'IDX', 'WITHMATCHLEN'],
];

/** Index just past the RESP2/RESP3 value starting at pos, or -1 while incomplete. */
function replyEnd(buf: Buffer, pos: number): number {
  const lineEnd = buf.indexOf('\r\n', pos);
  if (lineEnd < 0) return -1;
  const type = String.fromCharCode(buf[pos]!);
  const n = Number(buf.toString('latin1', pos + 1, lineEnd));
  let next = lineEnd + 2;
  switch (type) {
    case '$': case '=': case '!':
      if (n < 0) return next;
      return buf.length >= next + n + 2 ? next + n + 2 : -1;
    case '*': case '~': case '>': case '%': case '|': {
      const items = n < 0 ? 0 : type === '%' || type === '|' ? 2 * n : n;
      for (let i = 0; i < items; i++) {
        next = replyEnd(buf, next);
        if (next < 0) return -1;
      }
      return type === '|' ? replyEnd(buf, next) : next; // an attribute precedes the reply
    }
    default: // + - : _ # , (
      return next;
  }
}

function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const parts = args.map((a) => (typeof a === 'string' ? Buffer.from(a, 'utf8') : a));
  return Buffer.concat([
    Buffer.from(`*${parts.length}\r\n`),
    ...parts.flatMap((p) => [Buffer.from(`$${p.length}\r\n`), p, Buffer.from('\r\n')]),
  ]);
}

/** One raw connection to a server: a command in, one complete reply out. */
class RawConnection {
  private buf = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  closed = false;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiting?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiting?.();
    });
  }
  static open(port: number): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }
  async call(args: readonly (string | Buffer)[]): Promise<Buffer> {
    this.socket.write(encodeCommand(args));
    for (;;) {
      const end = this.buf.length > 0 ? replyEnd(this.buf, 0) : -1;
      if (end >= 0) {
        const reply = this.buf.subarray(0, end);
        this.buf = this.buf.subarray(end);
        return reply;
      }
      if (this.closed) throw new Error(`connection closed before a reply to ${args.join(' ')}`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = undefined;
    }
  }
  /** Resolves once the server has closed the connection. */
  async untilClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => (this.waiting = resolve));
  }
  close(): void {
    this.socket.destroy();
  }
}

const show = (b: Buffer): string => JSON.stringify(b.toString('latin1'));
const names = (args: readonly (string | Buffer)[]): string => args.map(String).join(' ');

const redis = await withRedis(t);

async function connection(t: Test, proto: Proto): Promise<RawConnection> {
  const conn = await RawConnection.open(redis.port);
  t.teardown(() => conn.close());
  if (proto === 3) await conn.call(['HELLO', '3']);
  return conn;
}

t.test('every miss shape has samples, every sample a miss shape', async (t) => {
  const withShape = COMMANDS.filter((c) => c.miss !== undefined).map((c) => c.name);
  t.ok(withShape.length >= 70, `${withShape.length} commands with a miss shape`);
  for (const name of withShape) t.ok(SAMPLES[name]?.length, `${name} has sample arguments`);
  for (const name of Object.keys(SAMPLES)) {
    t.ok(commandInfo(name)?.miss, `${name} has a miss shape`);
    for (const args of SAMPLES[name]!) t.equal(args[0]!.toLowerCase(), name, `sample of ${name} runs ${name}`);
  }
});

for (const proto of [2, 3] as const) {
  t.test(`missReply equals real Redis byte for byte (RESP${proto})`, async (t) => {
    const conn = await connection(t, proto);
    t.equal((await conn.call(['DBSIZE'])).toString(), ':0\r\n', 'empty database');
    for (const c of COMMANDS) {
      if (c.miss === undefined) continue;
      for (const args of SAMPLES[c.name] ?? []) {
        const server = await conn.call(args);
        t.equal(show(missReply(c.miss, args.length, proto)), show(server), names(args));
      }
    }
  });

  t.test(`options that change the reply type get an error (RESP${proto})`, async (t) => {
    const conn = await connection(t, proto);
    for (const args of WITH_OPTIONS) {
      const shape = commandInfo(args[0]!.toLowerCase())!.miss!;
      const plain = missReply(shape, 3, proto);
      const server = await conn.call(args);
      t.not(show(server), show(plain), `${names(args)}: Redis answers ${show(server)}, not the plain miss`);
      t.match(missReply(shape, args.length, proto).toString(), /^-ERR breakwater: [^\r\n]+\r\n$/, names(args));
    }
  });
}

t.test('EXECABORT is what Redis sends after a queued command failed', async (t) => {
  const conn = await connection(t, 2);
  t.equal((await conn.call(['MULTI'])).toString(), '+OK\r\n');
  t.match((await conn.call(['GET'])).toString(), /^-ERR wrong number of arguments/);
  t.equal(show(EXECABORT), show(await conn.call(['EXEC'])));
});

/** Setup commands whose reply must equal Redis's exactly, in order on one connection. */
const SETUP_EXACT: Array<Array<string | Buffer>> = [
  ['PING'], ['ping', 'hello there'], ['PING', 'a', 'b'],
  ['ECHO', 'hi'], ['ECHO', Buffer.from([0, 13, 10, 255])], ['ECHO'], ['ECHO', 'a', 'b'],
  ['SELECT', '0'], ['SELECT', '15'], ['SELECT', '16'], ['SELECT', '-1'], ['SELECT', 'abc'], ['SELECT', '00'],
  ['SELECT', '+1'], ['SELECT', ' 1'], ['SELECT', '2147483648'], ['SELECT', '-2147483649'],
  ['SELECT', '99999999999999999999'], ['SELECT'], ['SELECT', '1', '2'], ['select', '0'],
  ['AUTH'], ['AUTH', 'default', 'anything'], ['AUTH', 'a', 'b', 'c'],
  ['CLIENT', 'GETNAME'], ['CLIENT', 'SETNAME', 'app-1'], ['CLIENT', 'SETNAME', 'a b'], ['CLIENT', 'SETNAME', 'a\nb'],
  ['CLIENT', 'SETNAME', 'caf\u00e9'], ['CLIENT', 'SETNAME', ''], ['CLIENT', 'GETNAME'], ['CLIENT', 'SETNAME'],
  ['client', 'setname', 'x', 'y'], ['CLIENT', 'ID', 'x'], ['CLIENT', 'GETNAME', 'x'], ['CLIENT'],
  ['READONLY', 'x'], ['READWRITE', 'x'], ['RESET', 'x'],
  ['HELLO', '4'], ['HELLO', '1'], ['HELLO', '0'], ['HELLO', '-1'], ['HELLO', 'x'], ['HELLO', '03'], ['HELLO', '3.0'],
  ['HELLO', '3', 'FOO'], ['HELLO', '3', 'AUTH', 'default'], ['HELLO', '3', 'SETNAME'], ['HELLO', '2', 'SETNAME', 'a b'],
  ['HELLO', '3', 'caf\u00e9\r\nx'],
];

for (const proto of [2, 3] as const) {
  t.test(`setupReply equals real Redis where a fallback can know the answer (RESP${proto})`, async (t) => {
    const conn = await connection(t, proto);
    for (const args of SETUP_EXACT) {
      const ours = setupReply(args.map((a) => Buffer.from(a)), proto);
      const server = await conn.call(args);
      t.equal(ours && show(ours.reply), show(server), names(args));
      t.equal(ours?.proto, proto, `${names(args)} keeps the protocol`);
    }
    // CLIENT ID: an integer; its value is Redis's to give.
    t.match(setupReply([Buffer.from('CLIENT'), Buffer.from('ID')], proto)?.reply.toString(), /^:\d+\r\n$/);
    t.match((await conn.call(['CLIENT', 'ID'])).toString(), /^:\d+\r\n$/);
  });
}

/** HELLO's reply with the values a fallback cannot know (version, client id) blanked. */
const helloShape = (b: Buffer): string =>
  b.toString('latin1').replace(/(\$7\r\nversion\r\n)\$\d+\r\n[^\r]*\r\n/, '$1<version>').replace(/(\$2\r\nid\r\n):\d+\r\n/, '$1<id>');

t.test('HELLO: same map / array as Redis, and the protocol switches the same way', async (t) => {
  const cases: Array<[Proto, string[]]> = [
    [2, ['HELLO']], [2, ['HELLO', '3']], [3, ['HELLO']], [3, ['HELLO', '2']], [2, ['HELLO', '2']], [3, ['HELLO', '3']],
    [2, ['hello', '3', 'auth', 'default', 'secret', 'setname', 'app']], [3, ['HELLO', '2', 'SETNAME', 'a', 'SETNAME', 'b']],
  ];
  for (const [proto, args] of cases) {
    const conn = await connection(t, proto);
    const ours = setupReply(args.map((a) => Buffer.from(a)), proto)!;
    const server = await conn.call(args);
    t.equal(helloShape(ours.reply), helloShape(server), `RESP${proto}: ${names(args)}`);
    // the connection's protocol afterwards: a miss comes back in it
    t.equal(show(missReply('nil', 2, ours.proto)), show(await conn.call(['GET', 'k'])), `${names(args)} then GET`);
    conn.close();
  }
});

t.test('RESET answers +RESET and goes back to RESP2; QUIT answers +OK and closes', async (t) => {
  const conn = await connection(t, 3);
  const reset = setupReply([Buffer.from('RESET')], 3)!;
  t.equal(show(reset.reply), show(await conn.call(['RESET'])));
  t.equal(reset.proto, 2);
  t.equal(show(missReply('nil', 2, reset.proto)), show(await conn.call(['GET', 'k'])), 'RESP2 after RESET');
  const quit = setupReply([Buffer.from('quit')], 2)!;
  t.equal(show(quit.reply), show(await conn.call(['QUIT'])));
  t.equal(quit.close, true);
  await conn.untilClosed();
  t.pass('Redis closed the connection after QUIT');
});

t.test('READONLY / READWRITE: +OK (a cluster node says so; standalone Redis errors)', async (t) => {
  for (const name of ['READONLY', 'readwrite']) t.equal(setupReply([Buffer.from(name)], 2)?.reply.toString(), '+OK\r\n', name);
});

t.test('not answered: unknown subcommands and other commands', async (t) => {
  for (const args of [['CLIENT', 'KILL', 'x'], ['CLIENT', 'LIST'], ['CLIENT', 'INFO'], ['CLIENT', 'TRACKING', 'on'], ['GET', 'k'], ['CONFIG', 'GET', 'x'], []]) {
    t.equal(setupReply(args.map((a) => Buffer.from(a)), 2), undefined, names(args) || '(empty)');
  }
});

/** ioredis's ready check, as in node_modules/ioredis/built/Redis.js `_readyCheck` (not exported). */
function ioredisInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const [field, ...rest] = line.split(':');
    const value = rest.join(':');
    if (value) info[field!] = value;
  }
  return info;
}

t.test('INFO: the reply type Redis uses, the lines ioredis reads, a fallback marker', async (t) => {
  for (const proto of [2, 3] as const) {
    const conn = await connection(t, proto);
    for (const args of [['INFO'], ['INFO', 'server'], ['info', 'SERVER', 'persistence'], ['INFO', 'nosuch'], ['INFO', 'all']]) {
      const ours = setupReply(args.map((a) => Buffer.from(a)), proto)!;
      const server = await conn.call(args);
      t.equal(ours.reply.subarray(0, 1).toString(), server.subarray(0, 1).toString(), `RESP${proto} ${names(args)}: type`);
      t.equal(replyEnd(ours.reply, 0), ours.reply.length, 'one complete value');
      const text = ours.reply.toString('utf8');
      if (proto === 3) t.match(text, /^=\d+\r\ntxt:/, 'verbatim, format txt');
      const len = Number(text.slice(1, text.indexOf('\r\n')));
      t.equal(Buffer.byteLength(text.slice(text.indexOf('\r\n') + 2, -2)), len, 'declared length');
      t.match(text, /# Breakwater\r\nbreakwater_fallback:1\r\n/, 'says it is a fallback');
    }
  }
  const body = setupReply([Buffer.from('INFO')], 2)!.reply.toString().replace(/^\$\d+\r\n/, '').slice(0, -2);
  const info = ioredisInfo(body);
  t.equal(info.loading, '0', 'ioredis: not loading');
  t.match(info.redis_version, /^7\.\d+\.\d+$/);
  t.equal(info.redis_mode, 'standalone');
  t.equal(info.breakwater_fallback, '1');
  const server = setupReply([Buffer.from('INFO'), Buffer.from('server')], 2)!.reply.toString();
  t.match(server, /# Server\r\n/);
  t.notMatch(server, /# Persistence/, 'only the sections asked for (plus Breakwater)');
});

/** Lone surrogates become U+FFFD, as in any UTF-8 encoding of the string. */
const wellFormed = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');

t.test('errorReply: one line, prefixed, capped, valid UTF-8', async (t) => {
  t.equal(errorReply('circuit open').toString(), '-ERR breakwater: circuit open\r\n');
  t.equal(errorReply('a\r\nb\nc\rd').toString(), '-ERR breakwater: a  b c d\r\n');
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 3000 }), (message) => {
      const reply = errorReply(message);
      const text = reply.toString('utf8');
      return (
        text.startsWith('-ERR breakwater: ') &&
        text.endsWith('\r\n') &&
        !/[\r\n]/.test(text.slice(0, -2)) &&
        reply.length <= '-ERR breakwater: '.length + 1024 + '...\r\n'.length &&
        Buffer.from(text, 'utf8').equals(reply) &&
        (Buffer.byteLength(message) > 1000 || text === `-ERR breakwater: ${wellFormed(message).replace(/[\r\n]/g, ' ')}\r\n`)
      );
    }),
    { numRuns: 2000 },
  );
  t.pass('property holds');
});

/** A stand-in for Redis built only from breakwater's replies, as the listener answers while the circuit is open. */
async function fallbackServer(t: Test): Promise<number> {
  const server = net.createServer((socket) => {
    let proto: Proto = 2;
    let buf = Buffer.alloc(0);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const parsed = parseCommand(buf);
        if (!parsed) return;
        buf = buf.subarray(parsed.end);
        const info = commandInfo(parsed.args[0]!.toString('latin1').toLowerCase());
        const setup = info?.klass === 'setup' ? setupReply(parsed.args, proto) : undefined;
        if (setup) {
          proto = setup.proto;
          socket.write(setup.reply);
          if (setup.close) socket.end();
        } else if (info?.miss) {
          socket.write(missReply(info.miss, parsed.args.length, proto));
        } else {
          socket.write(errorReply(`${info?.name ?? 'unknown command'} refused: circuit open`));
        }
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** A complete multibulk command at the start of buf. */
function parseCommand(buf: Buffer): { args: Buffer[]; end: number } | undefined {
  let p = buf.indexOf('\r\n');
  if (p < 0) return undefined;
  const count = Number(buf.toString('latin1', 1, p));
  const args: Buffer[] = [];
  p += 2;
  for (let i = 0; i < count; i++) {
    const lineEnd = buf.indexOf('\r\n', p);
    if (lineEnd < 0) return undefined;
    const len = Number(buf.toString('latin1', p + 1, lineEnd));
    if (buf.length < lineEnd + 2 + len + 2) return undefined;
    args.push(buf.subarray(lineEnd + 2, lineEnd + 2 + len));
    p = lineEnd + 2 + len + 2;
  }
  return { args, end: p };
}

t.test('ioredis connects to the fallback and reads misses exactly as from an empty Redis', async (t) => {
  const fallbackPort = await fallbackServer(t);
  for (const protocol of [3, 2] as const) {
    const open = async (port: number): Promise<Redis> => {
      const client = new Redis({ port, host: '127.0.0.1', protocol, db: 2, connectionName: 'app', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      t.teardown(() => client.disconnect());
      await client.connect();
      return client;
    };
    const real = await open(redis.port);
    const fallback = await open(fallbackPort);
    t.equal(fallback.status, 'ready', `protocol ${protocol}: ready check passed`);
    const reads: Array<(c: Redis) => Promise<unknown>> = [
      (c) => c.ping(), (c) => c.get('k'), (c) => c.mget('a', 'b'), (c) => c.hgetall('h'), (c) => c.hmget('h', 'f', 'g'),
      (c) => c.smembers('s'), (c) => c.smismember('s', 'a', 'b'), (c) => c.zrange('z', '0', '-1', 'WITHSCORES'),
      (c) => c.zscore('z', 'm'), (c) => c.ttl('k'), (c) => c.exists('k'), (c) => c.type('k'), (c) => c.scan('0'),
      (c) => c.hscan('h', '0'), (c) => c.call('XREAD', 'STREAMS', 's', '0'), (c) => c.geopos('g', 'a'), (c) => c.srandmember('s'),
      (c) => c.srandmember('s', '2'), (c) => c.getrange('k', 0, -1), (c) => c.echo('hi'),
    ];
    for (const [i, read] of reads.entries()) {
      t.same(await read(fallback), await read(real), `protocol ${protocol}: ${read.toString().replace(/^\(c\) => c\./, '')} (#${i})`);
    }
    t.equal(await fallback.call('CLIENT', 'GETNAME'), null, 'no name is kept (Redis would say "app")');
    await t.rejects(fallback.set('k', 'v'), /breakwater: set refused/, 'a write is an error, not a fake OK');
    t.equal(await fallback.quit(), 'OK');
  }
});

t.test('redis-cli talks to the fallback', async (t) => {
  const fallbackPort = await fallbackServer(t);
  const cli = findBinary('redis-cli', 'redis-tools');
  const cliAt = async (port: number, ...args: string[]): Promise<string> =>
    (await promisify(execFile)(cli, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })).stdout;
  const run = (...args: string[]): Promise<string> => cliAt(fallbackPort, ...args);
  t.equal(await run('PING'), 'PONG\n');
  t.equal(await run('GET', 'k'), await cliAt(redis.port, 'GET', 'k'), 'nil');
  t.equal(await run('-3', 'HGETALL', 'h'), await cliAt(redis.port, '-3', 'HGETALL', 'h'), 'empty map');
  const blank = (s: string): string => s.replace(/^version .*$/m, 'version ?').replace(/^id \d+$/m, 'id ?');
  t.equal(blank(await run('-3', 'HELLO')), blank(await cliAt(redis.port, '-3', 'HELLO')), 'HELLO as redis-cli prints it');
  t.match(await run('SET', 'k', 'v'), /ERR breakwater: set refused/);
});
