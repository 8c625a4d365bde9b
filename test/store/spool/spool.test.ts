// The durable spool on real files in a temp dir: order, depth, recovery after
// restart and torn tails, the byte bound, segment rolling and deletion,
// concurrency (group commit), locking and input errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Spool, SpoolClosedError, SpoolCorruptError, SpoolFullError, SpoolInputError, SpoolLockedError, type SpoolInput } from '../../../src/store/spool/spool.js';
import { HEADER_BYTES } from '../../../src/store/spool/segment.js';

/** A fresh temp dir, removed after the test. */
function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'breakwater-spool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const input = (stream: string, text: string, count = 1): SpoolInput => ({ stream, payload: Buffer.from(text), count });
const size = (stream: string, text: string): number => HEADER_BYTES + Buffer.byteLength(stream) + Buffer.byteLength(text);
const segments = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).sort();
const texts = (entries: { payload: Buffer }[]): string[] => entries.map((e) => e.payload.toString());

t.test('append, peek and ack keep append order; depth follows', async (t) => {
  const dir = tempDir(t);
  let now = 1_000;
  const spool = await Spool.open({ dir, maxBytes: 1 << 20, now: () => now });
  t.same(spool.depth, { entries: 0, records: 0, bytes: 0, oldestAppendedAt: null });
  t.same(await spool.peek(1000), []);
  t.notOk(spool.anyPending, 'anyPending: nothing yet');
  const first = spool.append([input('a/0', 'one', 2), input('b/0', 'two', 3)]);
  t.ok(spool.anyPending, 'anyPending counts an append still in flight');
  await first;
  now = 2_000;
  await spool.append([input('a/0', 'three', 4)]);
  t.same(spool.depth, { entries: 3, records: 9, bytes: size('a/0', 'one') + size('b/0', 'two') + size('a/0', 'three'), oldestAppendedAt: 1_000 });
  t.ok(spool.hasPending('a/0'));
  t.ok(spool.hasPending('b/0'));
  t.notOk(spool.hasPending('c/0'));

  const all = await spool.peek(1 << 20);
  t.same(
    all.map((e) => ({ seq: e.seq, stream: e.stream, text: e.payload.toString(), count: e.count, appendedAt: e.appendedAt })),
    [
      { seq: 1, stream: 'a/0', text: 'one', count: 2, appendedAt: 1_000 },
      { seq: 2, stream: 'b/0', text: 'two', count: 3, appendedAt: 1_000 },
      { seq: 3, stream: 'a/0', text: 'three', count: 4, appendedAt: 2_000 },
    ],
  );
  t.same(texts(await spool.peek(6)), ['one', 'two'], 'maxBytes counts payload bytes');
  t.same(texts(await spool.peek(1)), ['one'], 'at least one entry even when bigger than maxBytes');
  t.same(texts(await spool.peek(1 << 20, 2)), ['one', 'two'], 'maxEntries');
  t.same(texts(await spool.peek(1 << 20)), ['one', 'two', 'three'], 'peek removes nothing');

  await spool.ack(2);
  t.same(spool.depth, { entries: 1, records: 4, bytes: size('a/0', 'three'), oldestAppendedAt: 2_000 });
  t.notOk(spool.hasPending('b/0'));
  t.ok(spool.hasPending('a/0'));
  t.same(texts(await spool.peek(1 << 20)), ['three']);
  await spool.ack(1); // behind the cursor: nothing
  await spool.ack(3);
  t.same(spool.depth, { entries: 0, records: 0, bytes: 0, oldestAppendedAt: null });
  t.notOk(spool.hasPending('a/0'));
  t.notOk(spool.anyPending, 'anyPending: false once everything is acknowledged');
  await t.rejects(spool.ack(4), SpoolInputError, 'cannot ack what was never appended');
  await spool.append([input('a/0', 'four')]);
  t.same((await spool.peek(100)).map((e) => e.seq), [4], 'seqs keep counting after an ack');
  await spool.close();
  await t.rejects(spool.append([input('a/0', 'x')]), SpoolClosedError);
});

