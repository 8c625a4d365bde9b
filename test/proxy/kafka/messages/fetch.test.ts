// Fetch request bodies v0..v15 and the empty Fetch response. Requests come from an encoder
// written here from FetchRequest.json (every field, ClusterId/ReplicaState and unknown tagged
// fields in the flexible versions) and from kafkajs's own request encoders (v0..v11); the
// empty response is checked byte for byte and read by kafkajs's response decoders (v0..v11).
// (produce.test.ts sends client-shaped Fetch v4..v15 to a real broker and compares its empty
// answer with encodeEmptyFetchResponse.)
import { createRequire } from 'node:module';
import t from 'tap';
import fc from 'fast-check';
import { inProperty } from '../../../support/property-asserts.js';
import { Writer } from '../../../../src/proxy/kafka/wire.js';
import { Enc, wireError, type Tags } from './spec-helpers.js';
import { FETCH_MAX_VERSION, encodeEmptyFetchResponse, parseFetchRequest, type FetchRequest } from '../../../../src/proxy/kafka/messages/fetch.js';

const require = createRequire(import.meta.url);
type KRequest = { apiVersion: number; encode: () => Promise<{ buffer: Buffer }> };
const kFetch = require('kafkajs/src/protocol/requests/fetch') as {
  protocol: (x: { version: number }) => (args: Record<string, unknown>) => { request: KRequest; response: { decode: (b: Buffer) => Promise<any> } };
};

interface PartitionModel {
  partition: number;
  currentLeaderEpoch: number;
  fetchOffset: bigint;
  lastFetchedEpoch: number;
  logStartOffset: bigint;
  partitionMaxBytes: number;
  tags: Tags;
}
interface TopicModel {
  name: string;
  topicId: Buffer;
  partitions: PartitionModel[];
  tags: Tags;
}
interface ForgottenModel {
  name: string;
  topicId: Buffer;
  partitions: number[];
  tags: Tags;
}
interface FetchModel {
  clusterId: string | null | undefined; // undefined: tag 0 absent
  replicaState: { replicaId: number; replicaEpoch: bigint } | undefined; // v15 tag 1
  replicaId: number;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel: number;
  sessionId: number;
  sessionEpoch: number;
  topics: TopicModel[];
  forgotten: ForgottenModel[];
  rackId: string;
  tags: Tags; // unknown top-level tags (>= 2)
}

/** FetchRequest.json, field by field. */
function specFetch(v: number, m: FetchModel): Buffer {
  const e = new Enc(v >= 12);
  const w = e.w;
  if (v <= 14) w.int32(m.replicaId);
  w.int32(m.maxWaitMs).int32(m.minBytes);
  if (v >= 3) w.int32(m.maxBytes);
  if (v >= 4) w.int8(m.isolationLevel);
  if (v >= 7) w.int32(m.sessionId).int32(m.sessionEpoch);
  e.arr(m.topics, (tp) => {
    if (v >= 13) w.raw(tp.topicId);
    else e.str(tp.name);
    e.arr(tp.partitions, (p) => {
      w.int32(p.partition);
      if (v >= 9) w.int32(p.currentLeaderEpoch);
      w.int64(p.fetchOffset);
      if (v >= 12) w.int32(p.lastFetchedEpoch);
      if (v >= 5) w.int64(p.logStartOffset);
      w.int32(p.partitionMaxBytes);
      e.tags(p.tags);
    });
    e.tags(tp.tags);
  });
  if (v >= 7) {
    e.arr(m.forgotten, (f) => {
      if (v >= 13) w.raw(f.topicId);
      else e.str(f.name);
      e.arr(f.partitions, (x) => w.int32(x));
      e.tags(f.tags);
    });
  }
  if (v >= 11) e.str(m.rackId);
  if (v >= 12) {
    const tags: Tags = [];
    if (m.clusterId !== undefined) tags.push({ tag: 0, data: new Writer().compactNullableString(m.clusterId).toBuffer() });
    if (v >= 15 && m.replicaState !== undefined) {
      tags.push({ tag: 1, data: new Writer().int32(m.replicaState.replicaId).int64(m.replicaState.replicaEpoch).taggedFields([]).toBuffer() });
    }
    w.taggedFields([...tags, ...m.tags]);
  }
  return w.toBuffer();
}

/** What parseFetchRequest must return for the model at version v. */
function expected(v: number, m: FetchModel): FetchRequest {
  const ids = v >= 13;
  return {
    replicaId: v <= 14 ? m.replicaId : (m.replicaState?.replicaId ?? -1),
    maxWaitMs: m.maxWaitMs,
    minBytes: m.minBytes,
    maxBytes: v >= 3 ? m.maxBytes : 0x7fffffff,
    isolationLevel: v >= 4 ? m.isolationLevel : 0,
    sessionId: v >= 7 ? m.sessionId : 0,
    sessionEpoch: v >= 7 ? m.sessionEpoch : -1,
    topics: m.topics.map((tp) => ({ name: ids ? null : tp.name, topicId: ids ? tp.topicId : null, partitions: tp.partitions.map((p) => p.partition) })),
    forgottenTopics: v >= 7 ? m.forgotten.map((f) => ({ name: ids ? null : f.name, topicId: ids ? f.topicId : null, partitions: f.partitions })) : [],
    rackId: v >= 11 ? m.rackId : '',
  };
}

