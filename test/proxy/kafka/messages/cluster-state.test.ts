// The stored Kafka cluster state: JSON round trips and validation (fast-check), merging Metadata
// responses (all topics replace, named topics upsert, errors never stored), atomic saves and
// loads that never throw on a corrupt or unreadable file.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import fc from 'fast-check';
import { inProperty } from '../../../support/property-asserts.js';
import {
  ClusterStateError,
  emptyClusterState,
  fromJSON,
  loadClusterState,
  mergeMetadata,
  saveClusterState,
  toJSON,
  topicIdFromString,
  topicIdToString,
  withApiVersions,
  type ClusterState,
} from '../../../../src/proxy/kafka/messages/cluster-state.js';
import { METADATA_MAX_VERSION, answerMetadata, type MetadataModel, type TopicModel } from '../../../../src/proxy/kafka/messages/metadata.js';

const i16 = fc.integer({ min: -32768, max: 32767 });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const text = fc.string({ unit: 'grapheme', maxLength: 20 });
const ints = fc.array(i32, { maxLength: 4 });
const uuid = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b));
const partitionArb = fc.record({ errorCode: i16, partitionIndex: i32, leaderId: i32, leaderEpoch: i32, replicaNodes: ints, isrNodes: ints, offlineReplicas: ints });
const storedTopicArb = (name: fc.Arbitrary<string>): fc.Arbitrary<TopicModel> =>
  fc.record({
    errorCode: fc.constant(0),
    name,
    topicId: uuid,
    isInternal: fc.boolean(),
    partitions: fc.array(partitionArb, { maxLength: 3 }),
    topicAuthorizedOperations: i32,
  });
const brokerArb = fc.record({ nodeId: i32, host: fc.oneof(fc.domain(), fc.ipV4(), text), port: i32, rack: fc.option(text, { nil: null }) });
const stateArb: fc.Arbitrary<ClusterState> = fc.record({
  clusterId: fc.option(text, { nil: null }),
  controllerId: i32,
  brokers: fc.array(brokerArb, { maxLength: 4 }),
  topics: fc.uniqueArray(storedTopicArb(text), { maxLength: 5, selector: (x) => x.name }),
  apiVersions: fc.array(fc.tuple(i16, i16, i16), { maxLength: 10 }),
  updatedAt: fc.integer({ min: 0, max: 4_000_000_000_000 }),
});

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'bw-cluster-state-'));

t.test('toJSON/fromJSON round trip, through JSON text', async (t) => {
  fc.assert(
    fc.property(stateArb, (s) => {
      const t = inProperty;
      const back = fromJSON(JSON.parse(JSON.stringify(toJSON(s))));
      t.same(back, s, 'state after JSON');
      for (let v = 0; v <= METADATA_MAX_VERSION; v++) {
        t.ok(answerMetadata(v, back, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: true }).equals(
          answerMetadata(v, s, { topics: null, allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: true }),
        ), `v${v}: the same answer`);
      }
      return true;
    }),
    { numRuns: 150 },
  );
  const id = Buffer.from('0edd3aa38fd6435998164a0ff3ae3d50', 'hex');
  t.equal(topicIdToString(id), 'Dt06o4_WQ1mYFkoP8649UA', "Kafka's base64url form");
  t.same(topicIdFromString('Dt06o4_WQ1mYFkoP8649UA'), id, 'from base64url');
  t.same(topicIdFromString('Dt06o4/WQ1mYFkoP8649UA=='), id, 'from base64');
  t.same(topicIdFromString('0edd3aa38fd6435998164a0ff3ae3d50'), id, 'from hex');
  t.same(topicIdFromString('0EDD3AA38FD6435998164A0FF3AE3D50'), id, 'from HEX');
  for (const bad of ['', 'Dt06o4_WQ1mYFkoP8649U', '0edd3aa38fd6435998164a0ff3ae3d5', 'Dt06o4_WQ1mYFkoP8649UA==', 'zz'.repeat(16)]) {
    t.throws(() => topicIdFromString(bad), ClusterStateError, `invalid id ${JSON.stringify(bad)}`);
  }
});