t.test('restart recovers exactly the unacknowledged entries, payloads identical', async (t) => {
  const dir = tempDir(t);
  const payloads = Array.from({ length: 50 }, (_, i) => Buffer.from(Array.from({ length: 1 + ((i * 37) % 300) }, (_, j) => (i * 7 + j) & 0xff)));
  let spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 2_000 });
  for (let i = 0; i < payloads.length; i += 5) {
    await spool.append(payloads.slice(i, i + 5).map((payload, k) => ({ stream: `s/${(i + k) % 3}`, payload, count: i + k })));
  }
  await spool.ack(17);
  const depth = spool.depth;
  await spool.close();

  spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 2_000 });
  t.same(spool.recovered, { entries: 33, truncatedBytes: 0, truncatedSegment: null, reason: null });
  t.same(spool.depth, depth);
  const entries = await spool.peek(Infinity);
  t.same(entries.map((e) => e.seq), Array.from({ length: 33 }, (_, i) => 18 + i));
  t.ok(entries.every((e) => e.payload.equals(payloads[e.seq - 1]!) && e.count === e.seq - 1 && e.stream === `s/${(e.seq - 1) % 3}`), 'payloads, counts, streams identical');
  t.ok(spool.hasPending('s/0') && spool.hasPending('s/1') && spool.hasPending('s/2'));
  await spool.append([input('s/9', 'after')]);
  t.equal((await spool.peek(Infinity)).at(-1)!.seq, 51, 'the next seq follows the recovered ones');
  await spool.ack(51);
  await spool.close();

  // Everything acknowledged: a restart replays nothing and seqs still go on.
  spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 2_000 });
  t.equal(spool.recovered.entries, 0);
  t.same(spool.depth.entries, 0);
  await spool.append([input('s/0', 'x')]);
  t.equal((await spool.peek(10))[0]!.seq, 52);
  await spool.close();
});

t.test('a torn tail is cut back to the last good record', async (t) => {
  for (const damage of ['truncate', 'flip', 'garbage', 'zeroes'] as const) {
    await t.test(damage, async (t) => {
      const dir = tempDir(t);
      let spool = await Spool.open({ dir, maxBytes: 1 << 20 });
      for (let i = 0; i < 10; i++) await spool.append([input('t/0', `record-${i}-${'x'.repeat(i * 10)}`)]);
      await spool.close();
      const [file] = segments(dir);
      const full = path.join(dir, file!);
      const bytes = fs.statSync(full).size;
      const lastSize = size('t/0', `record-9-${'x'.repeat(90)}`);
      const goodBytes = bytes - lastSize;
      if (damage === 'truncate') fs.truncateSync(full, bytes - 7); // mid-record
      if (damage === 'flip') {
        const buf = fs.readFileSync(full);
        buf[goodBytes + HEADER_BYTES + 5]! ^= 0x40; // a payload byte of the last record
        fs.writeFileSync(full, buf);
      }
      if (damage === 'garbage') fs.appendFileSync(full, Buffer.alloc(100, 0xff)); // junk past the end
      if (damage === 'zeroes') fs.appendFileSync(full, Buffer.alloc(100, 0)); // as the zeroes written ahead
      spool = await Spool.open({ dir, maxBytes: 1 << 20 });
      const expectedEntries = damage === 'garbage' || damage === 'zeroes' ? 10 : 9;
      t.equal(spool.recovered.entries, expectedEntries);
      t.equal(spool.recovered.truncatedBytes, damage === 'garbage' ? 100 : damage === 'zeroes' ? 0 : damage === 'truncate' ? lastSize - 7 : lastSize);
      t.equal(spool.recovered.truncatedSegment, damage === 'zeroes' ? null : full);
      if (damage === 'zeroes') t.equal(spool.recovered.reason, null, 'zeroes are the end of the data, not damage');
      else t.type(spool.recovered.reason, 'string');
      t.equal(fs.statSync(full).size, damage === 'garbage' || damage === 'zeroes' ? bytes : goodBytes, 'file cut back');
      const entries = await spool.peek(Infinity);
      t.same(texts(entries), Array.from({ length: expectedEntries }, (_, i) => `record-${i}-${'x'.repeat(i * 10)}`));
      // Appending after recovery continues the file cleanly.
      await spool.append([input('t/0', 'after')]);
      await spool.close();
      spool = await Spool.open({ dir, maxBytes: 1 << 20 });
      t.equal(spool.recovered.truncatedBytes, 0);
      t.same(texts(await spool.peek(Infinity)).at(-1), 'after');
      t.same((await spool.peek(Infinity)).at(-1)!.seq, expectedEntries + 1);
      await spool.close();
    });
  }
});

