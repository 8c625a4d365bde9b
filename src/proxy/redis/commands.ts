// The Redis command table: what kind of command a request is, whether it may block, and what a
// missing key looks like for it, so an open breaker can answer reads as a cache miss. Built once
// from @ioredis/commands (name → flags); the explicit name lists below win over the flags.
//
// Miss shapes were checked byte for byte against a real redis-server 7.0 in RESP2 and RESP3
// (test/proxy/redis/replies.test.ts runs every one of them on each test run). Readonly commands
// without a shape get an error instead of a miss: their reply depends on argument values (BITPOS
// 0 vs 1), is an error on a missing key anyway (XPENDING → NOGROUP), is not about keys (LOLWUT),
// or they are newer than the Redis the conformance test runs (the Redis 8 vector-set, hash-field
// expiry and array commands), so no reply could be checked.
import { hasFlag, list } from '@ioredis/commands';

export type CommandClass = 'read' | 'write' | 'setup' | 'transaction' | 'pubsub' | 'script' | 'admin' | 'other';
export type Blocking = 'never' | 'always' | 'with-block-arg';

/**
 * What a read answers when its keys do not exist; replies.ts turns it into bytes.
 * "Plain" means argc 3 (`CMD key arg`): options turn these into other reply types, and argc
 * cannot tell which option was given, so with options the miss is an error.
 */
export type MissShape =
  | 'nil' // $-1 (RESP3 _)
  | 'nil-unless-count' // SRANDMEMBER key [count]: nil, or an empty array once a count is given
  | 'nil-if-plain' // LPOS key el, ZRANK key m: nil; with COUNT / WITHSCORE an array
  | 'empty-string' // $0 (GETRANGE)
  | 'empty-string-if-plain' // LCS k1 k2: ""; with LEN an integer, with IDX a map
  | 'zero' // :0
  | 'minus-two' // :-2, "no such key" (TTL)
  | 'none' // +none (TYPE)
  | 'empty-array' // *0
  | 'empty-set' // *0 (RESP3 ~0)
  | 'empty-map' // *0 (RESP3 %0)
  | 'empty-scan' // [cursor "0", []]
  | 'null-array' // *-1 (RESP3 _)
  | 'nils-from-1' // one nil per argument from index 1 (MGET)
  | 'nils-from-2' // one nil per argument from index 2 (HMGET)
  | 'null-arrays-from-2' // one null array per argument from index 2 (GEOPOS)
  | 'zeros-from-2' // one 0 per argument from index 2 (SMISMEMBER)
  | 'zero-per-get'; // BITFIELD_RO key GET type offset ...: one 0 per GET

export interface CommandInfo {
  /** Lowercase, e.g. 'get'. */
  readonly name: string;
  readonly klass: CommandClass;
  readonly blocking: Blocking;
  /** Only for reads with a well-defined missing-key reply; undefined: answer with an error. */
  readonly miss: MissShape | undefined;
  /** Dense: COMMANDS[id] for known commands, COMMANDS.length for UNKNOWN_COMMAND. */
  readonly id: number;
}

export const COMMAND_CLASSES: readonly CommandClass[] = Object.freeze([
  'read', 'write', 'setup', 'transaction', 'pubsub', 'script', 'admin', 'other',
] as const);

const NAMED_CLASSES: ReadonlyArray<readonly [CommandClass, readonly string[]]> = [
  ['setup', ['ping', 'auth', 'select', 'hello', 'client', 'info', 'echo', 'quit', 'reset', 'readonly', 'readwrite']],
  ['transaction', ['multi', 'exec', 'discard', 'watch', 'unwatch']],
  // PUBSUB (CHANNELS, NUMSUB, ...) has no flags of its own; the rest have the pubsub flag.
  ['pubsub', ['pubsub']],
  ['script', ['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro', 'script', 'function']],
];

/** Block only with a BLOCK option; the others with the `blocking` flag always may. */
const WITH_BLOCK_ARG = new Set(['xread', 'xreadgroup']);

