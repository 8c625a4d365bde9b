// Metadata v0-13: model round trips (fast-check) at every version, typed errors on truncated
// and garbage input, answers from a stored state, kafkajs's v0-v6 decoders reading our
// encodings, and byte-exact checks against a real Kafka broker: encode(parse(broker bytes)) is
// the broker's bytes, and answerMetadata from the state learned from the broker is what the
// broker itself answers.
import t from 'tap';
import fc from 'fast-check';
import kafkajs from 'kafkajs';
import { inProperty } from '../../../support/property-asserts.js';
import { withKafka } from '../../../services/index.js';
import { KafkaWireError } from '../../../../src/proxy/kafka/wire.js';
import { parseApiVersions } from '../../../../src/proxy/kafka/rewrite.js';
import {
  AUTHORIZED_OPERATIONS_UNKNOWN,
  METADATA_MAX_VERSION,
  ZERO_TOPIC_ID,
  answerMetadata,
  encodeMetadataRequest,
  encodeMetadataResponse,
  parseMetadataRequest,
  parseMetadataResponse,
  type MetadataModel,
  type MetadataRequest,
  type TopicModel,
} from '../../../../src/proxy/kafka/messages/metadata.js';
import { fromJSON, mergeMetadata, toJSON, type ClusterState } from '../../../../src/proxy/kafka/messages/cluster-state.js';
import { RawKafka, kafkajsResponse } from './raw-kafka.js';

const VERSIONS = Array.from({ length: METADATA_MAX_VERSION + 1 }, (_, v) => v);

// ---------------------------------------------------------------- generators

const i16 = fc.integer({ min: -32768, max: 32767 });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const text = fc.string({ unit: 'grapheme', maxLength: 24 });
const ints = fc.array(i32, { maxLength: 4 });
const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b));

const topicArb: fc.Arbitrary<TopicModel> = fc.record({
  errorCode: i16,
  name: fc.option(text, { nil: null }),
  topicId: fc.oneof(uuid, fc.constant(Buffer.alloc(16))),
  isInternal: fc.boolean(),
  partitions: fc.array(
    fc.record({ errorCode: i16, partitionIndex: i32, leaderId: i32, leaderEpoch: i32, replicaNodes: ints, isrNodes: ints, offlineReplicas: ints }),
    { maxLength: 3 },
  ),
  topicAuthorizedOperations: i32,
});

const modelArb: fc.Arbitrary<MetadataModel> = fc.record({
  throttleTimeMs: i32,
  brokers: fc.array(
    fc.record({ nodeId: i32, host: fc.oneof(fc.domain(), fc.ipV4(), text), port: i32, rack: fc.option(text, { nil: null }) }),
    { maxLength: 4 },
  ),
  clusterId: fc.option(text, { nil: null }),
  controllerId: i32,
  topics: fc.array(topicArb, { maxLength: 4 }),
  clusterAuthorizedOperations: i32,
  errorCode: i16,
});

const requestArb: fc.Arbitrary<MetadataRequest> = fc.record({
  topics: fc.option(fc.array(fc.record({ name: fc.option(text, { nil: null }), topicId: fc.option(uuid, { nil: null }) }), { maxLength: 4 }), { nil: null }),
  allowAutoTopicCreation: fc.boolean(),
  includeClusterAuthorizedOperations: fc.boolean(),
  includeTopicAuthorizedOperations: fc.boolean(),
});

/** What a version can carry: absent fields take the spec defaults. */
function normalize(v: number, m: MetadataModel): MetadataModel {
  return {
    throttleTimeMs: v >= 3 ? m.throttleTimeMs : 0,
    brokers: m.brokers.map((b) => ({ ...b, rack: v >= 1 ? b.rack : null })),
    clusterId: v >= 2 ? m.clusterId : null,
    controllerId: v >= 1 ? m.controllerId : -1,
    topics: m.topics.map((tp) => ({
      errorCode: tp.errorCode,
      name: v >= 12 ? tp.name : (tp.name ?? ''),
      topicId: v >= 10 ? tp.topicId : Buffer.alloc(16),
      isInternal: v >= 1 ? tp.isInternal : false,
      partitions: tp.partitions.map((p) => ({
        ...p,
        leaderEpoch: v >= 7 ? p.leaderEpoch : -1,
        offlineReplicas: v >= 5 ? p.offlineReplicas : [],
      })),
      topicAuthorizedOperations: v >= 8 ? tp.topicAuthorizedOperations : AUTHORIZED_OPERATIONS_UNKNOWN,
    })),
    clusterAuthorizedOperations: v >= 8 && v <= 10 ? m.clusterAuthorizedOperations : AUTHORIZED_OPERATIONS_UNKNOWN,
    errorCode: v >= 13 ? m.errorCode : 0,
  };
}

