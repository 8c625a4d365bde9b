// Address rewriting and ApiVersions narrowing. Part 1: responses generated for every version
// by an encoder written here from the apache/kafka message specs (MetadataResponse.json,
// FindCoordinatorResponse.json, DescribeClusterResponse.json, ApiVersionsResponse.json);
// the rewritten bytes must equal the encoding of the same response with only host/port
// changed. Part 2: the same checks on a real Kafka broker's responses over a raw socket.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { inProperty } from '../../support/property-asserts.js';
import { withKafka } from '../../services/index.js';
import { KafkaWireError, Reader, Writer } from '../../../src/proxy/kafka/wire.js';
import { Enc, apiVersionsLayout, type Tags } from './messages/spec-helpers.js';
import { RawKafka } from './messages/raw-kafka.js';
import {
  API_VERSIONS_MAX_VERSION,
  DEFAULT_NARROW_LIMITS,
  REWRITABLE_MAX_VERSIONS,
  brokersIn,
  narrowApiVersions,
  parseApiVersions,
  rewriteAddresses,
  type BrokerAddress,
} from '../../../src/proxy/kafka/rewrite.js';

// ---------------------------------------------------------------- encoder from the specs

interface Broker { nodeId: number; host: string; port: number; rack: string | null; fenced: boolean; tags: Tags }
interface Partition { errorCode: number; index: number; leader: number; epoch: number; replicas: number[]; isr: number[]; offline: number[]; tags: Tags }
interface Topic { errorCode: number; name: string | null; id: Uint8Array; internal: boolean; partitions: Partition[]; authOps: number; tags: Tags }
interface MetadataModel { throttle: number; brokers: Broker[]; clusterId: string | null; controllerId: number; topics: Topic[]; clusterAuthOps: number; errorCode: number; tags: Tags }

function encodeMetadata(v: number, m: MetadataModel): Buffer {
  const e = new Enc(v >= 9);
  const w = e.w;
  if (v >= 3) w.int32(m.throttle);
  e.arr(m.brokers, (b) => {
    w.int32(b.nodeId);
    e.str(b.host);
    w.int32(b.port);
    if (v >= 1) e.nstr(b.rack);
    e.tags(b.tags);
  });
  if (v >= 2) e.nstr(m.clusterId);
  if (v >= 1) w.int32(m.controllerId);
  e.arr(m.topics, (tp) => {
    w.int16(tp.errorCode);
    if (v >= 12) e.nstr(tp.name);
    else e.str(tp.name ?? '');
    if (v >= 10) w.raw(tp.id);
    if (v >= 1) w.bool(tp.internal);
    e.arr(tp.partitions, (p) => {
      w.int16(p.errorCode).int32(p.index).int32(p.leader);
      if (v >= 7) w.int32(p.epoch);
      e.arr(p.replicas, (x) => w.int32(x));
      e.arr(p.isr, (x) => w.int32(x));
      if (v >= 5) e.arr(p.offline, (x) => w.int32(x));
      e.tags(p.tags);
    });
    if (v >= 8) w.int32(tp.authOps);
    e.tags(tp.tags);
  });
  if (v >= 8 && v <= 10) w.int32(m.clusterAuthOps);
  if (v >= 13) w.int16(m.errorCode);
  e.tags(m.tags);
  return w.toBuffer();
}

interface Coordinator { key: string; nodeId: number; host: string; port: number; errorCode: number; errorMessage: string | null; tags: Tags }
interface FindCoordinatorModel { throttle: number; errorCode: number; errorMessage: string | null; coordinators: Coordinator[]; tags: Tags }

function encodeFindCoordinator(v: number, m: FindCoordinatorModel): Buffer {
  const e = new Enc(v >= 3);
  const w = e.w;
  if (v >= 1) w.int32(m.throttle);
  if (v <= 3) {
    const c = m.coordinators[0]!;
    w.int16(m.errorCode);
    if (v >= 1) e.nstr(m.errorMessage);
    w.int32(c.nodeId);
    e.str(c.host);
    w.int32(c.port);
  } else {
    e.arr(m.coordinators, (c) => {
      e.str(c.key);
      w.int32(c.nodeId);
      e.str(c.host);
      w.int32(c.port).int16(c.errorCode);
      e.nstr(c.errorMessage);
      e.tags(c.tags);
    });
  }
  e.tags(m.tags);
  return w.toBuffer();
}

