// FindCoordinator v0-6: request round trips and typed errors (fast-check), error responses read
// by a decoder written here from FindCoordinatorResponse.json and by kafkajs's v0-v2 decoders,
// and byte-exact against what a real Kafka broker answers while its coordinator topics are
// being created (COORDINATOR_NOT_AVAILABLE) and for an unknown key type.
import t from 'tap';
import fc from 'fast-check';
import { inProperty } from '../../../support/property-asserts.js';
import { withKafka } from '../../../services/index.js';
import { KafkaWireError, Reader } from '../../../../src/proxy/kafka/wire.js';
import { brokersIn, parseApiVersions } from '../../../../src/proxy/kafka/rewrite.js';
import {
  COORDINATOR_NOT_AVAILABLE,
  COORDINATOR_NOT_AVAILABLE_MESSAGE,
  FIND_COORDINATOR_MAX_VERSION,
  encodeCoordinatorNotAvailable,
  encodeFindCoordinatorError,
  encodeFindCoordinatorRequest,
  parseFindCoordinatorRequest,
  type FindCoordinatorRequest,
} from '../../../../src/proxy/kafka/messages/find-coordinator.js';
import { RawKafka, kafkajsResponse } from './raw-kafka.js';

const VERSIONS = Array.from({ length: FIND_COORDINATOR_MAX_VERSION + 1 }, (_, v) => v);
const text = fc.string({ unit: 'grapheme', maxLength: 24 });

interface Coordinator { key: string; nodeId: number; host: string; port: number; errorCode: number; errorMessage: string | null }
interface Decoded { throttleTimeMs: number; errorCode: number; errorMessage: string | null; coordinators: Coordinator[] }

/** The response layout from FindCoordinatorResponse.json, read independently of the module. */
function decodeResponse(v: number, body: Buffer): Decoded {
  const r = new Reader(body);
  const flex = v >= 3;
  const str = (): string => (flex ? r.compactString() : r.string());
  const nstr = (): string | null => (flex ? r.compactNullableString() : r.nullableString());
  const throttleTimeMs = v >= 1 ? r.int32() : 0;
  let out: Decoded;
  if (v <= 3) {
    const errorCode = r.int16();
    const errorMessage = v >= 1 ? nstr() : null;
    const c = { key: '', nodeId: r.int32(), host: str(), port: r.int32(), errorCode, errorMessage };
    out = { throttleTimeMs, errorCode, errorMessage, coordinators: [c] };
  } else {
    const n = r.compactArrayLength() ?? 0;
    const coordinators: Coordinator[] = [];
    for (let i = 0; i < n; i++) {
      coordinators.push({ key: str(), nodeId: r.int32(), host: str(), port: r.int32(), errorCode: r.int16(), errorMessage: nstr() });
      r.skipTaggedFields();
    }
    out = { throttleTimeMs, errorCode: 0, errorMessage: null, coordinators };
  }
  if (flex) r.skipTaggedFields();
  if (r.remaining !== 0) throw new Error(`FindCoordinator v${v}: ${r.remaining} bytes left over`);
  return out;
}