t.test('damage in a segment before the last is reported, not dropped', async (t) => {
  const dir = tempDir(t);
  let spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 200 });
  for (let i = 0; i < 6; i++) await spool.append([input('d/0', 'y'.repeat(100))]);
  await spool.close();
  const files = segments(dir);
  t.ok(files.length >= 3);
  const first = path.join(dir, files[0]!);
  const buf = fs.readFileSync(first);
  buf[HEADER_BYTES + 10]! ^= 1;
  fs.writeFileSync(first, buf);
  await t.rejects(Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 200 }), SpoolCorruptError);
  t.notOk(fs.existsSync(path.join(dir, 'lock')), 'a failed open releases the lock');
  buf[HEADER_BYTES + 10]! ^= 1;
  fs.writeFileSync(first, buf);
  spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 200 });
  t.equal(spool.depth.entries, 6);
  await spool.close();
});

t.test('a flipped byte before intact records of the last segment is damage, not a torn tail', async (t) => {
  const dir = tempDir(t);
  let spool = await Spool.open({ dir, maxBytes: 1 << 20 });
  for (let i = 0; i < 3; i++) await spool.append([input('m/0', `middle-${i}`)]);
  await spool.close();
  const file = path.join(dir, segments(dir)[0]!);
  const buf = fs.readFileSync(file);
  const second = size('m/0', 'middle-0');
  buf[second + HEADER_BYTES + 4]! ^= 0x10;
  fs.writeFileSync(file, buf);
  const err = await Spool.open({ dir, maxBytes: 1 << 20 }).catch((e: unknown) => e);
  t.type(err, SpoolCorruptError);
  t.match(err, { code: 'E_SPOOL_CORRUPT', offset: second, message: /damaged at byte/ });
  t.equal(fs.statSync(file).size, buf.length, 'nothing cut');
  buf[second + HEADER_BYTES + 4]! ^= 0x10;
  fs.writeFileSync(file, buf);
  spool = await Spool.open({ dir, maxBytes: 1 << 20 });
  t.same(texts(await spool.peek(Infinity)), ['middle-0', 'middle-1', 'middle-2']);
  await spool.close();
});

t.test('a full spool rejects appends without writing; acking frees space', async (t) => {
  const dir = tempDir(t);
  const one = size('f/0', 'z'.repeat(70)); // 100 bytes
  const spool = await Spool.open({ dir, maxBytes: 3 * one });
  await spool.append([input('f/0', 'z'.repeat(70)), input('f/0', 'z'.repeat(70))]);
  const before = fs.statSync(path.join(dir, segments(dir)[0]!)).size;
  const err = await spool.append([input('f/0', 'z'.repeat(70)), input('f/0', 'z'.repeat(70))]).catch((e: unknown) => e);
  t.type(err, SpoolFullError);
  t.match(err, { code: 'E_SPOOL_FULL', heldBytes: 2 * one, maxBytes: 3 * one, requestedBytes: 2 * one });
  t.equal((err as Error).message, `spool at ${dir} holds ${2 * one} bytes of maxBytes ${3 * one}; raise spool.maxBytes or restore the dependency`);
  t.equal(fs.statSync(path.join(dir, segments(dir)[0]!)).size, before, 'nothing written');
  t.equal(spool.depth.entries, 2, 'all or nothing: no part of the batch is in');
  await spool.append([input('f/0', 'z'.repeat(70))]); // exactly full
  t.equal(spool.depth.bytes, 3 * one);
  await t.rejects(spool.append([input('f/0', '')]), SpoolFullError);
  // In-flight appends count too: two concurrent appends cannot both take the last space.
  await spool.ack(2);
  const results = await Promise.allSettled([spool.append([input('f/0', 'z'.repeat(70))]), spool.append([input('f/0', 'z'.repeat(70)), input('f/0', 'z'.repeat(70))])]);
  t.same(
    results.map((r) => r.status),
    ['fulfilled', 'rejected'],
  );
  await spool.ack(4);
  await spool.append([input('f/0', 'z'.repeat(70)), input('f/0', 'z'.repeat(70)), input('f/0', 'z'.repeat(70))]);
  t.equal(spool.depth.bytes, 3 * one, 'all of maxBytes is usable again');
  await spool.close();
});