function normalizeRequest(v: number, q: MetadataRequest): MetadataRequest {
  let topics = q.topics === null ? null : q.topics.map((x) => ({ name: v >= 10 ? x.name : (x.name ?? ''), topicId: v >= 10 && x.topicId && x.topicId.some((b) => b !== 0) ? x.topicId : null }));
  if (v === 0 && topics !== null && topics.length === 0) topics = null;
  return {
    topics,
    allowAutoTopicCreation: v >= 4 ? q.allowAutoTopicCreation : true,
    includeClusterAuthorizedOperations: v >= 8 && v <= 10 ? q.includeClusterAuthorizedOperations : false,
    includeTopicAuthorizedOperations: v >= 8 ? q.includeTopicAuthorizedOperations : false,
  };
}

// ---------------------------------------------------------------- properties

t.test('responses: parse(encode(m)) = m as the version carries it, and encode(parse(b)) = b, v0-v13', async (t) => {
  for (const v of VERSIONS) {
    fc.assert(
      fc.property(modelArb, (m) => {
        const t = inProperty;
        const bytes = encodeMetadataResponse(v, m);
        const parsed = parseMetadataResponse(v, bytes);
        t.same(parsed, normalize(v, m), `v${v}: parsed model`);
        t.ok(encodeMetadataResponse(v, parsed).equals(bytes), `v${v}: re-encoded bytes`);
        return true;
      }),
      { numRuns: 80 },
    );
  }
  t.pass(`response round trips at v${VERSIONS[0]}..v${METADATA_MAX_VERSION}`);
});

t.test('requests: parse(encode(q)) = q as the version carries it, v0-v13', async (t) => {
  for (const v of VERSIONS) {
    fc.assert(
      fc.property(requestArb, (q0) => {
        const t = inProperty;
        const q = normalizeRequest(v, q0);
        const bytes = encodeMetadataRequest(v, q);
        t.same(parseMetadataRequest(v, bytes), q, `v${v}: parsed request`);
        t.ok(encodeMetadataRequest(v, parseMetadataRequest(v, bytes)).equals(bytes), `v${v}: re-encoded`);
        return true;
      }),
      { numRuns: 80 },
    );
  }
  t.same(parseMetadataRequest(0, Buffer.from('00000000', 'hex')).topics, null, 'v0: an empty array means all topics');
  t.same(parseMetadataRequest(1, Buffer.from('00000000', 'hex')).topics, [], 'v1: an empty array means no topics');
  t.same(parseMetadataRequest(1, Buffer.from('ffffffff', 'hex')).topics, null, 'v1: null means all topics');
  t.equal(parseMetadataRequest(3, Buffer.from('ffffffff', 'hex')).allowAutoTopicCreation, true, 'v0-3 imply auto-creation');
  t.throws(() => parseMetadataRequest(0, Buffer.from('ffffffff', 'hex')), { code: 'malformed' }, 'v0: null topics array');
  t.throws(() => parseMetadataRequest(4, Buffer.from('000000010003616263', 'hex')), { code: 'truncated' }, 'v4 without AllowAutoTopicCreation');
  t.throws(() => parseMetadataRequest(4, Buffer.from('ffffffff0000', 'hex')), { code: 'malformed' }, 'trailing bytes');
  t.throws(() => parseMetadataRequest(14, Buffer.alloc(8)), { code: 'unsupported_version' });
  t.throws(() => parseMetadataResponse(-1, Buffer.alloc(8)), { code: 'unsupported_version' });
  t.throws(() => encodeMetadataResponse(14, normalize(0, { throttleTimeMs: 0, brokers: [], clusterId: null, controllerId: 0, topics: [], clusterAuthorizedOperations: 0, errorCode: 0 })), { code: 'unsupported_version' });
});