const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const text = fc.string({ unit: 'grapheme', maxLength: 20 });
const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => Buffer.from(u));
const tagsArb = (min: number): fc.Arbitrary<Tags> =>
  fc
    .uniqueArray(fc.record({ tag: fc.integer({ min, max: 300 }), data: fc.uint8Array({ maxLength: 10 }) }), { maxLength: 3, selector: (x) => x.tag })
    .map((ts) => ts.sort((a, b) => a.tag - b.tag));

const fetchArb: fc.Arbitrary<FetchModel> = fc.record({
  clusterId: fc.option(fc.option(text, { nil: null }), { nil: undefined }),
  replicaState: fc.option(fc.record({ replicaId: i32, replicaEpoch: i64 }), { nil: undefined }),
  replicaId: fc.oneof(fc.constant(-1), i32),
  maxWaitMs: i32,
  minBytes: i32,
  maxBytes: i32,
  isolationLevel: fc.integer({ min: -128, max: 127 }),
  sessionId: i32,
  sessionEpoch: i32,
  topics: fc.array(
    fc.record({
      name: text,
      topicId: uuid,
      partitions: fc.array(
        fc.record({ partition: i32, currentLeaderEpoch: i32, fetchOffset: i64, lastFetchedEpoch: i32, logStartOffset: i64, partitionMaxBytes: i32, tags: tagsArb(0) }),
        { maxLength: 3 },
      ),
      tags: tagsArb(0),
    }),
    { maxLength: 3 },
  ),
  forgotten: fc.array(fc.record({ name: text, topicId: uuid, partitions: fc.array(i32, { maxLength: 3 }), tags: tagsArb(0) }), { maxLength: 2 }),
  rackId: text,
  tags: tagsArb(2),
});

/** Tags exist only in flexible versions. */
function forVersion(v: number, m: FetchModel): FetchModel {
  if (v >= 12) return m;
  return {
    ...m,
    tags: [],
    topics: m.topics.map((tp) => ({ ...tp, tags: [], partitions: tp.partitions.map((p) => ({ ...p, tags: [] })) })),
    forgotten: m.forgotten.map((f) => ({ ...f, tags: [] })),
  };
}

const VERSIONS = Array.from({ length: FETCH_MAX_VERSION + 1 }, (_, i) => i);

t.test('parseFetchRequest reads every version of the spec encoding', async () => {
  for (const v of VERSIONS) {
    fc.assert(
      fc.property(fetchArb, (m0) => {
        const t = inProperty;
        const m = forVersion(v, m0);
        const body = specFetch(v, m);
        const parsed = parseFetchRequest(v, body);
        t.same(parsed, expected(v, m), `v${v}: parsed = model`);
        for (const tp of parsed.topics) if (tp.topicId !== null) t.ok(tp.topicId.buffer === body.buffer, `v${v}: topic id is a view`);
        return true;
      }),
      { numRuns: 80 },
    );
  }
});

t.test('parseFetchRequest reads kafkajs fetch requests v0..v11', async () => {
  for (let v = 0; v <= 11; v++) {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          maxWaitTime: fc.nat(60_000),
          minBytes: fc.nat(1 << 20),
          maxBytes: fc.nat(0x7fffffff),
          isolationLevel: fc.constantFrom(0, 1),
          sessionId: fc.nat(0x7fffffff),
          sessionEpoch: fc.integer({ min: -1, max: 1000 }),
          rackId: fc.string({ unit: 'grapheme', maxLength: 10 }),
          topics: fc.uniqueArray(
            fc.record({
              topic: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
              partitions: fc.uniqueArray(
                fc.record({ partition: fc.nat(100), fetchOffset: fc.bigInt({ min: 0n, max: 2n ** 50n }).map(String), maxBytes: fc.nat(1 << 24), currentLeaderEpoch: fc.integer({ min: -1, max: 100 }) }),
                { maxLength: 4, selector: (p) => p.partition },
              ),
            }),
            { maxLength: 3, selector: (x) => x.topic },
          ),
          forgottenTopics: fc.array(fc.record({ topic: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), partitions: fc.array(fc.nat(100), { maxLength: 3 }) }), { maxLength: 2 }),
        }),
        async (args) => {
          const t = inProperty;
          const { request } = kFetch.protocol({ version: v })({ replicaId: -1, ...args });
          t.equal(request.apiVersion, v, 'kafkajs request version');
          const parsed = parseFetchRequest(v, (await request.encode()).buffer);
          return t.same(
            parsed,
            {
              replicaId: -1,
              maxWaitMs: args.maxWaitTime,
              minBytes: args.minBytes,
              maxBytes: v >= 3 ? args.maxBytes : 0x7fffffff,
              isolationLevel: v >= 4 ? args.isolationLevel : 0,
              sessionId: v >= 7 ? args.sessionId : 0,
              sessionEpoch: v >= 7 ? args.sessionEpoch : -1,
              topics: args.topics.map((tp) => ({ name: tp.topic, topicId: null, partitions: tp.partitions.map((p) => p.partition) })),
              forgottenTopics: v >= 7 ? args.forgottenTopics.map((f) => ({ name: f.topic, topicId: null, partitions: f.partitions })) : [],
              rackId: v >= 11 ? args.rackId : '',
            },
            `v${v}: parsed = what kafkajs was asked to send`,
          );
        },
      ),
      { numRuns: 40 },
    );
  }
});

