// RESP framing: the request and reply scanners against generated commands and values, split
// at every kind of chunk boundary, plus truncated and garbage input.
import t from 'tap';
import fc from 'fast-check';
import { MAX_CAPTURED_ARGS, ReplyScanner, RequestScanner, RespError } from '../../../src/proxy/redis/framing.js';

const enc = (s: string): Buffer => Buffer.from(s, 'latin1');

function multibulk(args: Buffer[]): Buffer {
  const parts: Buffer[] = [enc(`*${args.length}\r\n`)];
  for (const a of args) parts.push(enc(`$${a.length}\r\n`), a, enc('\r\n'));
  return Buffer.concat(parts);
}

/** Splits bytes at the given cut points (sorted, deduplicated, inside the buffer). */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    if (p > prev) out.push(bytes.subarray(prev, p));
    prev = p;
  }
  if (prev < bytes.length) out.push(bytes.subarray(prev));
  return out;
}

interface Seen {
  argc: number;
  args: string[];
}

/** Feeds chunks the way the session does (carry until needAtLeast) and collects the commands. */
function scanRequests(chunks: Buffer[], maxBytes = 1 << 30): Seen[] {
  const s = new RequestScanner(maxBytes);
  const seen: Seen[] = [];
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let need = 0;
  for (const chunk of chunks) {
    let buf = chunk;
    if (carryBytes > 0) {
      carry.push(chunk);
      carryBytes += chunk.length;
      if (carryBytes < need) continue;
      buf = Buffer.concat(carry);
      carry = [];
      carryBytes = 0;
    }
    let pos = 0;
    while (pos < buf.length) {
      const end = s.next(buf, pos);
      if (end < 0) {
        carry = [buf.subarray(pos)];
        carryBytes = buf.length - pos;
        need = s.needAtLeast;
        break;
      }
      if (end <= pos || end > buf.length) throw new Error(`a command ended at ${end}, outside ${pos}..${buf.length}`);
      if (s.argc > 0) {
        const args: string[] = [];
        for (let i = 0; i < s.captured; i++) args.push(buf.toString('latin1', s.argStart[i]!, s.argEnd[i]!));
        seen.push({ argc: s.argc, args });
      }
      pos = end;
    }
  }
  if (carryBytes !== 0) throw new Error(`${carryBytes} bytes left over after whole commands`);
  return seen;
}

const arg = fc.uint8Array({ minLength: 0, maxLength: 40 }).map((a) => Buffer.from(a));
const command = fc.array(arg, { minLength: 1, maxLength: 12 });