t.test('requests: parse(encode(q)) = q, v0-v6; v0-3 one key, v4+ a key array', async (t) => {
  for (const v of VERSIONS) {
    fc.assert(
      fc.property(fc.integer({ min: -128, max: 127 }), fc.array(text, { minLength: 1, maxLength: 4 }), (keyType, keys0) => {
        const t = inProperty;
        const q: FindCoordinatorRequest = { keyType: v >= 1 ? keyType : 0, keys: v >= 4 ? keys0 : keys0.slice(0, 1) };
        const bytes = encodeFindCoordinatorRequest(v, q);
        t.same(parseFindCoordinatorRequest(v, bytes), q, `v${v}`);
        return true;
      }),
      { numRuns: 100 },
    );
  }
  // hand-made bodies from the spec
  t.same(parseFindCoordinatorRequest(0, Buffer.from('000167', 'hex')), { keyType: 0, keys: ['g'] }, 'v0: Key');
  t.same(parseFindCoordinatorRequest(2, Buffer.from('00017401', 'hex')), { keyType: 1, keys: ['t'] }, 'v2: Key, KeyType');
  t.same(parseFindCoordinatorRequest(3, Buffer.from('02670000', 'hex')), { keyType: 0, keys: ['g'] }, 'v3: compact Key, KeyType, tags');
  t.same(parseFindCoordinatorRequest(4, Buffer.from('000302610262' + '00', 'hex')), { keyType: 0, keys: ['a', 'b'] }, 'v4: KeyType, CoordinatorKeys, tags');
  t.same(parseFindCoordinatorRequest(6, Buffer.from('02020273' + '00', 'hex')), { keyType: 2, keys: ['s'] }, 'v6: share key type');
  t.throws(() => parseFindCoordinatorRequest(4, Buffer.from('000000', 'hex')), { code: 'malformed' }, 'v4: null key array');
  t.throws(() => parseFindCoordinatorRequest(1, Buffer.from('0001670000', 'hex')), { code: 'malformed' }, 'trailing bytes');
  t.throws(() => parseFindCoordinatorRequest(7, Buffer.alloc(4)), { code: 'unsupported_version' });
  t.throws(() => encodeFindCoordinatorError(7, ['g'], 15, null), { code: 'unsupported_version' });
});

t.test('truncated or garbage requests raise only KafkaWireError', async (t) => {
  let thrown = 0;
  fc.assert(
    fc.property(fc.constantFrom(...VERSIONS), fc.array(text, { minLength: 1, maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 60 }), (v, keys, cut, garbage) => {
      const full = encodeFindCoordinatorRequest(v, { keyType: 1, keys: v >= 4 ? keys : keys.slice(0, 1) });
      for (const b of [full.subarray(0, cut % full.length), Buffer.from(garbage)]) {
        try {
          parseFindCoordinatorRequest(v, b);
        } catch (e) {
          if (!(e instanceof KafkaWireError)) throw e;
          thrown++;
        }
      }
    }),
    { numRuns: 2000 },
  );
  t.ok(thrown > 2000, `${thrown} typed errors`);
});

t.test('error responses, read by the spec decoder and by address rewriting', async (t) => {
  for (const v of VERSIONS) {
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 4 }), fc.integer({ min: -32768, max: 32767 }), fc.option(text, { nil: null }), (keys0, errorCode, errorMessage) => {
        const t = inProperty;
        const keys = v >= 4 ? keys0 : keys0.slice(0, 1);
        const body = encodeFindCoordinatorError(v, keys, errorCode, errorMessage);
        const d = decodeResponse(v, body);
        if (v <= 3) {
          t.same(d, {
            throttleTimeMs: 0,
            errorCode,
            errorMessage: v >= 1 ? errorMessage : null,
            coordinators: [{ key: '', nodeId: -1, host: '', port: -1, errorCode, errorMessage: v >= 1 ? errorMessage : null }],
          }, `v${v}`);
        } else {
          t.same(d, { throttleTimeMs: 0, errorCode: 0, errorMessage: null, coordinators: keys.map((key) => ({ key, nodeId: -1, host: '', port: -1, errorCode, errorMessage })) }, `v${v}`);
        }
        t.same(brokersIn(10, v, body), [], `v${v}: no coordinator address for the proxy to rewrite`);
        return true;
      }),
      { numRuns: 60 },
    );
  }
  t.same(decodeResponse(5, encodeCoordinatorNotAvailable(5, ['a', 'b'])).coordinators.map((c) => [c.key, c.errorCode, c.errorMessage]), [['a', 15, ''], ['b', 15, '']], 'v5: COORDINATOR_NOT_AVAILABLE per key, empty message (as Kafka)');
  t.equal(decodeResponse(2, encodeCoordinatorNotAvailable(2, ['g'])).errorMessage, COORDINATOR_NOT_AVAILABLE_MESSAGE, 'v2: with Kafka\'s message');
});