t.test('v15: ReplicaId comes from the ReplicaState tagged field; ClusterId and unknown tags are skipped', async (t) => {
  const base: FetchModel = {
    clusterId: 'cluster-x', replicaState: { replicaId: 3, replicaEpoch: 17n }, replicaId: 99, maxWaitMs: 500, minBytes: 1, maxBytes: 1000,
    isolationLevel: 1, sessionId: 12, sessionEpoch: 4, topics: [], forgotten: [], rackId: 'r1', tags: [{ tag: 7, data: Buffer.from('zz') }],
  };
  t.equal(parseFetchRequest(15, specFetch(15, base)).replicaId, 3, 'replica id from tag 1');
  t.equal(parseFetchRequest(15, specFetch(15, { ...base, replicaState: undefined })).replicaId, -1, 'consumer: no ReplicaState, -1');
  t.equal(parseFetchRequest(14, specFetch(14, base)).replicaId, 99, 'v14: the ReplicaId field');
  const bad = new Writer().int32(1).int32(1).int32(1).int8(0).int32(0).int32(-1).compactArrayLength(0).compactArrayLength(0).compactString('');
  bad.taggedFields([{ tag: 1, data: Buffer.from([1, 2]) }]);
  t.equal(wireError(() => parseFetchRequest(15, bad.toBuffer()))?.code, 'malformed', 'a ReplicaState too short for a replica id');
});

t.test('truncated and garbage requests: KafkaWireError, never another exception', async () => {
  for (const v of VERSIONS) {
    fc.assert(
      fc.property(fetchArb, fc.nat(), (m0, cutSeed) => {
        const t = inProperty;
        const body = specFetch(v, forVersion(v, m0));
        const cut = cutSeed % body.length;
        const err = wireError(() => parseFetchRequest(v, body.subarray(0, cut)));
        return t.ok(err !== undefined && (err.code === 'truncated' || err.code === 'malformed'), `v${v}: prefix of ${cut}/${body.length} bytes rejected (${err?.code})`);
      }),
      { numRuns: 60 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        const t = inProperty;
        wireError(() => parseFetchRequest(v, Buffer.from(bytes)));
        return t.pass();
      }),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(fetchArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (m0, flips) => {
        const t = inProperty;
        const body = specFetch(v, forVersion(v, m0));
        for (const [at, b] of flips) body[at % body.length] = b;
        wireError(() => parseFetchRequest(v, body));
        return t.pass();
      }),
      { numRuns: 100 },
    );
  }
});

t.test('encodeEmptyFetchResponse: the bytes of every version', async (t) => {
  const hex = (v: number, session?: number): string => encodeEmptyFetchResponse(v, session).toString('hex');
  t.equal(hex(0), '00000000', 'v0: responses []');
  for (let v = 1; v <= 6; v++) t.equal(hex(v, 5), '00000000' + '00000000', `v${v}: throttle 0, responses [] (no session before v7)`);
  for (let v = 7; v <= 11; v++) t.equal(hex(v, 0x01020304), '00000000' + '0000' + '01020304' + '00000000', `v${v}: throttle, error 0, session, responses []`);
  for (let v = 12; v <= 15; v++) t.equal(hex(v, -1), '00000000' + '0000' + 'ffffffff' + '01' + '00', `v${v}: compact empty array, empty tags`);
  t.equal(hex(12), '00000000000000000000' + '0100', 'default session id 0');
  for (const v of [-1, 16, 17, 2.5]) t.equal(wireError(() => encodeEmptyFetchResponse(v))?.code, 'unsupported_version', `encodeEmptyFetchResponse v${v}`);
  for (const v of [-1, 16, 18, NaN]) t.equal(wireError(() => parseFetchRequest(v, Buffer.alloc(64)))?.code, 'unsupported_version', `parseFetchRequest v${v}`);
});

t.test('kafkajs fetch response decoders v0..v11 read encodeEmptyFetchResponse', async (t) => {
  for (let v = 0; v <= 11; v++) {
    const { response } = kFetch.protocol({ version: v })({ maxWaitTime: 0, minBytes: 0, maxBytes: 0, topics: [] });
    const k = await response.decode(encodeEmptyFetchResponse(v, 77));
    t.same(k.responses, [], `v${v}: no responses`);
    if (v >= 1) t.equal(k.clientSideThrottleTime ?? k.throttleTime, 0, `v${v}: throttle 0`);
    if (v >= 7) t.same([k.errorCode, k.sessionId], [0, 77], `v${v}: error 0, session id`);
  }
});