interface DescribeClusterModel { throttle: number; errorCode: number; errorMessage: string | null; endpointType: number; clusterId: string; controllerId: number; brokers: Broker[]; authOps: number; tags: Tags }

function encodeDescribeCluster(v: number, m: DescribeClusterModel): Buffer {
  const e = new Enc(true);
  const w = e.w;
  w.int32(m.throttle).int16(m.errorCode);
  e.nstr(m.errorMessage);
  if (v >= 1) w.int8(m.endpointType);
  e.str(m.clusterId);
  w.int32(m.controllerId);
  e.arr(m.brokers, (b) => {
    w.int32(b.nodeId);
    e.str(b.host);
    w.int32(b.port);
    e.nstr(b.rack);
    if (v >= 2) w.bool(b.fenced);
    e.tags(b.tags);
  });
  w.int32(m.authOps);
  e.tags(m.tags);
  return w.toBuffer();
}

interface ApiKeyEntry { key: number; min: number; max: number; tags: Tags }
interface ApiVersionsModel { errorCode: number; keys: ApiKeyEntry[]; throttle: number; tags: Tags }

function encodeApiVersions(v: number, m: ApiVersionsModel): Buffer {
  const e = new Enc(v >= 3);
  const w = e.w;
  w.int16(m.errorCode);
  e.arr(m.keys, (k) => {
    w.int16(k.key).int16(k.min).int16(k.max);
    e.tags(k.tags);
  });
  if (v >= 1) w.int32(m.throttle);
  e.tags(m.tags);
  return w.toBuffer();
}

// ---------------------------------------------------------------- decoder (the encoder's inverse)

class Dec {
  readonly r: Reader;
  constructor(body: Buffer, readonly flex: boolean) {
    this.r = new Reader(body);
  }
  str(): string {
    return this.flex ? this.r.compactString() : this.r.string();
  }
  nstr(): string | null {
    return this.flex ? this.r.compactNullableString() : this.r.nullableString();
  }
  arr<T>(each: () => T): T[] {
    const n = this.flex ? this.r.compactArrayLength() : this.r.arrayLength();
    const out: T[] = [];
    for (let i = 0; i < (n ?? 0); i++) out.push(each());
    return out;
  }
  tags(): Tags {
    return this.flex ? this.r.taggedFields().map((f) => ({ tag: f.tag, data: Buffer.from(f.data) })) : [];
  }
}

function decodeMetadata(v: number, body: Buffer): MetadataModel {
  const d = new Dec(body, v >= 9);
  const r = d.r;
  const throttle = v >= 3 ? r.int32() : 0;
  const brokers = d.arr(() => ({ nodeId: r.int32(), host: d.str(), port: r.int32(), rack: v >= 1 ? d.nstr() : null, fenced: false, tags: d.tags() }));
  const clusterId = v >= 2 ? d.nstr() : null;
  const controllerId = v >= 1 ? r.int32() : 0;
  const topics = d.arr(() => ({
    errorCode: r.int16(),
    name: v >= 12 ? d.nstr() : d.str(),
    id: v >= 10 ? Buffer.from(r.uuid()) : Buffer.alloc(16),
    internal: v >= 1 ? r.bool() : false,
    partitions: d.arr(() => ({
      errorCode: r.int16(),
      index: r.int32(),
      leader: r.int32(),
      epoch: v >= 7 ? r.int32() : 0,
      replicas: d.arr(() => r.int32()),
      isr: d.arr(() => r.int32()),
      offline: v >= 5 ? d.arr(() => r.int32()) : [],
      tags: d.tags(),
    })),
    authOps: v >= 8 ? r.int32() : 0,
    tags: d.tags(),
  }));
  const clusterAuthOps = v >= 8 && v <= 10 ? r.int32() : 0;
  const errorCode = v >= 13 ? r.int16() : 0;
  const tags = d.tags();
  if (r.remaining !== 0) throw new Error(`Metadata v${v}: ${r.remaining} bytes left after decoding`);
  return { throttle, brokers, clusterId, controllerId, topics, clusterAuthOps, errorCode, tags };
}