t.test('kafkajs FindCoordinator v0-v2 decoders read our error responses', async (t) => {
  for (let v = 0; v <= 2; v++) {
    const dec = kafkajsResponse('findCoordinator', v);
    const d = await dec.decode(encodeCoordinatorNotAvailable(v, ['group-1']));
    t.same(d.coordinator, { nodeId: -1, host: '', port: -1 }, `v${v}: no coordinator`);
    t.equal(d.errorCode, COORDINATOR_NOT_AVAILABLE, `v${v}: error code`);
    if (v >= 1) t.equal(d.errorMessage, COORDINATOR_NOT_AVAILABLE_MESSAGE, `v${v}: message`);
    if (v >= 1) t.equal(v >= 2 ? d.clientSideThrottleTime : d.throttleTime, 0, `v${v}: throttle`);
    const err = await dec.parse(d).then(() => undefined, (e: unknown) => e as { type?: string; retriable?: boolean });
    t.match(err, { type: 'COORDINATOR_NOT_AVAILABLE', retriable: true }, `v${v}: kafkajs raises a retriable COORDINATOR_NOT_AVAILABLE`);
  }
});

t.test('against a real Kafka broker', async (t) => {
  const kafka = await withKafka(t);
  const conn = await RawKafka.connect(kafka.port);
  t.teardown(() => conn.close());
  const range = parseApiVersions(0, await conn.request(18, 0, Buffer.alloc(0))).apiKeys.get(10)!;
  t.comment(`broker offers FindCoordinator v${range.min}-v${range.max}`);
  const top = Math.min(FIND_COORDINATOR_MAX_VERSION, range.max);
  const versions = VERSIONS.filter((v) => v >= range.min && v <= top);

  // Before __consumer_offsets / __transaction_state exist: every version asked at once, pipelined
  // on one connection, so the broker answers them while it is still creating the topics.
  for (const keyType of [0, 1]) {
    const label = keyType === 0 ? 'group' : 'transaction';
    const keysFor = (v: number): string[] => (v >= 4 ? [`bw-${label}-a`, `bw-${label}-b`] : [`bw-${label}-a`]);
    const bodies = await Promise.all(versions.map((v) => conn.request(10, v, encodeFindCoordinatorRequest(v, { keyType, keys: keysFor(v) }))));
    let compared = 0;
    versions.forEach((v, i) => {
      const body = bodies[i]!;
      const d = decodeResponse(v, body);
      const codes = d.coordinators.map((c) => c.errorCode);
      t.comment(`${label} v${v}: error codes ${codes.join(',')}, messages ${JSON.stringify(d.coordinators.map((c) => c.errorMessage))}`);
      if (!codes.every((c) => c === COORDINATOR_NOT_AVAILABLE)) return; // the topic was ready sooner than expected
      t.ok(encodeCoordinatorNotAvailable(v, keysFor(v)).equals(body), `${label} v${v}: encodeCoordinatorNotAvailable = the broker's COORDINATOR_NOT_AVAILABLE bytes`);
      compared++;
    });
    t.ok(compared >= 1, `${label}: ${compared} of ${versions.length} versions answered COORDINATOR_NOT_AVAILABLE and compared`);
  }

  // an unknown key type: a deterministic error response at every version with a KeyType field
  for (const v of versions.filter((x) => x >= 1)) {
    const keys = v >= 4 ? ['k1', 'k2'] : ['k1'];
    const body = await conn.request(10, v, encodeFindCoordinatorRequest(v, { keyType: 9, keys }));
    const d = decodeResponse(v, body);
    const c = d.coordinators[0]!;
    t.comment(`unknown key type v${v}: error ${c.errorCode}, message ${JSON.stringify(c.errorMessage)}, ${d.coordinators.length} entries`);
    t.ok(c.errorCode !== 0, `v${v}: an error`);
    t.ok(encodeFindCoordinatorError(v, keys, c.errorCode, c.errorMessage).equals(body), `v${v}: encodeFindCoordinatorError = the broker's error bytes`);
  }
});
