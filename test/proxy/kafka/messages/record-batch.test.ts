// inspectRecords over record batches built two independent ways: by kafkajs's own RecordBatch
// encoder (protocol/recordBatch/v0, the one its producer sends) and by a batch-header encoder
// written here from DefaultRecordBatch's layout (with a correct CRC-32C, kafkajs's crc32C),
// which can also set the control bit. kafkajs's batch decoder checks the hand-built batches.
// Legacy message sets (magic 0/1, kafkajs's MessageSet encoder) must be refused as such.
import { createRequire } from 'node:module';
import t from 'tap';
import fc from 'fast-check';
import { inProperty } from '../../../support/property-asserts.js';
import { Writer } from '../../../../src/proxy/kafka/wire.js';
import { wireError } from './spec-helpers.js';
import { ATTR_CONTROL, ATTR_TRANSACTIONAL, RECORD_BATCH_HEADER_BYTES, inspectRecords } from '../../../../src/proxy/kafka/messages/record-batch.js';

const require = createRequire(import.meta.url);
type KEncoder = { buffer: Buffer; size(): number };
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as { RecordBatch: (x: Record<string, unknown>) => Promise<KEncoder> };
const KRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (x: Record<string, unknown>) => KEncoder;
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
  inTransaction: boolean;
  isControlBatch: boolean;
  producerId: string;
  maxTimestamp: string;
  records: unknown[];
}>;
const KDecoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => { canReadInt64(): boolean };
const MessageSet = require('kafkajs/src/protocol/messageSet') as (x: { messageVersion: number; entries: { key?: Buffer | null; value: Buffer; timestamp?: number }[] }) => KEncoder;

interface BatchSpec {
  baseOffset: bigint;
  leaderEpoch: number;
  attributes: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  records: { key: Buffer | null; value: Buffer | null }[];
}

/** A magic-2 batch, header field by field (DefaultRecordBatch), records by kafkajs's record encoder. */
function buildBatch(b: BatchSpec): Buffer {
  const records = Buffer.concat(b.records.map((r, i) => KRecord({ offsetDelta: i, timestampDelta: 0, key: r.key, value: r.value }).buffer));
  const tail = new Writer();
  tail.int16(b.attributes).int32(Math.max(0, b.records.length - 1)).int64(b.baseTimestamp).int64(b.maxTimestamp);
  tail.int64(b.producerId).int16(b.producerEpoch).int32(b.baseSequence).int32(b.records.length).raw(records);
  const crcd = tail.toBuffer();
  const w = new Writer();
  w.int64(b.baseOffset).int32(4 + 1 + 4 + crcd.length).int32(b.leaderEpoch).int8(2);
  w.int32(crc32C(crcd) | 0).raw(crcd);
  return w.toBuffer();
}

const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const recordArb = fc.record({ key: fc.option(fc.uint8Array({ maxLength: 8 }).map((u) => Buffer.from(u)), { nil: null }), value: fc.option(fc.uint8Array({ maxLength: 16 }).map((u) => Buffer.from(u)), { nil: null }) });
const batchArb: fc.Arbitrary<BatchSpec> = fc.record({
  baseOffset: fc.bigInt({ min: 0n, max: 2n ** 40n }),
  leaderEpoch: fc.integer({ min: -1, max: 1000 }),
  attributes: fc.integer({ min: 0, max: 0x7f }).map((a) => a & ~0x07), // no compression: records stay readable
  baseTimestamp: i64,
  maxTimestamp: i64,
  producerId: fc.oneof(fc.constant(-1n), fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), fc.bigInt({ min: -(2n ** 63n), max: -2n })),
  producerEpoch: fc.integer({ min: -1, max: 32767 }),
  baseSequence: fc.integer({ min: -1, max: 0x7fffffff }),
  records: fc.array(recordArb, { maxLength: 5 }),
});

function summaryOf(batches: BatchSpec[]): ReturnType<typeof inspectRecords> {
  return {
    batches: batches.length,
    records: batches.reduce((n, b) => n + b.records.length, 0),
    idempotent: batches.some((b) => b.producerId >= 0n),
    transactional: batches.some((b) => (b.attributes & ATTR_TRANSACTIONAL) !== 0),
    control: batches.some((b) => (b.attributes & ATTR_CONTROL) !== 0),
    maxTimestamp: batches.reduce((m, b) => (b.maxTimestamp > m ? b.maxTimestamp : m), -1n),
  };
}