t.test('multibulk commands are found whole, whatever the chunking', async () => {
  fc.assert(
    fc.property(fc.array(command, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (commands, cuts) => {
      const bytes = Buffer.concat(commands.map(multibulk));
      const seen = scanRequests(split(bytes, cuts));
      if (seen.length !== commands.length) return false;
      return seen.every(
        (s, i) =>
          s.argc === commands[i]!.length &&
          s.args.length === Math.min(MAX_CAPTURED_ARGS, s.argc) &&
          s.args.every((a, j) => a === commands[i]![j]!.toString('latin1')),
      );
    }),
    { numRuns: 300 },
  );
});

t.test('inline commands: split on blanks, quotes kept whole', async (t) => {
  const word = fc.stringMatching(/^[A-Za-z0-9:_.-]{1,12}$/);
  fc.assert(
    fc.property(fc.array(fc.array(word, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), (lines, cuts) => {
      const bytes = enc(lines.map((l) => `${l.join('  ')}\r\n`).join(''));
      const seen = scanRequests(split(bytes, cuts));
      return seen.length === lines.length && seen.every((s, i) => s.args.join(' ') === lines[i]!.slice(0, MAX_CAPTURED_ARGS).join(' '));
    }),
  );
  const s = new RequestScanner(1024);
  const buf = enc('SET k "hello world"\n');
  t.equal(s.next(buf, 0), buf.length);
  t.equal(s.argc, 3);
  t.equal(buf.toString('latin1', s.argStart[2]!, s.argEnd[2]!), 'hello world');
  t.equal(s.next(enc('\r\n'), 0), 2, 'an empty line is a command of no arguments');
  t.equal(s.argc, 0);
});

t.test('every strict prefix of a command is incomplete, never an error or a bogus end', async () => {
  fc.assert(
    fc.property(command, (args) => {
      const bytes = multibulk(args);
      const s = new RequestScanner(1 << 30);
      for (let n = 1; n < bytes.length; n++) {
        if (s.next(bytes.subarray(0, n), 0) !== -1) return false;
        if (s.needAtLeast <= n) return false;
      }
      return s.next(bytes, 0) === bytes.length;
    }),
    { numRuns: 200 },
  );
});

t.test('a large value is waited for in one piece: needAtLeast covers it', async (t) => {
  const s = new RequestScanner(1 << 30);
  const value = Buffer.alloc(1_000_000, 120);
  const bytes = multibulk([enc('SET'), enc('k'), value]);
  t.equal(s.next(bytes.subarray(0, 100), 0), -1);
  t.ok(s.needAtLeast >= bytes.length, `needAtLeast ${s.needAtLeast} covers the whole value`);
});

t.test('limits and malformed input are RespErrors', async (t) => {
  const small = new RequestScanner(1024);
  const tooBig = (buf: Buffer): unknown => {
    try {
      small.next(buf, 0);
      return undefined;
    } catch (err) {
      return err;
    }
  };
  t.match(tooBig(enc('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1099511627776\r\n')), { code: 'too_large' }, 'a declared 1 TiB bulk');
  t.match(tooBig(enc('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n')), { code: 'too_large' }, 'over maxRequestBytes');
  t.match(tooBig(enc('*2\r\n+GET\r\n')), { code: 'protocol' }, 'a non-bulk argument');
  t.match(tooBig(enc('*x\r\n')), { code: 'protocol' }, 'a bad count');
  t.match(tooBig(enc('*1\r\n$3\r\nGETxx')), { code: 'protocol' }, 'a bulk without CRLF');
  t.match(tooBig(enc('*99999999999999999999\r\n')), { code: 'protocol' }, 'a count with too many digits');
  t.match(tooBig(Buffer.alloc(70 * 1024, 65)), { code: 'too_large' }, 'an inline line over 64 KiB');
  t.throws(() => new RequestScanner(1 << 20, 10).next(enc('*11\r\n'), 0), { code: 'too_large' }, 'more arguments than maxArgs');
  t.equal(small.next(enc('*-5\r\n'), 0), 5, 'a negative count is an empty command');
  t.equal(small.argc, 0);
});

t.test('garbage never throws anything but RespError', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const buf = Buffer.from(bytes);
      const s = new RequestScanner(4096);
      let pos = 0;
      try {
        while (pos < buf.length) {
          const end = s.next(buf, pos);
          if (end < 0) break;
          if (end <= pos || end > buf.length) return false;
          pos = end;
        }
      } catch (err) {
        return err instanceof RespError;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});

// --- replies ---

type Value = { type: string; bytes: Buffer };

const bulkish = (p: string) => arg.map((b): Value => ({ type: p, bytes: Buffer.concat([enc(`${p}${b.length}\r\n`), b, enc('\r\n')]) }));
const line = (p: string) => fc.stringMatching(/^[ -~]{0,20}$/).map((s): Value => ({ type: p, bytes: enc(`${p}${s}\r\n`) }));
const leaf: fc.Arbitrary<Value> = fc.oneof(
  line('+'),
  line('-'),
  fc.integer().map((n): Value => ({ type: ':', bytes: enc(`:${n}\r\n`) })),
  bulkish('$'),
  bulkish('!'),
  bulkish('='),
  fc.constant<Value>({ type: '$', bytes: enc('$-1\r\n') }),
  fc.constant<Value>({ type: '*', bytes: enc('*-1\r\n') }),
  fc.constant<Value>({ type: '_', bytes: enc('_\r\n') }),
  fc.constant<Value>({ type: '#', bytes: enc('#t\r\n') }),
  fc.constant<Value>({ type: ',', bytes: enc(',3.14\r\n') }),
  fc.constant<Value>({ type: '(', bytes: enc('(3492890328409238509324850943850943825024385\r\n') }),
);
const { value } = fc.letrec<{ value: Value }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.tuple(fc.constantFrom('*', '~', '>'), fc.array(tie('value'), { maxLength: 4 })).map(([p, items]): Value => ({
      type: p,
      bytes: Buffer.concat([enc(`${p}${items.length}\r\n`), ...items.map((i) => i.bytes)]),
    })),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((pairs): Value => ({
      type: '%',
      bytes: Buffer.concat([enc(`%${pairs.length}\r\n`), ...pairs.flatMap(([k, v]) => [k.bytes, v.bytes])]),
    })),
    fc.tuple(fc.array(fc.tuple(leaf, leaf), { minLength: 0, maxLength: 2 }), tie('value')).map(([attrs, v]): Value => ({
      // An attribute annotates the value after it and is not a value of its own.
      type: v.type,
      bytes: Buffer.concat([enc(`|${attrs.length}\r\n`), ...attrs.flatMap(([k, a]) => [k.bytes, a.bytes]), v.bytes]),
    })),
  ),
}));

t.test('replies: every top-level end and type is found, whatever the chunking', async () => {
  fc.assert(
    fc.property(fc.array(value, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 12 }), (values, cuts) => {
      const bytes = Buffer.concat(values.map((v) => v.bytes));
      const s = new ReplyScanner();
      const found: { type: string; end: number }[] = [];
      let offset = 0;
      for (const chunk of split(bytes, cuts)) {
        let p = 0;
        for (;;) {
          const end = s.scan(chunk, p);
          if (end < 0) break;
          found.push({ type: String.fromCharCode(s.type), end: offset + end });
          p = end;
          if (p >= chunk.length) break;
        }
        offset += chunk.length;
      }
      let expectedEnd = 0;
      return (
        !s.inProgress &&
        found.length === values.length &&
        found.every((f, i) => {
          expectedEnd += values[i]!.bytes.length;
          return f.end === expectedEnd && f.type === values[i]!.type;
        })
      );
    }),
    { numRuns: 500 },
  );
});

t.test('replies: start says where the reply in progress began', async (t) => {
  const s = new ReplyScanner();
  const buf = enc('+OK\r\n-ERR bad');
  t.equal(s.scan(buf, 0), 5);
  t.equal(s.scan(buf, 5), -1);
  t.ok(s.inProgress);
  t.equal(s.start, 5);
  t.equal(String.fromCharCode(s.type), '-');
  t.equal(s.scan(enc(' thing\r\n'), 0), 8);
  t.equal(s.start, -1, 'it began in the earlier chunk');
});

t.test('replies: garbage never throws anything but RespError', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const buf = Buffer.from(bytes);
      const s = new ReplyScanner();
      try {
        let p = 0;
        while (p < buf.length) {
          const end = s.scan(buf, p);
          if (end < 0) break;
          if (end <= p || end > buf.length) return false;
          p = end;
        }
      } catch (err) {
        return err instanceof RespError;
      }
      return true;
    }),
    { numRuns: 2000 },
  );
});