const MISS_BY_SHAPE: Readonly<Record<MissShape, readonly string[]>> = {
  nil: ['dump', 'geodist', 'get', 'hget', 'lindex', 'randomkey', 'zscore'],
  'nil-unless-count': ['hrandfield', 'srandmember', 'zrandmember'],
  'nil-if-plain': ['lpos', 'zrank', 'zrevrank'],
  'empty-string': ['getrange', 'substr'],
  'empty-string-if-plain': ['lcs'],
  zero: [
    'bitcount', 'dbsize', 'exists', 'getbit', 'hexists', 'hlen', 'hstrlen', 'llen', 'pfcount', 'scard',
    'sintercard', 'sismember', 'strlen', 'touch', 'xlen', 'zcard', 'zcount', 'zintercard', 'zlexcount',
  ],
  'minus-two': ['expiretime', 'pexpiretime', 'pttl', 'ttl'],
  none: ['type'],
  'empty-array': [
    'georadius_ro', 'georadiusbymember_ro', 'geosearch', 'hkeys', 'hvals', 'keys', 'lrange', 'sort_ro',
    'xrange', 'xrevrange', 'zdiff', 'zinter', 'zrange', 'zrangebylex', 'zrangebyscore', 'zrevrange',
    'zrevrangebylex', 'zrevrangebyscore', 'zunion',
  ],
  'empty-set': ['sdiff', 'sinter', 'smembers', 'sunion'],
  'empty-map': ['hgetall'],
  'empty-scan': ['hscan', 'scan', 'sscan', 'zscan'],
  'null-array': ['xread'],
  'nils-from-1': ['mget'],
  'nils-from-2': ['geohash', 'hmget', 'zmscore'],
  'null-arrays-from-2': ['geopos'],
  'zeros-from-2': ['smismember'],
  'zero-per-get': ['bitfield_ro'],
};

function classOf(name: string): CommandClass {
  for (const [klass, names] of NAMED_CLASSES) if (names.includes(name)) return klass;
  if (hasFlag(name, 'readonly')) return 'read';
  if (hasFlag(name, 'write')) return 'write';
  if (hasFlag(name, 'pubsub')) return 'pubsub';
  if (hasFlag(name, 'admin')) return 'admin';
  return 'other';
}

const missOf = new Map<string, MissShape>();
for (const [shape, names] of Object.entries(MISS_BY_SHAPE) as Array<[MissShape, readonly string[]]>) {
  for (const name of names) missOf.set(name, shape);
}

/** Every command in the table, in id order. */
export const COMMANDS: readonly CommandInfo[] = Object.freeze(
  [...list].sort().map((name, id) =>
    Object.freeze({
      name,
      klass: classOf(name),
      blocking: WITH_BLOCK_ARG.has(name) ? 'with-block-arg' : hasFlag(name, 'blocking') ? 'always' : 'never',
      miss: missOf.get(name),
      id,
    } satisfies CommandInfo),
  ),
);

export const UNKNOWN_COMMAND: CommandInfo = Object.freeze({
  name: 'unknown',
  klass: 'other',
  blocking: 'never',
  miss: undefined,
  id: COMMANDS.length,
});

const byName = new Map(COMMANDS.map((c) => [c.name, c]));

export function commandInfo(lowercaseName: string): CommandInfo | undefined {
  return byName.get(lowercaseName);
}

// Byte lookup: buckets keyed by length and the low 5 bits of the first and last bytes (the same
// for both cases of a letter) hold a few names each (3 at most in this table), compared byte by
// byte through a lowercase table. Only A-Z fold: '_' must not match the byte that `| 0x20` would map onto it.
const LOWER = new Uint8Array(256).map((_, b) => (b >= 65 && b <= 90 ? b + 32 : b));
const MAX_NAME = Math.max(...COMMANDS.map((c) => c.name.length));
const bucketOf = (len: number, first: number, last: number): number => (len << 10) | ((first & 31) << 5) | (last & 31);

interface Candidate {
  readonly bytes: Uint8Array;
  readonly info: CommandInfo;
}

const buckets: Array<Candidate[] | undefined> = new Array(bucketOf(MAX_NAME + 1, 0, 0)).fill(undefined);
for (const info of COMMANDS) {
  const bytes = Buffer.from(info.name, 'latin1');
  (buckets[bucketOf(bytes.length, bytes[0]!, bytes[bytes.length - 1]!)] ??= []).push({ bytes, info });
}

/** commandInfo() straight from request bytes [start, end), case-insensitive, allocation-free. */
export function commandInfoFromBytes(buf: Buffer, start: number, end: number): CommandInfo | undefined {
  const len = end - start;
  if (len <= 0 || len > MAX_NAME) return undefined;
  const candidates = buckets[bucketOf(len, buf[start]!, buf[end - 1]!)];
  if (candidates === undefined) return undefined;
  outer: for (let c = 0; c < candidates.length; c++) {
    const { bytes, info } = candidates[c]!;
    for (let i = 0; i < len; i++) {
      if (LOWER[buf[start + i]!] !== bytes[i]) continue outer;
    }
    return info;
  }
  return undefined;
}