t.test('fromJSON rejects invalid documents with a ClusterStateError naming the field', async (t) => {
  const good = toJSON({
    clusterId: 'c',
    controllerId: 1,
    brokers: [{ nodeId: 1, host: 'h', port: 9092, rack: null }],
    topics: [{ errorCode: 0, name: 'a', topicId: Buffer.alloc(16, 1), isInternal: false, partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: 1, leaderEpoch: 0, replicaNodes: [1], isrNodes: [1], offlineReplicas: [] }], topicAuthorizedOperations: 0 }],
    apiVersions: [[3, 0, 13]],
    updatedAt: 0,
  });
  const cases: [string, (j: any) => unknown, RegExp][] = [
    ['not an object', () => [], /the document is not an object/],
    ['another format', (j) => ({ ...j, format: 2 }), /format/],
    ['brokers missing', (j) => ({ ...j, brokers: undefined }), /brokers is not an array/],
    ['port not an integer', (j) => ({ ...j, brokers: [{ ...j.brokers[0], port: 1.5 }] }), /brokers\[0\]\.port/],
    ['node id out of INT32', (j) => ({ ...j, brokers: [{ ...j.brokers[0], nodeId: 2 ** 31 }] }), /brokers\[0\]\.nodeId/],
    ['host not a string', (j) => ({ ...j, brokers: [{ ...j.brokers[0], host: 5 }] }), /brokers\[0\]\.host/],
    ['bad topic id', (j) => ({ ...j, topics: [{ ...j.topics[0], topicId: 'nope' }] }), /topics\[0\]\.topicId/],
    ['duplicate topic', (j) => ({ ...j, topics: [j.topics[0], j.topics[0]] }), /topics\[1\]\.name/],
    ['replica not an int', (j) => ({ ...j, topics: [{ ...j.topics[0], partitions: [{ ...j.topics[0].partitions[0], replicaNodes: ['1'] }] }] }), /replicaNodes\[0\]/],
    ['api versions entry', (j) => ({ ...j, apiVersions: [[3, 0]] }), /apiVersions\[0\]/],
    ['api key out of INT16', (j) => ({ ...j, apiVersions: [[70000, 0, 1]] }), /apiVersions\[0\]\[0\]/],
    ['updatedAt', (j) => ({ ...j, updatedAt: 'yesterday' }), /updatedAt/],
    ['clusterId', (j) => ({ ...j, clusterId: 7 }), /clusterId/],
  ];
  t.same(fromJSON(JSON.parse(JSON.stringify(good))).topics[0]!.name, 'a', 'the good document loads');
  for (const [label, mutate, msg] of cases) {
    t.throws(() => fromJSON(mutate(JSON.parse(JSON.stringify(good)))), { name: 'ClusterStateError', message: msg }, label);
  }
  // any JSON value: a state or a ClusterStateError, nothing else
  let rejected = 0;
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), fc.constant(good).chain((g) => fc.record({ k: fc.constantFrom(...Object.keys(g)), v: fc.jsonValue() }).map(({ k, v }) => ({ ...g, [k]: v })))), (doc) => {
      try {
        fromJSON(doc);
      } catch (e) {
        if (!(e instanceof ClusterStateError)) throw e;
        rejected++;
      }
    }),
    { numRuns: 1000 },
  );
  t.ok(rejected > 500, `${rejected} random documents rejected with ClusterStateError`);
});

// ---------------------------------------------------------------- mergeMetadata

const part = (i: number, leader = 1) => ({ errorCode: 0, partitionIndex: i, leaderId: leader, leaderEpoch: 0, replicaNodes: [leader], isrNodes: [leader], offlineReplicas: [] });
const topic = (name: string, n: number, extra: Partial<TopicModel> = {}): TopicModel => ({
  errorCode: 0,
  name,
  topicId: Buffer.alloc(16, name.charCodeAt(0)),
  isInternal: false,
  partitions: Array.from({ length: n }, (_, i) => part(i)),
  topicAuthorizedOperations: -2147483648,
  ...extra,
});
const model = (topics: TopicModel[], extra: Partial<MetadataModel> = {}): MetadataModel => ({
  throttleTimeMs: 0,
  brokers: [{ nodeId: 1, host: 'kafka-1', port: 9092, rack: null }],
  clusterId: 'C1',
  controllerId: 1,
  topics,
  clusterAuthorizedOperations: -2147483648,
  errorCode: 0,
  ...extra,
});
const names = (s: ClusterState): string[] => s.topics.map((x) => `${x.name}:${x.partitions.length}`);

