import fc from 'fast-check';
import t from 'tap';
import {
  COMMAND_CLASSES,
  COMMANDS,
  UNKNOWN_COMMAND,
  commandInfo,
  commandInfoFromBytes,
  type CommandClass,
} from '../../../src/proxy/redis/commands.js';

t.test('representative classification', async (t) => {
  const expected: Record<string, CommandClass> = {
    get: 'read', mget: 'read', hgetall: 'read', zrangebyscore: 'read', xread: 'read', scan: 'read', ttl: 'read',
    set: 'write', incr: 'write', del: 'write', expire: 'write', getdel: 'write', flushall: 'write',
    blpop: 'write', brpoplpush: 'write', xreadgroup: 'write', spop: 'write', sort: 'write',
    // write before admin
    pfdebug: 'write',
    // explicit lists win over flags: readonly has no readonly flag, eval_ro has it
    ping: 'setup', auth: 'setup', select: 'setup', hello: 'setup', client: 'setup', info: 'setup',
    echo: 'setup', quit: 'setup', reset: 'setup', readonly: 'setup', readwrite: 'setup',
    multi: 'transaction', exec: 'transaction', discard: 'transaction', watch: 'transaction', unwatch: 'transaction',
    subscribe: 'pubsub', psubscribe: 'pubsub', ssubscribe: 'pubsub', unsubscribe: 'pubsub', punsubscribe: 'pubsub',
    sunsubscribe: 'pubsub', publish: 'pubsub', spublish: 'pubsub', pubsub: 'pubsub',
    eval: 'script', evalsha: 'script', eval_ro: 'script', evalsha_ro: 'script', fcall: 'script', fcall_ro: 'script',
    script: 'script', function: 'script',
    save: 'admin', bgsave: 'admin', shutdown: 'admin', monitor: 'admin', debug: 'admin', replicaof: 'admin',
    config: 'other', command: 'other', wait: 'other', xgroup: 'other', object: 'other',
  };
  for (const [name, klass] of Object.entries(expected)) t.equal(commandInfo(name)?.klass, klass, name);
  t.same(new Set(COMMANDS.map((c) => c.klass)), new Set(COMMAND_CLASSES), 'every class is used, no other');
});

t.test('blocking commands', async (t) => {
  const blocking = Object.fromEntries(COMMANDS.filter((c) => c.blocking !== 'never').map((c) => [c.name, c.blocking]));
  t.same(blocking, {
    blpop: 'always', brpop: 'always', blmove: 'always', brpoplpush: 'always', blmpop: 'always',
    bzpopmin: 'always', bzpopmax: 'always', bzmpop: 'always', wait: 'always', waitaof: 'always',
    // Redis 8's blocking LMOVE variant, flagged blocking in the table
    blmovem: 'always',
    xread: 'with-block-arg', xreadgroup: 'with-block-arg',
  });
});

t.test('ids are dense, names lowercase and unique', async (t) => {
  COMMANDS.forEach((c, i) => {
    if (c.id !== i) t.fail(`${c.name} has id ${c.id} at index ${i}`);
    if (c.name !== c.name.toLowerCase()) t.fail(`${c.name} is not lowercase`);
    if (commandInfo(c.name) !== c) t.fail(`commandInfo(${c.name}) is another object`);
  });
  t.equal(new Set(COMMANDS.map((c) => c.name)).size, COMMANDS.length);
  t.ok(COMMANDS.length > 200, `${COMMANDS.length} commands`);
  t.equal(UNKNOWN_COMMAND.id, COMMANDS.length);
  t.equal(UNKNOWN_COMMAND.name, 'unknown');
  t.equal(UNKNOWN_COMMAND.klass, 'other');
  t.equal(UNKNOWN_COMMAND.miss, undefined);
  t.ok(Object.isFrozen(COMMANDS[0]) && Object.isFrozen(UNKNOWN_COMMAND), 'frozen');
});