t.test('hand-built batches: the summary of their headers; kafkajs decodes the same flags', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(batchArb, { maxLength: 4 }), async (specs) => {
      const t = inProperty;
      const bytes = Buffer.concat(specs.map(buildBatch));
      t.same(inspectRecords(bytes), summaryOf(specs), 'summary');
      const d = new KDecoder(bytes);
      for (const s of specs) {
        const k = await decodeBatch(d);
        t.equal(k.inTransaction, (s.attributes & ATTR_TRANSACTIONAL) !== 0, 'kafkajs: transactional');
        t.equal(k.isControlBatch, (s.attributes & ATTR_CONTROL) !== 0, 'kafkajs: control');
        t.equal(k.producerId, String(s.producerId), 'kafkajs: producer id');
        t.equal(k.maxTimestamp, String(s.maxTimestamp), 'kafkajs: max timestamp');
        t.equal(k.records.length, s.records.length, 'kafkajs: records');
      }
      return t.notOk(d.canReadInt64(), 'kafkajs consumed every byte');
    }),
    { numRuns: 150 },
  );
});

t.test('kafkajs RecordBatch encoder output (what its producer sends)', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          records: fc.array(recordArb, { minLength: 1, maxLength: 6 }),
          transactional: fc.boolean(),
          producerId: fc.oneof(fc.constant(-1n), fc.bigInt({ min: 0n, max: 2n ** 62n })),
          firstTimestamp: fc.integer({ min: 0, max: 2 ** 42 }),
          spread: fc.nat(100_000),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      async (batches) => {
        const t = inProperty;
        const parts: Buffer[] = [];
        for (const b of batches) {
          const enc = await RecordBatch({
            records: b.records.map((r, i) => KRecord({ offsetDelta: i, timestampDelta: 0, key: r.key, value: r.value })),
            firstTimestamp: b.firstTimestamp,
            maxTimestamp: b.firstTimestamp + b.spread,
            transactional: b.transactional,
            producerId: b.producerId,
            producerEpoch: 0,
            firstSequence: 0,
            lastOffsetDelta: b.records.length - 1,
          });
          parts.push(enc.buffer);
        }
        const s = inspectRecords(Buffer.concat(parts));
        return t.same(
          s,
          {
            batches: batches.length,
            records: batches.reduce((n, b) => n + b.records.length, 0),
            idempotent: batches.some((b) => b.producerId >= 0n),
            transactional: batches.some((b) => b.transactional),
            control: false,
            maxTimestamp: BigInt(Math.max(...batches.map((b) => b.firstTimestamp + b.spread))),
          },
          'summary of kafkajs batches',
        );
      },
    ),
    { numRuns: 100 },
  );
});

t.test('no batches', async (t) => {
  t.same(inspectRecords(Buffer.alloc(0)), { batches: 0, records: 0, idempotent: false, transactional: false, control: false, maxTimestamp: -1n });
});

t.test('a batch cut anywhere: malformed (a cut at a batch boundary is fewer batches)', async () => {
  fc.assert(
    fc.property(fc.array(batchArb, { minLength: 1, maxLength: 3 }), fc.nat(), (specs, cutSeed) => {
      const t = inProperty;
      const encoded = specs.map(buildBatch);
      const bytes = Buffer.concat(encoded);
      const cut = cutSeed % bytes.length;
      const boundaries = new Map<number, number>();
      let at = 0;
      encoded.forEach((b, i) => {
        boundaries.set(at, i);
        at += b.length;
      });
      const prefix = bytes.subarray(0, cut);
      if (boundaries.has(cut)) return t.same(inspectRecords(prefix), summaryOf(specs.slice(0, boundaries.get(cut))), `cut at boundary ${cut}`);
      const err = wireError(() => inspectRecords(prefix));
      return t.equal(err?.code, 'malformed', `cut at ${cut} of ${bytes.length}: ${err?.message}`);
    }),
    { numRuns: 300 },
  );
});

