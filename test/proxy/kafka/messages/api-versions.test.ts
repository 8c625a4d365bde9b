// ApiVersions answers from state, v0-4: read back by rewrite.ts's parser (fast-check), hand-made
// spec bytes, kafkajs's v0-v2 decoders, and byte-exact against a real Kafka broker's (narrowed)
// answers; v3+ answers from state leave out the broker's tagged feature fields.
import t from 'tap';
import fc from 'fast-check';
import { inProperty } from '../../../support/property-asserts.js';
import { withKafka } from '../../../services/index.js';
import { KafkaWireError } from '../../../../src/proxy/kafka/wire.js';
import { DEFAULT_NARROW_LIMITS, narrowApiVersions, parseApiVersions } from '../../../../src/proxy/kafka/rewrite.js';
import {
  API_VERSIONS_ANSWER_MAX_VERSION,
  UNSUPPORTED_VERSION,
  encodeApiVersionsResponse,
  encodeUnsupportedApiVersions,
} from '../../../../src/proxy/kafka/messages/api-versions.js';
import { RawKafka, kafkajsResponse } from './raw-kafka.js';
import { apiVersionsLayout } from './spec-helpers.js';

const VERSIONS = Array.from({ length: API_VERSIONS_ANSWER_MAX_VERSION + 1 }, (_, v) => v);
const i16 = fc.integer({ min: -32768, max: 32767 });
const keysArb = fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 90 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 })), {
  maxLength: 40,
  selector: (k) => k[0],
});

/** Offsets in an ApiVersions body: after the ApiKeys array, and where the top-level tagged fields start (v3+). */
function layout(v: number, body: Buffer): { afterKeys: number; tagsAt: number; throttle: number; tags: number[] } {
  const { remaining, ...at } = apiVersionsLayout(v, body);
  if (remaining !== 0) throw new Error(`ApiVersions v${v}: ${remaining} bytes left`);
  return at;
}

t.test('encodeApiVersionsResponse v0-v4: what rewrite.ts parses back, nothing left over', async (t) => {
  for (const v of VERSIONS) {
    fc.assert(
      fc.property(keysArb, i16, fc.integer({ min: -0x80000000, max: 0x7fffffff }), (keys, errorCode, throttle) => {
        const t = inProperty;
        const body = encodeApiVersionsResponse(v, keys, errorCode, throttle);
        const p = parseApiVersions(v, body);
        t.equal(p.errorCode, errorCode, `v${v}: error code`);
        t.same([...p.apiKeys].map(([k, r]) => [k, r.min, r.max]), keys, `v${v}: keys in order`);
        const l = layout(v, body);
        t.equal(l.throttle, v >= 1 ? throttle : 0, `v${v}: throttle`);
        t.same(l.tags, [], `v${v}: no tagged fields`);
        t.ok(narrowApiVersions(v, body, new Map()) === body, `v${v}: narrowApiVersions accepts it`);
        return true;
      }),
      { numRuns: 100 },
    );
  }
  // hand-made from ApiVersionsResponse.json
  t.equal(encodeApiVersionsResponse(0, [[3, 0, 13]]).toString('hex'), '0000' + '00000001' + '0003' + '0000' + '000d', 'v0 bytes');
  t.equal(encodeApiVersionsResponse(2, [[3, 0, 13]], 0, 7).toString('hex'), '0000' + '00000001' + '0003' + '0000' + '000d' + '00000007', 'v2 bytes');
  t.equal(encodeApiVersionsResponse(3, [[3, 0, 13], [18, 0, 4]]).toString('hex'), '0000' + '03' + '00030000000d00' + '00120000000400' + '00000000' + '00', 'v3 bytes (compact array, tags per entry and at the end)');
  t.equal(encodeUnsupportedApiVersions(4).toString('hex'), '0023' + '00000001' + '0012' + '0000' + '0004', 'UNSUPPORTED_VERSION body');
  t.throws(() => encodeApiVersionsResponse(5, []), KafkaWireError, 'v5 is not encoded here');
  t.throws(() => encodeApiVersionsResponse(-1, []), { code: 'unsupported_version' });
});