function decodeFindCoordinator(v: number, body: Buffer): FindCoordinatorModel {
  const d = new Dec(body, v >= 3);
  const r = d.r;
  const throttle = v >= 1 ? r.int32() : 0;
  let m: FindCoordinatorModel;
  if (v <= 3) {
    const errorCode = r.int16();
    const errorMessage = v >= 1 ? d.nstr() : null;
    const c = { key: '', nodeId: r.int32(), host: d.str(), port: r.int32(), errorCode: 0, errorMessage: null, tags: [] };
    m = { throttle, errorCode, errorMessage, coordinators: [c], tags: d.tags() };
  } else {
    const coordinators = d.arr(() => ({ key: d.str(), nodeId: r.int32(), host: d.str(), port: r.int32(), errorCode: r.int16(), errorMessage: d.nstr(), tags: d.tags() }));
    m = { throttle, errorCode: 0, errorMessage: null, coordinators, tags: d.tags() };
  }
  if (r.remaining !== 0) throw new Error(`FindCoordinator v${v}: ${r.remaining} bytes left after decoding`);
  return m;
}

function decodeDescribeCluster(v: number, body: Buffer): DescribeClusterModel {
  const d = new Dec(body, true);
  const r = d.r;
  const m: DescribeClusterModel = {
    throttle: r.int32(),
    errorCode: r.int16(),
    errorMessage: d.nstr(),
    endpointType: v >= 1 ? r.int8() : 1,
    clusterId: d.str(),
    controllerId: r.int32(),
    brokers: d.arr(() => ({ nodeId: r.int32(), host: d.str(), port: r.int32(), rack: d.nstr(), fenced: v >= 2 ? r.bool() : false, tags: d.tags() })),
    authOps: r.int32(),
    tags: d.tags(),
  };
  if (r.remaining !== 0) throw new Error(`DescribeCluster v${v}: ${r.remaining} bytes left after decoding`);
  return m;
}

// ---------------------------------------------------------------- generators

const i16 = fc.integer({ min: -32768, max: 32767 });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const text = fc.string({ unit: 'grapheme', maxLength: 24 });
const hostArb = fc.oneof(fc.domain(), fc.ipV4(), fc.constant(''), text);
const portArb = fc.oneof(fc.integer({ min: 1, max: 65535 }), i32);
const tagsArb: fc.Arbitrary<Tags> = fc.uniqueArray(fc.record({ tag: fc.nat(300), data: fc.uint8Array({ maxLength: 12 }) }), {
  maxLength: 3,
  selector: (x) => x.tag,
});
const ints = fc.array(i32, { maxLength: 4 });
const brokersArb = fc.uniqueArray(
  fc.record({ nodeId: fc.nat(1_000_000), host: hostArb, port: portArb, rack: fc.option(text, { nil: null }), fenced: fc.boolean(), tags: tagsArb }),
  { maxLength: 5, selector: (b) => b.nodeId },
);

const metadataArb: fc.Arbitrary<MetadataModel> = fc.record({
  throttle: i32,
  brokers: brokersArb,
  clusterId: fc.option(text, { nil: null }),
  controllerId: i32,
  topics: fc.array(
    fc.record({
      errorCode: i16,
      name: fc.option(text, { nil: null }),
      id: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      internal: fc.boolean(),
      partitions: fc.array(
        fc.record({ errorCode: i16, index: i32, leader: i32, epoch: i32, replicas: ints, isr: ints, offline: ints, tags: tagsArb }),
        { maxLength: 3 },
      ),
      authOps: i32,
      tags: tagsArb,
    }),
    { maxLength: 3 },
  ),
  clusterAuthOps: i32,
  errorCode: i16,
  tags: tagsArb,
});