t.test('garbage and corrupted lengths: KafkaWireError, never another exception', async () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const t = inProperty;
      wireError(() => inspectRecords(Buffer.from(bytes)));
      return t.pass();
    }),
    { numRuns: 500 },
  );
  fc.assert(
    fc.property(fc.array(batchArb, { minLength: 1, maxLength: 3 }), fc.nat(), fc.integer({ min: -0x80000000, max: 0x7fffffff }), (specs, seed, length) => {
      const t = inProperty;
      const bytes = Buffer.concat(specs.map(buildBatch));
      const pos = seed % bytes.length;
      const mutated = Buffer.from(bytes);
      if (pos + 4 <= mutated.length) mutated.writeInt32BE(length, pos);
      wireError(() => inspectRecords(mutated));
      return t.pass();
    }),
    { numRuns: 500 },
  );
});

t.test('lengths: too small, overrunning, negative', async (t) => {
  const one = buildBatch({ baseOffset: 0n, leaderEpoch: 0, attributes: 0, baseTimestamp: 1n, maxTimestamp: 2n, producerId: -1n, producerEpoch: -1, baseSequence: -1, records: [{ key: null, value: Buffer.from('v') }] });
  const withLength = (n: number): Buffer => {
    const b = Buffer.from(one);
    b.writeInt32BE(n, 8);
    return b;
  };
  for (const [n, what] of [
    [RECORD_BATCH_HEADER_BYTES - 12 - 1, 'one byte short of a batch header'],
    [0, 'zero'],
    [-1, 'negative'],
    [-0x80000000, 'INT32 min'],
    [one.length - 12 + 1, 'one byte past the end'],
    [0x7fffffff, 'INT32 max'],
  ] as const) {
    const err = wireError(() => inspectRecords(withLength(n)));
    t.equal(err?.code, 'malformed', `BatchLength ${n} (${what}): ${err?.message}`);
  }
  t.equal(wireError(() => inspectRecords(Buffer.concat([one, Buffer.alloc(11)])))?.code, 'malformed', '11 trailing bytes');
  const negCount = Buffer.from(one);
  negCount.writeInt32BE(-1, 57);
  t.equal(wireError(() => inspectRecords(negCount))?.code, 'malformed', 'negative RecordsCount');
  const magic3 = Buffer.from(one);
  magic3[16] = 3;
  const err3 = wireError(() => inspectRecords(magic3));
  t.equal(err3?.code, 'unsupported_version', 'magic 3');
  t.match(err3?.message, /magic 3/);
});

t.test('legacy message sets (magic 0 and 1): unsupported_version, named as such', async (t) => {
  for (const messageVersion of [0, 1]) {
    const set = MessageSet({ messageVersion, entries: [{ key: Buffer.from('k'), value: Buffer.from('value'), timestamp: 1_700_000_000_000 }, { value: Buffer.from('v2'), timestamp: 1_700_000_000_001 }] }).buffer;
    t.equal(set[16], messageVersion, `kafkajs MessageSet v${messageVersion}: magic at byte 16`);
    const err = wireError(() => inspectRecords(set));
    t.equal(err?.code, 'unsupported_version', `magic ${messageVersion}`);
    t.match(err?.message, new RegExp(`legacy message set \\(magic ${messageVersion}\\)`), 'the message says what it is');
    // after a valid magic-2 batch too
    const mixed = Buffer.concat([buildBatch({ baseOffset: 0n, leaderEpoch: 0, attributes: 0, baseTimestamp: 0n, maxTimestamp: 0n, producerId: -1n, producerEpoch: -1, baseSequence: -1, records: [] }), set]);
    t.equal(wireError(() => inspectRecords(mixed))?.code, 'unsupported_version', `magic ${messageVersion} after a magic 2 batch`);
  }
});

t.test('a view: inspects a batch inside a larger buffer without reading outside it', async (t) => {
  const batch = buildBatch({ baseOffset: 5n, leaderEpoch: 0, attributes: ATTR_TRANSACTIONAL, baseTimestamp: 10n, maxTimestamp: 20n, producerId: 7n, producerEpoch: 0, baseSequence: 0, records: [{ key: null, value: null }, { key: null, value: null }] });
  const big = Buffer.concat([Buffer.from('garbage before'), batch, Buffer.from('garbage after')]);
  const view = big.subarray(14, 14 + batch.length);
  t.same(inspectRecords(view), { batches: 1, records: 2, idempotent: true, transactional: true, control: false, maxTimestamp: 20n });
});