t.test('invalid inputs are refused clearly', async (t) => {
  const dir = tempDir(t);
  const spool = await Spool.open({ dir, maxBytes: 200 });
  await t.rejects(spool.append([input('', 'x')]), { name: 'SpoolInputError', message: /non-empty stream/ });
  await t.rejects(spool.append([input('s', 'x', -1)]), { name: 'SpoolInputError', message: /count/ });
  await t.rejects(spool.append([input('s', 'x', 1.5)]), SpoolInputError);
  await t.rejects(spool.append([input('s', 'x'.repeat(200))]), { code: 'E_SPOOL_INPUT', message: /larger than maxBytes 200/ });
  await t.rejects(spool.append([input('s', 'x'.repeat(100)), input('s', 'x'.repeat(100))]), { code: 'E_SPOOL_INPUT', message: /append of 2 entries/ });
  await t.rejects(spool.append([input('s'.repeat(70_000), 'x')]), SpoolInputError);
  await t.rejects(spool.append([{ stream: 's', payload: 'text' as unknown as Uint8Array, count: 1 }]), SpoolInputError);
  await t.rejects(spool.ack(-1), SpoolInputError);
  await t.rejects(spool.ack(Number.NaN), SpoolInputError);
  await spool.append([]);
  t.equal(spool.depth.entries, 0, 'nothing of the refused appends is in');
  t.equal(spool.lastSeq, 0, 'refused appends take no seq');
  await t.rejects(Spool.open({ dir: path.join(dir, 'x'), maxBytes: 0 }), SpoolInputError);
  await t.rejects(Spool.open({ dir: path.join(dir, 'x'), maxBytes: 10, segmentBytes: -1 }), SpoolInputError);
  await spool.close();
});

t.test('segments roll over and acknowledged ones are deleted', async (t) => {
  const dir = tempDir(t);
  const one = size('r/0', 'q'.repeat(70)); // 100 bytes
  const spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 3 * one });
  for (let i = 0; i < 10; i++) await spool.append([input('r/0', 'q'.repeat(70))]);
  t.same(segments(dir), ['00000000000000000001.seg', '00000000000000000004.seg', '00000000000000000007.seg', '00000000000000000010.seg']);
  t.equal(fs.statSync(path.join(dir, '00000000000000000001.seg')).size, 3 * one);
  const big = await spool.append([input('r/0', 'B'.repeat(5 * one))]).then(() => spool.peek(Infinity));
  t.equal(big.at(-1)!.payload.length, 5 * one, 'an entry larger than a segment gets one of its own');
  t.same(segments(dir).slice(-2), ['00000000000000000010.seg', '00000000000000000011.seg']);
  await spool.ack(5);
  t.same(segments(dir), ['00000000000000000004.seg', '00000000000000000007.seg', '00000000000000000010.seg', '00000000000000000011.seg'], 'only wholly acknowledged segments go');
  await spool.ack(9);
  t.same(segments(dir), ['00000000000000000010.seg', '00000000000000000011.seg']);
  await spool.ack(11);
  t.same(segments(dir), ['00000000000000000011.seg'], 'the active segment stays');
  t.equal(fs.readFileSync(path.join(dir, 'ack'), 'utf8'), '11\n');
  await spool.append([input('r/0', 'next')]);
  t.same(segments(dir), ['00000000000000000012.seg'], 'rolling away from an acknowledged segment deletes it');
  await spool.close();
});

t.test('a peek in progress keeps its segment readable while an ack deletes it', async (t) => {
  const dir = tempDir(t);
  const spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 100 });
  for (let i = 0; i < 20; i++) await spool.append([input('p/0', `${i}`.repeat(80))]);
  const peeking = spool.peek(Infinity);
  const acking = spool.ack(19);
  const [entries] = await Promise.all([peeking, acking]);
  t.equal(entries.length, 20);
  t.ok(entries.every((e, i) => e.payload.toString() === `${i}`.repeat(80)));
  t.same(segments(dir), ['00000000000000000020.seg']);
  await spool.close();
});