/** Coordinators refer to a pool of nodes (unique ids, several keys may share a node) or to none (-1). */
const findCoordinatorArb: fc.Arbitrary<{ pool: Broker[]; m: FindCoordinatorModel }> = brokersArb
  .filter((p) => p.length > 0)
  .chain((pool) =>
    fc.record({
      pool: fc.constant(pool),
      m: fc.record({
        throttle: i32,
        errorCode: i16,
        errorMessage: fc.option(text, { nil: null }),
        coordinators: fc.array(
          fc.record({
            key: text,
            node: fc.option(fc.constantFrom(...pool), { nil: null, freq: 4 }),
            errorCode: i16,
            errorMessage: fc.option(text, { nil: null }),
            tags: tagsArb,
          }).map(({ node, ...c }) => ({ ...c, nodeId: node?.nodeId ?? -1, host: node?.host ?? '', port: node?.port ?? -1 })),
          { minLength: 1, maxLength: 4 },
        ),
        tags: tagsArb,
      }),
    }),
  );

const describeClusterArb: fc.Arbitrary<DescribeClusterModel> = fc.record({
  throttle: i32,
  errorCode: i16,
  errorMessage: fc.option(text, { nil: null }),
  endpointType: fc.integer({ min: -128, max: 127 }),
  clusterId: text,
  controllerId: i32,
  brokers: brokersArb,
  authOps: i32,
  tags: tagsArb,
});

/** A random new address per node id, and its inverse. */
const addressMapArb = fc.array(fc.record({ host: hostArb, port: portArb }), { minLength: 8, maxLength: 8 });

