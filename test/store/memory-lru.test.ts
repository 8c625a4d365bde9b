import fc from 'fast-check';
import t from 'tap';
import { MemoryLru, entrySize, type CachedEntry } from '../../src/store/memory-lru.js';

/** A hand-driven clock (epoch ms). */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

function entry(body: string, storedAt: number, meta: Record<string, string> = {}): CachedEntry {
  return { body: Buffer.from(body), meta, storedAt };
}

t.test('entrySize counts key, body and meta', async (t) => {
  t.equal(entrySize('k', entry('abcd', 0)), 5);
  t.equal(entrySize('key', entry('', 0, { ab: 'cde' })), 8);
});

t.test('get after set returns the same entry; delete removes it', async (t) => {
  const c = clock();
  const lru = new MemoryLru({ maxBytes: 1000, maxEntries: 10, ttlMs: 1000, now: c.now });
  const e = entry('hello', c.now(), { format: 'JSON' });
  t.ok(lru.set('a', e));
  t.equal(lru.get('a'), e);
  t.equal(lru.get('b'), undefined);
  t.equal(lru.bytes, entrySize('a', e));
  t.ok(lru.delete('a'));
  t.notOk(lru.delete('a'));
  t.equal(lru.get('a'), undefined);
  t.equal(lru.bytes, 0);
  t.equal(lru.size, 0);
});

t.test('replacing a key adjusts the byte count', async (t) => {
  const c = clock();
  const lru = new MemoryLru({ maxBytes: 1000, maxEntries: 10, ttlMs: 1000, now: c.now });
  lru.set('a', entry('x'.repeat(100), c.now()));
  lru.set('a', entry('x'.repeat(10), c.now()));
  t.equal(lru.size, 1);
  t.equal(lru.bytes, 11);
});

t.test('byte bound: least recently used entries go first', async (t) => {
  const c = clock();
  // each entry: 1-char key + 9-byte body = 10 bytes; room for 3
  const lru = new MemoryLru({ maxBytes: 30, maxEntries: 100, ttlMs: 1000, now: c.now });
  for (const k of ['a', 'b', 'c']) lru.set(k, entry('123456789', c.now()));
  t.equal(lru.bytes, 30);
  t.ok(lru.get('a'), 'touch a: b is now the oldest');
  lru.set('d', entry('123456789', c.now()));
  t.equal(lru.get('b'), undefined, 'b evicted');
  t.ok(lru.get('a'));
  t.ok(lru.get('c'));
  t.ok(lru.get('d'));
  t.equal(lru.bytes, 30);
  // one big entry pushes out as many as needed
  lru.set('e', entry('x'.repeat(19), c.now()));
  t.equal(lru.size, 2);
  t.ok(lru.get('d'));
  t.ok(lru.get('e'));
  t.ok(lru.bytes <= 30);
});

t.test('an entry larger than the whole bound is not stored and drops the old value', async (t) => {
  const c = clock();
  const lru = new MemoryLru({ maxBytes: 20, maxEntries: 100, ttlMs: 1000, now: c.now });
  lru.set('a', entry('small', c.now()));
  lru.set('k', entry('old', c.now()));
  t.notOk(lru.set('k', entry('x'.repeat(20), c.now())));
  t.equal(lru.get('k'), undefined, 'no stale value left behind');
  t.ok(lru.get('a'), 'others untouched');
});

t.test('count bound', async (t) => {
  const c = clock();
  const lru = new MemoryLru({ maxBytes: 1_000_000, maxEntries: 3, ttlMs: 1000, now: c.now });
  for (const k of ['a', 'b', 'c', 'd', 'e']) lru.set(k, entry('v', c.now()));
  t.equal(lru.size, 3);
  t.same(['a', 'b', 'c', 'd', 'e'].map((k) => lru.get(k) !== undefined), [false, false, true, true, true]);
});