t.test('truncated or garbage input raises only KafkaWireError', async (t) => {
  let thrown = 0;
  let parsed = 0;
  fc.assert(
    fc.property(fc.constantFrom(...VERSIONS), modelArb, requestArb, fc.nat(), fc.uint8Array({ maxLength: 100 }), (v, m, q, cut, garbage) => {
      const resp = encodeMetadataResponse(v, m);
      const req = encodeMetadataRequest(v, normalizeRequest(v, q));
      const inputs: [(b: Buffer) => unknown, Buffer][] = [
        [(b) => parseMetadataResponse(v, b), resp.subarray(0, cut % resp.length)],
        [(b) => parseMetadataRequest(v, b), req.subarray(0, cut % req.length)],
        [(b) => parseMetadataResponse(v, b), Buffer.from(garbage)],
        [(b) => parseMetadataRequest(v, b), Buffer.from(garbage)],
      ];
      for (const [parse, b] of inputs) {
        try {
          parse(b);
          parsed++;
        } catch (e) {
          if (!(e instanceof KafkaWireError)) throw e;
          thrown++;
        }
      }
    }),
    { numRuns: 2000 },
  );
  t.ok(thrown > 4000, `${thrown} typed errors, ${parsed} inputs parsed`);
  t.throws(() => parseMetadataResponse(4, Buffer.from('000000007fffffff', 'hex')), { code: 'malformed' }, 'a huge broker count is malformed, not an allocation');
  t.throws(() => parseMetadataResponse(4, Buffer.concat([encodeMetadataResponse(4, normalize(4, { throttleTimeMs: 0, brokers: [], clusterId: null, controllerId: 1, topics: [], clusterAuthorizedOperations: 0, errorCode: 0 })), Buffer.from([0])])), { code: 'malformed' }, 'a byte too many');
});

// ---------------------------------------------------------------- answers from state

const id = (n: number): Buffer => Buffer.from(`${n.toString(16).padStart(2, '0')}`.repeat(16), 'hex');
const state: ClusterState = {
  clusterId: 'cluster-A',
  controllerId: 2,
  brokers: [
    { nodeId: 1, host: 'kafka-1.internal', port: 9092, rack: 'r1' },
    { nodeId: 2, host: 'kafka-2.internal', port: 9092, rack: null },
  ],
  topics: [
    {
      errorCode: 0,
      name: 'orders',
      topicId: id(1),
      isInternal: false,
      partitions: [
        { errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 4, replicaNodes: [1, 2], isrNodes: [1, 2], offlineReplicas: [] },
        { errorCode: 0, partitionIndex: 1, leaderId: 2, leaderEpoch: 3, replicaNodes: [2, 1], isrNodes: [2], offlineReplicas: [1] },
      ],
      topicAuthorizedOperations: 0x0ff8,
    },
    {
      errorCode: 0,
      name: '__consumer_offsets',
      topicId: id(2),
      isInternal: true,
      partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }],
      topicAuthorizedOperations: AUTHORIZED_OPERATIONS_UNKNOWN,
    },
  ],
  apiVersions: [[3, 0, 13]],
  updatedAt: 1_700_000_000_000,
};
const req = (topics: MetadataRequest['topics'], allowAutoTopicCreation = false, includeTopicAuthorizedOperations = false): MetadataRequest => ({
  topics,
  allowAutoTopicCreation,
  includeClusterAuthorizedOperations: false,
  includeTopicAuthorizedOperations,
});