t.test('mergeMetadata', async (t) => {
  const s1 = mergeMetadata(undefined, model([topic('a', 1), topic('b', 2), topic('bad', 0, { errorCode: 5 })]), true, 1000);
  t.same(names(s1), ['a:1', 'b:2'], 'first state: topics without errors');
  t.same([s1.clusterId, s1.controllerId, s1.brokers, s1.apiVersions, s1.updatedAt], ['C1', 1, [{ nodeId: 1, host: 'kafka-1', port: 9092, rack: null }], [], 1000], 'cluster id, controller, brokers, no api versions, time');

  const s2 = mergeMetadata(s1, model([topic('b', 3), topic('c', 1)]), false, 2000);
  t.same(names(s2), ['a:1', 'b:3', 'c:1'], 'named request: b updated in place, c added, a kept');
  const s3 = mergeMetadata(s2, model([topic('c', 2)]), true, 3000);
  t.same(names(s3), ['c:2'], 'all-topics request: replaces every topic');

  const s4 = mergeMetadata(s2, model([topic('a', 0, { errorCode: 3 }), topic('b', 0, { errorCode: 5 }), topic('c', 0, { errorCode: 29 })]), false, 4000);
  t.same(names(s4), ['b:3', 'c:1'], 'UNKNOWN_TOPIC_OR_PARTITION removes a (deleted); other errors leave b and c as stored');
  const byId = mergeMetadata(s2, model([topic('x', 0, { errorCode: 100, name: null, topicId: s2.topics[1]!.topicId })]), false, 4000);
  t.same(names(byId), ['a:1', 'c:1'], 'UNKNOWN_TOPIC_ID removes the topic with that id');

  const moved = mergeMetadata(s2, model([], { brokers: [{ nodeId: 2, host: 'kafka-2', port: 9093, rack: 'r' }], clusterId: 'C1', controllerId: 2 }), false, 5000);
  t.same([moved.brokers, moved.controllerId, names(moved)], [[{ nodeId: 2, host: 'kafka-2', port: 9093, rack: 'r' }], 2, ['a:1', 'b:3', 'c:1']], 'brokers and controller from the latest response');
  const old = mergeMetadata(s2, model([], { clusterId: null, controllerId: -1 }), false, 5000);
  t.same([old.clusterId, old.controllerId], ['C1', 1], 'a response without cluster id / controller (v0-1) keeps the known ones');

  const withVersions = withApiVersions(s2, [[3, 0, 13], [18, 0, 4]], 6000);
  t.same(mergeMetadata(withVersions, model([]), true, 7000).apiVersions, [[3, 0, 13], [18, 0, 4]], 'api versions survive a merge');
  t.same(withApiVersions(undefined, [[18, 0, 4]], 1).apiVersions, [[18, 0, 4]], 'withApiVersions on no state');

  const errored = mergeMetadata(s2, model([], { errorCode: 110, brokers: [] }), true, 8000);
  t.equal(errored, s2, 'a top-level error (v13+) leaves the state unchanged');

  const m = model([topic('a', 1)]);
  const s5 = mergeMetadata(undefined, m, true, 1);
  m.topics[0]!.topicId.fill(7);
  m.topics[0]!.partitions[0]!.replicaNodes.push(9);
  t.same([s5.topics[0]!.topicId, s5.topics[0]!.partitions[0]!.replicaNodes], [Buffer.alloc(16, 'a'.charCodeAt(0)), [1]], 'the state does not alias the parsed response (its Buffer views)');
  t.same(emptyClusterState(5), { clusterId: null, controllerId: -1, brokers: [], topics: [], apiVersions: [], updatedAt: 5 }, 'emptyClusterState');

  // property: replace-all = exactly the error-free listed topics; upsert keeps every other stored topic
  fc.assert(
    fc.property(stateArb, fc.uniqueArray(storedTopicArb(fc.constantFrom('a', 'b', 'c', 'd')).chain((x) => fc.constantFrom(0, 0, 3, 5).map((errorCode) => ({ ...x, errorCode }))), { maxLength: 4, selector: (x) => x.name }), fc.boolean(), (s, listed, all) => {
      const t = inProperty;
      const next = mergeMetadata(s, model(listed), all, 9);
      const ok = listed.filter((x) => x.errorCode === 0).map((x) => x.name);
      const gone = listed.filter((x) => x.errorCode === 3).map((x) => x.name);
      const want = all ? ok : [...s.topics.map((x) => x.name).filter((n) => !gone.includes(n as string)), ...ok.filter((n) => !s.topics.some((x) => x.name === n))];
      t.same(next.topics.map((x) => x.name), want, 'topic names');
      t.ok(next.topics.every((x) => x.errorCode === 0), 'no errors stored');
      return true;
    }),
    { numRuns: 300 },
  );
});