t.test('miss shapes only on reads, and on the usual ones', async (t) => {
  for (const c of COMMANDS) {
    if (c.miss !== undefined && c.klass !== 'read') t.fail(`${c.name} (${c.klass}) has a miss shape`);
  }
  const spot: Record<string, string | undefined> = {
    get: 'nil', hget: 'nil', mget: 'nils-from-1', hmget: 'nils-from-2', exists: 'zero', ttl: 'minus-two',
    lrange: 'empty-array', smembers: 'empty-set', hgetall: 'empty-map', scan: 'empty-scan', type: 'none',
    xread: 'null-array', getrange: 'empty-string', srandmember: 'nil-unless-count', lpos: 'nil-if-plain',
    bitpos: undefined, xpending: undefined, lolwut: undefined, set: undefined, eval_ro: undefined,
  };
  for (const [name, shape] of Object.entries(spot)) t.equal(commandInfo(name)?.miss, shape, name);
});

t.test('unknown names', async (t) => {
  for (const name of ['', 'unknown', 'gett', 'ge', 'GET', 'x'.repeat(100)]) t.equal(commandInfo(name), undefined, name);
  const cases = ['', 'gett', 'ge', 'g', 'foo', 'x'.repeat(100), 'eval\x7fro', 'eval-ro', 'client\x00', 'G\xc9T'];
  for (const name of cases) {
    const buf = Buffer.from(name, 'latin1');
    t.equal(commandInfoFromBytes(buf, 0, buf.length), undefined, JSON.stringify(name));
  }
  const buf = Buffer.from('xget', 'latin1');
  t.equal(commandInfoFromBytes(buf, 2, 1), undefined, 'end before start');
});

/** What the byte lookup must do: fold A-Z only (not Latin-1 letters), then look up. */
function reference(bytes: Uint8Array): ReturnType<typeof commandInfo> {
  return commandInfo(String.fromCharCode(...bytes.map((b) => (b >= 65 && b <= 90 ? b + 32 : b))));
}

t.test('commandInfoFromBytes agrees with commandInfo for every command, in any case, anywhere in a buffer', async (t) => {
  for (const c of COMMANDS) {
    for (const name of [c.name, c.name.toUpperCase()]) {
      const buf = Buffer.from(`*1\r\n$${name.length}\r\n${name}\r\n`, 'latin1');
      const start = buf.indexOf(name, 4, 'latin1');
      if (commandInfoFromBytes(buf, start, start + name.length) !== c) t.fail(name);
    }
  }
  fc.assert(
    fc.property(
      fc.constantFrom(...COMMANDS.map((c) => c.name)),
      fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
      fc.uint8Array({ maxLength: 8 }),
      fc.uint8Array({ maxLength: 8 }),
      (name, upper, before, after) => {
        const cased = [...name].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch)).join('');
        const buf = Buffer.concat([before, Buffer.from(cased, 'latin1'), after]);
        return commandInfoFromBytes(buf, before.length, before.length + name.length) === commandInfo(name);
      },
    ),
    { numRuns: 5000 },
  );
  t.pass('random casing and surroundings');
});

t.test('commandInfoFromBytes on random and almost-right bytes', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 24 }), (bytes) => commandInfoFromBytes(Buffer.from(bytes), 0, bytes.length) === reference(bytes)),
    { numRuns: 20000 },
  );
  // one byte of a real name replaced by anything: found only when the result is another name
  fc.assert(
    fc.property(fc.constantFrom(...COMMANDS.map((c) => c.name)), fc.nat(), fc.integer({ min: 0, max: 255 }), (name, at, byte) => {
      const bytes = Buffer.from(name, 'latin1');
      bytes[at % bytes.length] = byte;
      return commandInfoFromBytes(bytes, 0, bytes.length) === reference(bytes);
    }),
    { numRuns: 20000 },
  );
  t.pass('matches the A-Z-folding reference');
});