t.test('TTL counts from storedAt; expired entries are dropped on get', async (t) => {
  const c = clock();
  const lru = new MemoryLru({ maxBytes: 1000, maxEntries: 10, ttlMs: 100, now: c.now });
  lru.set('fresh', entry('v', c.now()));
  lru.set('older', entry('v', c.now() - 40));
  c.advance(50);
  t.ok(lru.get('fresh'));
  t.ok(lru.get('older'));
  c.advance(10); // older is now exactly ttl old
  t.equal(lru.get('older'), undefined);
  t.equal(lru.size, 1, 'dropped, not just hidden');
  t.ok(lru.get('fresh'));
  c.advance(40); // fresh is exactly ttl old
  t.equal(lru.get('fresh'), undefined);
  t.equal(lru.bytes, 0);
  t.notOk(lru.set('stale', entry('v', c.now() - 100)), 'an already expired entry is not stored');
  t.equal(lru.size, 0);
});

/** The obvious O(n) LRU: an array, oldest first. The model the real one must agree with. */
class NaiveLru {
  items: { key: string; entry: CachedEntry; size: number }[] = [];
  constructor(readonly maxBytes: number, readonly maxEntries: number, readonly ttlMs: number, readonly now: () => number) {}
  bytes(): number {
    return this.items.reduce((sum, i) => sum + i.size, 0);
  }
  get(key: string): CachedEntry | undefined {
    const at = this.items.findIndex((i) => i.key === key);
    if (at < 0) return undefined;
    const [item] = this.items.splice(at, 1);
    if (this.now() >= item!.entry.storedAt + this.ttlMs) return undefined;
    this.items.push(item!);
    return item!.entry;
  }
  set(key: string, entry: CachedEntry): boolean {
    this.delete(key);
    const size = entrySize(key, entry);
    if (size > this.maxBytes || this.now() >= entry.storedAt + this.ttlMs) return false;
    while (this.bytes() + size > this.maxBytes || this.items.length >= this.maxEntries) this.items.shift();
    this.items.push({ key, entry, size });
    return true;
  }
  delete(key: string): void {
    this.items = this.items.filter((i) => i.key !== key);
  }
}

t.test('property: random operations keep the bounds and agree with a naive LRU', async (t) => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 15 }), size: fc.integer({ min: 0, max: 60 }), age: fc.integer({ min: 0, max: 120 }) }),
    fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 15 }) }),
    fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 15 }) }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 200 }), (maxBytes, maxEntries, ops) => {
      const c = clock();
      const ttlMs = 100;
      const lru = new MemoryLru({ maxBytes, maxEntries, ttlMs, now: c.now });
      const model = new NaiveLru(maxBytes, maxEntries, ttlMs, c.now);
      // what each key was last set to: a hit must be exactly that, and live
      const last = new Map<string, CachedEntry>();
      let n = 0;
      for (const o of ops) {
        if (o.kind === 'tick') {
          c.advance(o.ms);
        } else if (o.kind === 'set') {
          const key = `k${o.key}`;
          const e = entry('x'.repeat(o.size), c.now() - o.age, { n: String(n++) });
          if (lru.set(key, e) !== model.set(key, e)) return false;
          last.set(key, e);
        } else if (o.kind === 'delete') {
          lru.delete(`k${o.key}`);
          model.delete(`k${o.key}`);
        } else {
          const key = `k${o.key}`;
          const got = lru.get(key);
          if (got !== model.get(key)) return false;
          if (got !== undefined && (got !== last.get(key) || c.now() >= got.storedAt + ttlMs)) return false;
        }
        if (lru.bytes > maxBytes || lru.size > maxEntries || lru.bytes !== model.bytes() || lru.size !== model.items.length) return false;
      }
      return true;
    }),
    { numRuns: 500 },
  );
  t.pass('bounds held, every answer matched the model');
});

t.test('property: with room for everything and no expiry, nothing is lost', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 20 }), fc.string({ maxLength: 20 }))), (sets) => {
      const c = clock();
      const lru = new MemoryLru({ maxBytes: 1_000_000, maxEntries: 1000, ttlMs: 1000, now: c.now });
      const last = new Map<string, string>();
      for (const [k, v] of sets) {
        lru.set(`k${k}`, entry(v, c.now()));
        last.set(`k${k}`, v);
      }
      for (const [k, v] of last) if (lru.get(k)?.body.toString() !== v) return false;
      return lru.size === last.size;
    }),
  );
  t.pass('every key returned its last value');
});