// ---------------------------------------------------------------- files

t.test('saveClusterState / loadClusterState', async (t) => {
  const dir = tmp();
  t.teardown(() => fsp.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'nested', 'kafka-state.json');
  const errors: ClusterStateError[] = [];
  const onError = (e: ClusterStateError): void => void errors.push(e);

  t.equal(await loadClusterState(file, onError), undefined, 'missing file: undefined');
  t.same(errors, [], 'missing file: no error (first start)');

  const s = fc.sample(stateArb, { numRuns: 1, seed: 42 })[0]!;
  await saveClusterState(file, s);
  t.same(await loadClusterState(file, onError), s, 'saved then loaded (directory created)');
  t.same(fs.readdirSync(path.dirname(file)), ['kafka-state.json'], 'no temp file left behind');
  t.match(fs.readFileSync(file, 'utf8'), /"format": 1/, 'readable JSON');

  const s2 = { ...s, controllerId: 77, updatedAt: s.updatedAt + 1 };
  await saveClusterState(file, s2);
  t.equal((await loadClusterState(file))?.controllerId, 77, 'overwritten');

  await Promise.all(Array.from({ length: 8 }, (_, i) => saveClusterState(file, { ...s, controllerId: i })));
  const last = await loadClusterState(file, onError);
  t.ok(last !== undefined && last.controllerId >= 0 && last.controllerId < 8, `concurrent saves: one of them wins whole (${last?.controllerId})`);
  t.same(fs.readdirSync(path.dirname(file)), ['kafka-state.json'], 'still no temp files');

  for (const [label, content] of [['truncated JSON', '{"format": 1, "brok'], ['not JSON', '\u0000\u0001garbage'], ['invalid state', '{"format": 1}'], ['empty file', '']] as const) {
    fs.writeFileSync(file, content);
    errors.length = 0;
    t.equal(await loadClusterState(file, onError), undefined, `${label}: undefined`);
    t.equal(errors.length, 1, `${label}: one error reported`);
    t.match(errors[0], { name: 'ClusterStateError', message: new RegExp(`ignoring the Kafka cluster state file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) }, `${label}: the error names the file`);
  }
  errors.length = 0;
  t.equal(await loadClusterState(dir, onError), undefined, 'a directory: undefined');
  t.match(errors[0]?.message, /cannot read the Kafka cluster state file/, 'a directory: error reported');
  t.equal(await loadClusterState(dir), undefined, 'no onError: still undefined, no throw');
  t.equal(await loadClusterState(dir, () => { throw new Error('logger broke'); }), undefined, 'a throwing onError does not reject');

  // a save that cannot happen rejects and leaves the old file alone
  await saveClusterState(file, s);
  const blocker = path.join(dir, 'blocker');
  fs.writeFileSync(blocker, 'x');
  await t.rejects(saveClusterState(path.join(blocker, 'state.json'), s), 'a path under a regular file: rejects');
  t.same(await loadClusterState(file), s, 'the previous file is intact');
});