t.test('concurrent appends all resolve, in call order, with fewer fsyncs than appends', async (t) => {
  const dir = tempDir(t);
  const spool = await Spool.open({ dir, maxBytes: 64 << 20, segmentBytes: 256 << 10 });
  const n = 2_000;
  const order: number[] = [];
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      spool.append([{ stream: `c/${i % 7}`, payload: Buffer.from(String(i).padEnd(100, '.')), count: 1 }]).then(() => order.push(i)),
    ),
  );
  t.equal(order.length, n);
  t.ok(order.every((v, i) => v === i), 'resolved in append order');
  const entries = await spool.peek(Infinity);
  t.same(
    entries.map((e) => e.seq),
    Array.from({ length: n }, (_, i) => i + 1),
  );
  t.ok(entries.every((e, i) => e.payload.toString().startsWith(`${i}.`) && e.stream === `c/${i % 7}`), 'payload i is entry i');
  t.ok(spool.stats.fsyncs < n / 10, `group commit: ${spool.stats.fsyncs} fsyncs for ${n} appends`);
  t.ok(segments(dir).length > 1, 'rolled during the groups');
  // Appends made while a write is in flight join the next group.
  const first = spool.append([input('c/0', 'a')]);
  await Promise.resolve();
  const fsyncs = spool.stats.fsyncs;
  await Promise.all([first, ...Array.from({ length: 50 }, () => spool.append([input('c/0', 'b')]))]);
  t.ok(spool.stats.fsyncs - fsyncs <= 3, `51 appends took ${spool.stats.fsyncs - fsyncs} fsyncs`);
  // close() waits for pending appends.
  const late = spool.append([input('c/0', 'late')]);
  await spool.close();
  await late;
  const again = await Spool.open({ dir, maxBytes: 64 << 20 });
  t.equal(again.depth.entries, n + 52);
  await again.close();
});

t.test('a second open of the same dir fails; a stale lock is taken over', async (t) => {
  const dir = tempDir(t);
  const spool = await Spool.open({ dir, maxBytes: 1000 });
  await t.rejects(Spool.open({ dir, maxBytes: 1000 }), { name: 'SpoolLockedError', message: /already open in this process/ });
  await spool.close();
  t.notOk(fs.existsSync(path.join(dir, 'lock')));

  // A live other process holds it.
  fs.writeFileSync(path.join(dir, 'lock'), JSON.stringify({ pid: process.ppid, start: null }) + '\n');
  const err = await Spool.open({ dir, maxBytes: 1000 }).catch((e: unknown) => e);
  t.type(err, SpoolLockedError);
  t.match((err as Error).message, new RegExp(`in use by process ${process.ppid}`));

  // Dead pid (a finished child), half-written lock, and our own pid from a former incarnation.
  const { spawnSync } = await import('node:child_process');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  for (const stale of [JSON.stringify({ pid: Number(dead), start: null }), '{"pi', JSON.stringify({ pid: process.pid, start: null })]) {
    fs.writeFileSync(path.join(dir, 'lock'), stale);
    const s = await Spool.open({ dir, maxBytes: 1000 });
    t.equal(JSON.parse(fs.readFileSync(path.join(dir, 'lock'), 'utf8')).pid, process.pid, `took over ${stale}`);
    await s.close();
  }
});

t.test('zeroes are written ahead of the records and cut on roll and close', async (t) => {
  const dir = tempDir(t);
  const spool = await Spool.open({ dir, maxBytes: 4 << 20, segmentBytes: 2 << 20 });
  await spool.append([input('z/0', 'first')]);
  const [file] = segments(dir);
  const full = path.join(dir, file!);
  t.equal(fs.statSync(full).size, size('z/0', 'first') + (1 << 20), '1 MiB written ahead');
  await spool.append([input('z/0', 'second')]);
  t.equal(fs.statSync(full).size, size('z/0', 'first') + (1 << 20), 'the next write lands in the zeroes');
  await spool.append([input('z/0', 'x'.repeat((2 << 20) - 50))]);
  t.equal(fs.statSync(full).size, size('z/0', 'first') + size('z/0', 'second'), 'rolling cuts the zeroes of the segment before');
  await spool.close();
  t.same(
    segments(dir).map((f) => fs.statSync(path.join(dir, f)).size),
    [size('z/0', 'first') + size('z/0', 'second'), size('z/0', 'x'.repeat((2 << 20) - 50))],
    'close cuts the zeroes of the active segment',
  );
});