t.test('kafkajs ApiVersions v0-v2 decoders read our encodings', async (t) => {
  for (let v = 0; v <= 2; v++) {
    const dec = kafkajsResponse('apiVersions', v);
    await fc.assert(
      fc.asyncProperty(keysArb, fc.nat(100_000), async (keys, throttle) => {
        const t = inProperty;
        const d = await dec.parse(await dec.decode(encodeApiVersionsResponse(v, keys, 0, throttle)));
        t.same(d.apiVersions, keys.map(([apiKey, minVersion, maxVersion]) => ({ apiKey, minVersion, maxVersion })), `v${v}: keys`);
        if (v >= 1) t.equal(v >= 2 ? d.clientSideThrottleTime : d.throttleTime, throttle, `v${v}: throttle`);
        return true;
      }),
      { numRuns: 60 },
    );
    const err = await dec.decode(encodeUnsupportedApiVersions(3)).then(() => undefined, (e: unknown) => e);
    t.match(err, { type: 'UNSUPPORTED_VERSION' }, `v${v}: kafkajs sees UNSUPPORTED_VERSION`);
  }
});

t.test('against a real Kafka broker', async (t) => {
  const kafka = await withKafka(t);
  const conn = await RawKafka.connect(kafka.port);
  t.teardown(() => conn.close());
  const v0 = await conn.request(18, 0, Buffer.alloc(0));
  const range = parseApiVersions(0, v0).apiKeys.get(18)!;
  t.comment(`broker offers ApiVersions v${range.min}-v${range.max}`);
  const swName = Buffer.from([11, ...Buffer.from('breakwater'), 6, ...Buffer.from('0.1.0'), 0]);
  let checked = 0;
  for (const v of VERSIONS.filter((x) => x >= range.min && x <= range.max)) {
    const body = await conn.request(18, v, v >= 3 ? swName : Buffer.alloc(0));
    for (const [label, limits] of [['as sent', new Map<number, number>()], ['narrowed', DEFAULT_NARROW_LIMITS]] as const) {
      const expected = narrowApiVersions(v, body, limits);
      const p = parseApiVersions(v, expected);
      const l = layout(v, expected);
      const ours = encodeApiVersionsResponse(v, [...p.apiKeys].map(([k, r]) => [k, r.min, r.max] as const), p.errorCode, l.throttle);
      if (v < 3) {
        t.ok(ours.equals(expected), `v${v} ${label}: byte-identical to the broker's ${expected.length} bytes`);
      } else {
        // the same bytes up to the top-level tagged fields, which answers from state leave empty
        const withoutTags = Buffer.concat([expected.subarray(0, l.tagsAt), Buffer.from([0])]);
        t.ok(ours.equals(withoutTags), `v${v} ${label}: byte-identical to the broker's bytes without its tagged fields ${l.tags.join(',')} (${expected.length - withoutTags.length} bytes)`);
        t.same(l.tags, [0, 1, 2], `v${v}: the broker sends SupportedFeatures (0), FinalizedFeaturesEpoch (1), FinalizedFeatures (2)`);
      }
    }
    checked++;
  }
  t.ok(checked >= 4, `${checked} versions compared`);

  // a version the broker does not know: UNSUPPORTED_VERSION in the v0 layout listing ApiVersions
  const fresh = await RawKafka.connect(kafka.port);
  try {
    const body = await fresh.request(18, 127, Buffer.alloc(0));
    t.ok(encodeUnsupportedApiVersions(range.max).equals(body), `v127: encodeUnsupportedApiVersions(${range.max}) = the broker's bytes (${body.toString('hex')})`);
    t.equal(parseApiVersions(0, body).errorCode, UNSUPPORTED_VERSION, 'error 35');
  } finally {
    fresh.close();
  }
});