function mapFor(choices: { host: string; port: number }[]): (b: BrokerAddress) => { host: string; port: number } {
  return (b) => choices[b.nodeId % choices.length]!;
}
function inverseOf(brokers: readonly { nodeId: number; host: string; port: number }[]): (b: BrokerAddress) => { host: string; port: number } {
  const byId = new Map(brokers.map((x) => [x.nodeId, { host: x.host, port: x.port }]));
  return (b) => byId.get(b.nodeId)!;
}
const uniq = (bs: readonly { nodeId: number; host: string; port: number }[]): BrokerAddress[] => {
  const seen = new Set<string>();
  const out: BrokerAddress[] = [];
  for (const b of bs) {
    if (b.nodeId < 0) continue;
    const k = `${b.nodeId}\u0000${b.host}\u0000${b.port}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push({ nodeId: b.nodeId, host: b.host, port: b.port });
    }
  }
  return out;
};

const RUNS = { numRuns: 60 };

/** The common checks: brokersIn, identity, rewrite = encoding of the mapped model, inverse restores. */
function checkRewrite(
  t: Test,
  apiKey: number,
  v: number,
  original: Buffer,
  expectedBrokers: BrokerAddress[],
  mappedEncoding: Buffer,
  map: (b: BrokerAddress) => { host: string; port: number },
  inverse: (b: BrokerAddress) => { host: string; port: number },
): boolean {
  const label = `api ${apiKey} v${v}`;
  if (!t.same(brokersIn(apiKey, v, original), expectedBrokers, `${label}: brokersIn`)) return false;
  if (!t.equal(rewriteAddresses(apiKey, v, original, (b) => ({ host: b.host, port: b.port })), original, `${label}: identity is the same buffer`)) return false;
  const rewritten = rewriteAddresses(apiKey, v, original, map);
  if (!t.ok(rewritten.equals(mappedEncoding), `${label}: rewritten bytes = the response encoded with the new addresses`)) return false;
  return t.ok(rewriteAddresses(apiKey, v, rewritten, inverse).equals(original), `${label}: inverse map restores every byte`);
}

t.test('Metadata v0-v13: only host/port change, everything else byte-identical', async (t) => {
  for (let v = 0; v <= 13; v++) {
    fc.assert(
      fc.property(metadataArb, addressMapArb, (m0, choices) => {
        const t = inProperty;
        // fields absent in older versions must not carry information the decoder cannot see
        const m = v >= 12 ? m0 : { ...m0, topics: m0.topics.map((x) => ({ ...x, name: x.name ?? '' })) };
        const map = mapFor(choices);
        const mapped = { ...m, brokers: m.brokers.map((b) => ({ ...b, ...map(b) })) };
        return checkRewrite(t, 3, v, encodeMetadata(v, m), uniq(m.brokers), encodeMetadata(v, mapped), map, inverseOf(m.brokers));
      }),
      RUNS,
    );
  }
});

t.test('FindCoordinator v0-v6: coordinators rewritten, node -1 left alone', async (t) => {
  for (let v = 0; v <= 6; v++) {
    fc.assert(
      fc.property(findCoordinatorArb, addressMapArb, ({ pool, m }, choices) => {
        const t = inProperty;
        const map = mapFor(choices);
        const mapped = { ...m, coordinators: m.coordinators.map((c) => (c.nodeId < 0 ? c : { ...c, ...map(c) })) };
        const visible = v <= 3 ? m.coordinators.slice(0, 1) : m.coordinators;
        return checkRewrite(t, 10, v, encodeFindCoordinator(v, m), uniq(visible), encodeFindCoordinator(v, mapped), map, inverseOf(pool));
      }),
      RUNS,
    );
  }
});

t.test('DescribeCluster v0-v2', async (t) => {
  for (let v = 0; v <= 2; v++) {
    fc.assert(
      fc.property(describeClusterArb, addressMapArb, (m, choices) => {
        const t = inProperty;
        const map = mapFor(choices);
        const mapped = { ...m, brokers: m.brokers.map((b) => ({ ...b, ...map(b) })) };
        return checkRewrite(t, 60, v, encodeDescribeCluster(v, m), uniq(m.brokers), encodeDescribeCluster(v, mapped), map, inverseOf(m.brokers));
      }),
      RUNS,
    );
  }
});

t.test('truncated or garbage bodies raise only KafkaWireError; unknown versions are unsupported_version', async (t) => {
  let thrown = 0;
  const cases: [number, number][] = [];
  for (let v = 0; v <= 13; v++) cases.push([3, v]);
  for (let v = 0; v <= 6; v++) cases.push([10, v]);
  for (let v = 0; v <= 2; v++) cases.push([60, v]);
  fc.assert(
    fc.property(fc.constantFrom(...cases), metadataArb, fc.nat(), fc.uint8Array({ maxLength: 80 }), ([k, v], m, cut, garbage) => {
      const t = inProperty;
      const full = k === 3 ? encodeMetadata(v, m) : Buffer.from(garbage);
      for (const body of [full.subarray(0, cut % (full.length + 1)), Buffer.from(garbage)]) {
        try {
          rewriteAddresses(k, v, body, () => ({ host: 'x', port: 1 }));
          brokersIn(k, v, body);
        } catch (e) {
          if (!(e instanceof KafkaWireError)) throw e;
          thrown++;
        }
      }
    }),
    { numRuns: 1000 },
  );
  t.ok(thrown > 0, `${thrown} typed errors`);
  t.throws(() => rewriteAddresses(3, 0, Buffer.alloc(0), (b) => b), { code: 'truncated' }, 'empty Metadata body');
  t.throws(() => brokersIn(3, 14, Buffer.alloc(64)), { code: 'unsupported_version' });
  t.throws(() => brokersIn(10, 7, Buffer.alloc(64)), { code: 'unsupported_version' });
  t.throws(() => brokersIn(60, 3, Buffer.alloc(64)), { code: 'unsupported_version' });
  t.throws(() => brokersIn(0, 9, Buffer.alloc(64)), { code: 'unsupported_version' }, 'Produce is not rewritten here');
  t.throws(() => narrowApiVersions(API_VERSIONS_MAX_VERSION + 1, Buffer.alloc(64), new Map()), { code: 'unsupported_version' });
  t.throws(() => brokersIn(3, 0, Buffer.from('7fffffff', 'hex')), { code: 'malformed' }, 'huge broker count');
});

t.test('narrowApiVersions v0-v4: max versions capped, keys below their min dropped, the rest byte-identical', async (t) => {
  const keyArb = fc.record({ key: fc.integer({ min: 0, max: 80 }), min: fc.integer({ min: 0, max: 5 }), span: fc.integer({ min: 0, max: 15 }), tags: tagsArb })
    .map(({ span, ...k }) => ({ ...k, max: k.min + span }));
  const modelArb: fc.Arbitrary<ApiVersionsModel> = fc.record({
    errorCode: i16,
    keys: fc.uniqueArray(keyArb, { maxLength: 12, selector: (k) => k.key }),
    throttle: i32,
    tags: tagsArb,
  });
  const limitsArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 20 })), { maxLength: 10 }).map((xs) => new Map(xs));
  for (let v = 0; v <= API_VERSIONS_MAX_VERSION; v++) {
    fc.assert(
      fc.property(modelArb, limitsArb, (m0, limits) => {
        const t = inProperty;
        const m = v >= 3 ? m0 : { ...m0, keys: m0.keys.map((k) => ({ ...k, tags: [] })), tags: [] };
        const body = encodeApiVersions(v, m);
        const keys = m.keys
          .filter((k) => (limits.get(k.key) ?? Infinity) >= k.min)
          .map((k) => ({ ...k, max: Math.min(k.max, limits.get(k.key) ?? Infinity) }));
        const out = narrowApiVersions(v, body, limits);
        const changed = m.keys.some((k) => (limits.get(k.key) ?? Infinity) < k.max);
        if (!changed) return t.equal(out, body, `v${v}: unchanged is the same buffer`);
        return t.ok(out.equals(encodeApiVersions(v, { ...m, keys })), `v${v}: narrowed = the encoding of the narrowed model`);
      }),
      { numRuns: 100 },
    );
  }
});

// ---------------------------------------------------------------- against a real broker

function metadataRequest(v: number, topics: string[] | null, autoCreate: boolean): Buffer {
  const e = new Enc(v >= 9);
  e.arr(topics, (name) => {
    if (v >= 10) e.w.raw(Buffer.alloc(16));
    e.str(name);
  });
  if (v >= 4) e.w.bool(autoCreate);
  if (v >= 8 && v <= 10) e.w.bool(true);
  if (v >= 8) e.w.bool(true);
  e.tags([]);
  return e.w.toBuffer();
}

function findCoordinatorRequest(v: number, group: string): Buffer {
  const e = new Enc(v >= 3);
  if (v <= 3) e.str(group);
  if (v >= 1) e.w.int8(0); // GROUP
  if (v >= 4) e.arr([group], (g) => e.str(g));
  e.tags([]);
  return e.w.toBuffer();
}

function describeClusterRequest(v: number): Buffer {
  const w = new Writer();
  w.bool(true);
  if (v >= 1) w.int8(1); // brokers
  if (v >= 2) w.bool(false);
  w.taggedFields([]);
  return w.toBuffer();
}

/** The tail after the ApiKeys array (ThrottleTimeMs, tagged fields) of an ApiVersions body. */
function apiVersionsTail(v: number, body: Buffer): { tail: Buffer; tags: number[] } {
  const { afterKeys, tags, remaining } = apiVersionsLayout(v, body);
  t.equal(remaining, 0, `ApiVersions v${v} body fully parsed`);
  return { tail: body.subarray(afterKeys), tags };
}

/** Byte positions where a and b differ (same length). */
function diffPositions(a: Buffer, b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

t.test('against a real Kafka broker', async (t) => {
  const kafka = await withKafka(t);
  const conn = await RawKafka.connect(kafka.port, { clientId: 'breakwater-rewrite-test' });
  t.teardown(() => conn.close());
  const self: BrokerAddress = { nodeId: 1, host: '127.0.0.1', port: kafka.port };
  const otherPort = kafka.port === 65535 ? 1 : kafka.port + 1;

  // ApiVersions v0 and v3 (header v0 responses), then v4 when offered
  const v0 = await conn.request(18, 0, Buffer.alloc(0));
  const offered = parseApiVersions(0, v0);
  t.equal(offered.errorCode, 0, 'ApiVersions v0 error code');
  const range = (k: number): { min: number; max: number } => offered.apiKeys.get(k) ?? { min: 0, max: -1 };
  t.ok(range(18).max >= 3, `ApiVersions up to v${range(18).max}`);
  t.comment(`broker ApiVersions: ${[...offered.apiKeys].map(([k, r]) => `${k}:${r.min}-${r.max}`).join(' ')}`);
  const avBodies = new Map<number, Buffer>([[0, v0]]);
  const swName = new Writer().compactString('breakwater').compactString('0.1.0').taggedFields([]).toBuffer();
  for (let v = 3; v <= Math.min(API_VERSIONS_MAX_VERSION, range(18).max); v++) avBodies.set(v, await conn.request(18, v, swName));

  const limits = new Map<number, number>([...REWRITABLE_MAX_VERSIONS, [0, 8], [1, 11], [9999, 1]]);
  for (const [v, body] of avBodies) {
    const before = parseApiVersions(v, body);
    t.equal(before.errorCode, 0, `ApiVersions v${v} error code`);
    const narrowed = narrowApiVersions(v, body, limits);
    const after = parseApiVersions(v, narrowed);
    t.equal(after.apiKeys.size, before.apiKeys.size, `v${v}: no key dropped (every limit is above the min)`);
    let unchanged = 0;
    for (const [key, r] of before.apiKeys) {
      const lim = limits.get(key);
      const want = { min: r.min, max: lim === undefined ? r.max : Math.min(lim, r.max) };
      if (!t.same(after.apiKeys.get(key), want, `v${v} key ${key}`)) break;
      if (lim === undefined) unchanged++;
    }
    t.ok(unchanged > 30, `v${v}: ${unchanged} keys without a limit passed unchanged`);
    t.ok(after.apiKeys.get(0)!.max <= 8 && after.apiKeys.get(3)!.max <= 13, `v${v}: Produce and Metadata narrowed`);
    const a = apiVersionsTail(v, body);
    const b = apiVersionsTail(v, narrowed);
    t.ok(a.tail.equals(b.tail), `v${v}: throttle time and tagged fields byte-identical`);
    const byDefault = parseApiVersions(v, narrowApiVersions(v, body, DEFAULT_NARROW_LIMITS));
    for (const [key, max] of DEFAULT_NARROW_LIMITS) {
      const orig = before.apiKeys.get(key);
      // a limit below the api's min version removes the api (the share-group apis, 76-79)
      const expected = orig === undefined || max < orig.min ? undefined : { min: orig.min, max: Math.min(orig.max, max) };
      t.same(byDefault.apiKeys.get(key), expected, `v${v}: default limit for key ${key}`);
    }
    if (v >= 3) t.ok(a.tags.includes(0) && a.tags.includes(2), `v${v}: SupportedFeatures (0) and FinalizedFeatures (2) present: tags ${a.tags.join(',')}`);
  }

  // an ApiVersions version the broker does not know: UNSUPPORTED_VERSION (35) in the v0 body layout
  {
    const fresh = await RawKafka.connect(kafka.port);
    try {
      const body = await fresh.request(18, 127, Buffer.alloc(0));
      const parsed = parseApiVersions(0, body);
      t.equal(parsed.errorCode, 35, 'ApiVersions v127: UNSUPPORTED_VERSION, answered with a v0 body');
      t.same(parsed.apiKeys.get(18), range(18), 'the error body lists the ApiVersions range');
      t.equal(parseApiVersions(0, narrowApiVersions(0, body, DEFAULT_NARROW_LIMITS)).apiKeys.get(18)?.max, API_VERSIONS_MAX_VERSION, 'and narrows like a v0 body');
    } finally {
      fresh.close();
    }
  }

  // create a topic so Metadata responses carry topics and partitions
  const topic = 'bw-rewrite';
  const mdRange = range(3);
  const createWith = Math.max(4, mdRange.min);
  let created = false;
  for (let i = 0; i < 50 && !created; i++) {
    await conn.request(3, createWith, metadataRequest(createWith, [topic], true));
    const all = await conn.request(3, createWith, metadataRequest(createWith, null, false));
    created = all.includes(Buffer.from(topic));
    if (!created) await new Promise((r) => setTimeout(r, 200));
  }
  t.ok(created, `topic ${topic} auto-created`);

  const checkReal = (apiKey: number, v: number, body: Buffer): void => {
    const label = `api ${apiKey} v${v} (real)`;
    const reencoded =
      apiKey === 3 ? encodeMetadata(v, decodeMetadata(v, body))
      : apiKey === 10 ? encodeFindCoordinator(v, decodeFindCoordinator(v, body))
      : encodeDescribeCluster(v, decodeDescribeCluster(v, body));
    t.ok(reencoded.equals(body), `${label}: the spec encoder reproduces the broker's bytes exactly`);
    t.same(brokersIn(apiKey, v, body), [self], `${label}: brokersIn finds the broker`);
    t.equal(rewriteAddresses(apiKey, v, body, (b) => ({ host: b.host, port: b.port })), body, `${label}: identity = same bytes`);
    const moved = rewriteAddresses(apiKey, v, body, (b) => ({ host: '127.0.0.1', port: b.nodeId === 1 ? otherPort : b.port }));
    t.equal(moved.length, body.length, `${label}: same length`);
    const diff = diffPositions(body, moved);
    const portAt = body.indexOf(Buffer.from([kafka.port >> 24, (kafka.port >> 16) & 255, (kafka.port >> 8) & 255, kafka.port & 255]), body.indexOf(Buffer.from('127.0.0.1')));
    t.ok(diff.length > 0 && diff.every((i) => i >= portAt && i < portAt + 4), `${label}: only the port bytes changed (${diff.join(',')})`);
    t.same(brokersIn(apiKey, v, moved), [{ ...self, port: otherPort }], `${label}: new port seen`);
    const renamed = rewriteAddresses(apiKey, v, body, () => ({ host: 'broker-1.proxy.local', port: 29092 }));
    t.same(brokersIn(apiKey, v, renamed), [{ nodeId: 1, host: 'broker-1.proxy.local', port: 29092 }], `${label}: renamed`);
    t.ok(rewriteAddresses(apiKey, v, renamed, () => ({ host: self.host, port: self.port })).equals(body), `${label}: renamed back = original bytes`);
  };

  let metadataVersions = 0;
  for (let v = Math.max(0, mdRange.min); v <= Math.min(13, mdRange.max); v++) {
    const body = await conn.request(3, v, metadataRequest(v, v === 0 ? [] : null, false));
    t.ok(body.includes(Buffer.from(topic)), `Metadata v${v} lists ${topic}`);
    checkReal(3, v, body);
    metadataVersions++;
  }
  t.ok(metadataVersions >= 5, `Metadata versions checked: ${mdRange.min}..${Math.min(13, mdRange.max)}`);

  const fcRange = range(10);
  let fcVersions = 0;
  for (let v = fcRange.min; v <= Math.min(6, fcRange.max); v++) {
    let body: Buffer = Buffer.alloc(0);
    for (let i = 0; i < 100; i++) {
      body = await conn.request(10, v, findCoordinatorRequest(v, 'bw-rewrite-group'));
      if (brokersIn(10, v, body).length > 0) break; // COORDINATOR_NOT_AVAILABLE while __consumer_offsets is created
      await new Promise((r) => setTimeout(r, 200));
    }
    checkReal(10, v, body);
    fcVersions++;
  }
  t.ok(fcVersions >= 2 && fcRange.min <= 1 && fcRange.max >= 4, `FindCoordinator versions checked: ${fcRange.min}..${fcRange.max}`);

  const dcRange = range(60);
  let dcVersions = 0;
  for (let v = dcRange.min; v <= Math.min(2, dcRange.max); v++) {
    checkReal(60, v, await conn.request(60, v, describeClusterRequest(v)));
    dcVersions++;
  }
  t.ok(dcVersions >= 1 && dcRange.min === 0, `DescribeCluster versions checked: ${dcRange.min}..${dcRange.max}`);
  t.comment(`broker offers Metadata ${mdRange.min}-${mdRange.max}, FindCoordinator ${fcRange.min}-${fcRange.max}, DescribeCluster ${dcRange.min}-${dcRange.max}, ApiVersions ${range(18).min}-${range(18).max}`);
});