t.test('answerMetadata: the stored state, requested topics, errors for unknown ones', async (t) => {
  for (const v of VERSIONS) {
    const all = parseMetadataResponse(v, answerMetadata(v, state, req(null)));
    t.same(all.brokers, state.brokers.map((b) => ({ ...b, rack: v >= 1 ? b.rack : null })), `v${v}: brokers (upstream addresses)`);
    t.equal(all.clusterId, v >= 2 ? 'cluster-A' : null, `v${v}: cluster id`);
    t.equal(all.controllerId, v >= 1 ? 2 : -1, `v${v}: controller`);
    t.same(all.topics.map((x) => x.name), ['orders', '__consumer_offsets'], `v${v}: all topics`);
    t.same(all.topics.map((x) => x.isInternal), [false, v >= 1], `v${v}: internal flag`);
    t.same(all.topics[0]!.partitions, normalize(v, { ...all, topics: state.topics }).topics[0]!.partitions, `v${v}: partitions`);
    t.same(all.topics.map((x) => x.topicAuthorizedOperations), [AUTHORIZED_OPERATIONS_UNKNOWN, AUTHORIZED_OPERATIONS_UNKNOWN], `v${v}: no authorized operations unless asked`);
    t.same([all.throttleTimeMs, all.errorCode, all.clusterAuthorizedOperations], [0, 0, AUTHORIZED_OPERATIONS_UNKNOWN], `v${v}: throttle, error, cluster ops`);
    if (v === 0) continue;

    const named = parseMetadataResponse(v, answerMetadata(v, state, req([{ name: 'missing', topicId: null }, { name: 'orders', topicId: null }, { name: 'orders', topicId: null }], false)));
    t.same(named.topics.map((x) => [x.name, x.errorCode, x.partitions.length]), [['orders', 0, 2], ['missing', 3, 0]], `v${v}: unknown topic without auto-creation = UNKNOWN_TOPIC_OR_PARTITION, after the known ones, duplicates once`);
    const auto = parseMetadataResponse(v, answerMetadata(v, state, req([{ name: 'missing', topicId: null }], true)));
    t.same(auto.topics.map((x) => [x.name, x.errorCode]), [['missing', 5]], `v${v}: with auto-creation = LEADER_NOT_AVAILABLE`);
    t.same(parseMetadataResponse(v, answerMetadata(v, state, req([]))).topics, [], `v${v}: no topics asked, none given`);
    if (v >= 8) {
      const ops = parseMetadataResponse(v, answerMetadata(v, state, req([{ name: 'orders', topicId: null }], false, true)));
      t.equal(ops.topics[0]!.topicAuthorizedOperations, 0x0ff8, `v${v}: stored topic operations when asked`);
    }
    if (v >= 12) {
      const byId = parseMetadataResponse(v, answerMetadata(v, state, req([{ name: null, topicId: id(2) }, { name: null, topicId: id(9) }])));
      t.same(
        byId.topics.map((x) => [x.name, x.errorCode, x.topicId.toString('hex')]),
        [[null, 100, id(9).toString('hex')], ['__consumer_offsets', 0, id(2).toString('hex')]],
        `v${v}: topics by id, an unknown id = UNKNOWN_TOPIC_ID with a null name, first (as Kafka orders them)`,
      );
    }
  }
  t.same(parseMetadataResponse(0, answerMetadata(0, state, parseMetadataRequest(0, encodeMetadataRequest(0, req([]))))).topics.length, 2, 'v0: an empty request array = all topics');
  t.equal(parseMetadataResponse(10, answerMetadata(10, state, req(null))).topics[1]!.topicId.toString('hex'), id(2).toString('hex'), 'v10: topic ids');
  t.ok(ZERO_TOPIC_ID.equals(Buffer.alloc(16)), 'ZERO_TOPIC_ID');
});

// ---------------------------------------------------------------- kafkajs

t.test('kafkajs Metadata v0-v6 decoders read our encodings', async (t) => {
  for (let v = 0; v <= 6; v++) {
    const dec = kafkajsResponse('metadata', v);
    await fc.assert(
      fc.asyncProperty(modelArb, async (m0) => {
        const t = inProperty;
        const m = normalize(v, m0);
        const d = await dec.decode(encodeMetadataResponse(v, m));
        t.same(
          d.brokers,
          m.brokers.map((b) => (v >= 1 ? { nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack } : { nodeId: b.nodeId, host: b.host, port: b.port })),
          `v${v}: brokers`,
        );
        if (v >= 2) t.equal(d.clusterId, m.clusterId, `v${v}: cluster id`);
        if (v >= 1) t.equal(d.controllerId, m.controllerId, `v${v}: controller`);
        if (v >= 3) t.equal(v >= 6 ? d.clientSideThrottleTime : d.throttleTime, m.throttleTimeMs, `v${v}: throttle`);
        t.same(
          d.topicMetadata,
          m.topics.map((x) => ({
            topicErrorCode: x.errorCode,
            topic: x.name,
            ...(v >= 1 ? { isInternal: x.isInternal } : {}),
            partitionMetadata: x.partitions.map((p) => ({
              partitionErrorCode: p.errorCode,
              partitionId: p.partitionIndex,
              leader: p.leaderId,
              replicas: p.replicaNodes,
              isr: p.isrNodes,
              ...(v >= 5 ? { offlineReplicas: p.offlineReplicas } : {}),
            })),
          })),
          `v${v}: topics`,
        );
        return true;
      }),
      { numRuns: 60 },
    );
    const fromState = await dec.parse(await dec.decode(answerMetadata(v, state, req(null))));
    t.same(fromState.topicMetadata.map((x: { topic: string }) => x.topic), ['orders', '__consumer_offsets'], `v${v}: kafkajs parses an answer from state`);
  }
});

// ---------------------------------------------------------------- against a real broker

t.test('against a real Kafka broker', async (t) => {
  const kafka = await withKafka(t);
  const conn = await RawKafka.connect(kafka.port);
  t.teardown(() => conn.close());
  const offered = parseApiVersions(0, await conn.request(18, 0, Buffer.alloc(0)));
  const range = offered.apiKeys.get(3)!;
  t.comment(`broker offers Metadata v${range.min}-v${range.max}`);
  t.ok(range.max >= 12, `Metadata up to v${range.max}`);

  // a topic with 3 partitions and a consumer group's committed offsets (creates __consumer_offsets)
  const topic = 'bw-messages-md';
  const client = new kafkajs.Kafka({ clientId: 'bw-md-test', brokers: kafka.brokers, logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } });
  const admin = client.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    await admin.setOffsets({ groupId: 'bw-md-group', topic, partitions: [{ partition: 0, offset: '0' }] });
  } finally {
    await admin.disconnect();
  }

  const top = Math.min(METADATA_MAX_VERSION, range.max);
  const allReq = (v: number): Buffer => encodeMetadataRequest(v, req(null));
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    const m = parseMetadataResponse(top, await conn.request(3, top, allReq(top)));
    ready = ['__consumer_offsets', topic].every((n) => m.topics.some((x) => x.name === n && x.errorCode === 0 && x.partitions.every((p) => p.leaderId >= 0)));
    if (!ready) await new Promise((r) => setTimeout(r, 200));
  }
  t.ok(ready, `${topic} and __consumer_offsets listed with leaders`);

  const latest = parseMetadataResponse(top, await conn.request(3, top, allReq(top)));
  const offsets = latest.topics.find((x) => x.name === '__consumer_offsets');
  t.equal(offsets?.isInternal, true, '__consumer_offsets is internal');
  t.equal(latest.topics.find((x) => x.name === topic)?.partitions.length, 3, `${topic} has 3 partitions`);
  t.equal(latest.clusterId, kafka.clusterId, 'cluster id');
  // the state as the proxy would keep it, through its JSON form
  const learned = fromJSON(JSON.parse(JSON.stringify(toJSON(mergeMetadata(undefined, latest, true, Date.now())))));
  t.same(learned.topics.map((x) => x.name).sort(), ['__consumer_offsets', topic].sort(), 'state: both topics');

  let versions = 0;
  for (let v = range.min; v <= top; v++) {
    const body = await conn.request(3, v, allReq(v));
    const parsed = parseMetadataResponse(v, body);
    t.ok(encodeMetadataResponse(v, parsed).equals(body), `v${v}: encode(parse(broker bytes)) = broker bytes (${body.length} bytes)`);
    t.ok(parsed.topics.some((x) => x.name === '__consumer_offsets') && parsed.topics.some((x) => x.name === topic), `v${v}: both topics listed`);
    const ours = answerMetadata(v, learned, parseMetadataRequest(v, allReq(v)));
    if (!t.ok(ours.equals(body), `v${v}: answer from state = the broker's answer (all topics)`)) t.same(parseMetadataResponse(v, ours), parsed);
    if (v >= 4) {
      // the known topic and an unknown one, without auto-creation
      const q = encodeMetadataRequest(v, req([{ name: 'bw-missing', topicId: null }, { name: topic, topicId: null }], false));
      const b = await conn.request(3, v, q);
      const p = parseMetadataResponse(v, b);
      t.ok(encodeMetadataResponse(v, p).equals(b), `v${v}: named topics, encode(parse) byte-exact`);
      t.same(p.topics.map((x) => [x.name, x.errorCode]), [[topic, 0], ['bw-missing', 3]], `v${v}: broker: unknown topic = UNKNOWN_TOPIC_OR_PARTITION, after the topics found`);
      const a = answerMetadata(v, learned, parseMetadataRequest(v, q));
      if (!t.ok(a.equals(b), `v${v}: answer from state = the broker's answer (named + unknown)`)) t.same(parseMetadataResponse(v, a), p);
    }
    if (v >= 12) {
      const known = learned.topics.find((x) => x.name === topic)!.topicId;
      const q = encodeMetadataRequest(v, req([{ name: null, topicId: known }, { name: null, topicId: id(0x5a) }], false));
      t.comment(`v${v}: asked for ids ${known.toString('hex')}, ${id(0x5a).toString('hex')}`);
      const b = await conn.request(3, v, q);
      const p = parseMetadataResponse(v, b);
      t.ok(encodeMetadataResponse(v, p).equals(b), `v${v}: topics by id, encode(parse) byte-exact`);
      t.comment(`v${v} by id: ${JSON.stringify(p.topics.map((x) => [x.name, x.errorCode, x.topicId.toString('hex')]))}`);
      const a = answerMetadata(v, learned, parseMetadataRequest(v, q));
      if (!t.ok(a.equals(b), `v${v}: answer from state = the broker's answer (by id + unknown id)`)) t.same(parseMetadataResponse(v, a), p);
    }
    versions++;
  }
  t.ok(versions >= 10, `Metadata v${range.min}..v${top} checked`);
});
