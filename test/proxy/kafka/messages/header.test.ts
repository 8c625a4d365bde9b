// Request and response frames built by messages/header.ts: the size prefix and header fields
// are read back by framing.ts (parseRequestHeader, responseHeaderLength) and compared byte for
// byte with an encoding written here from the protocol guide and with kafkajs's own request
// framing (protocol/request.js, request header v1) for the versions kafkajs speaks.
import { createRequire } from 'node:module';
import t from 'tap';
import fc from 'fast-check';
import { inProperty } from '../../../support/property-asserts.js';
import { FIRST_FLEXIBLE_REQUEST_VERSION, isFlexibleRequest, parseRequestHeader, responseHeaderLength } from '../../../../src/proxy/kafka/framing.js';
import { Writer } from '../../../../src/proxy/kafka/wire.js';
import { encodeRequestFrame, encodeResponseFrame, isFlexibleResponseHeader } from '../../../../src/proxy/kafka/messages/header.js';
import { specRequestFrame } from './spec-helpers.js';

const require = createRequire(import.meta.url);
// kafkajs internals (CommonJS, untyped): the request framing every kafkajs request goes through
const kafkajsRequest = require('kafkajs/src/protocol/request') as (x: {
  correlationId: number;
  clientId: string;
  request: { apiKey: number; apiVersion: number; encode: () => Promise<unknown> };
}) => Promise<{ buffer: Buffer }>;
const KafkajsEncoder = require('kafkajs/src/protocol/encoder') as new () => { writeBuffer(b: Buffer): unknown; buffer: Buffer };

const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const apiKeyArb = fc.oneof(fc.constantFrom(...FIRST_FLEXIBLE_REQUEST_VERSION.keys()), fc.integer({ min: 0, max: 90 }));
const versionArb = fc.integer({ min: 0, max: 20 });
const bodyArb = fc.uint8Array({ maxLength: 64 });
const clientIdArb = fc.option(fc.string({ unit: 'grapheme', maxLength: 30 }), { nil: null });

/** The response frame written field by field. */
function expectedResponse(apiKey: number, v: number, cid: number, body: Uint8Array): Buffer {
  const w = new Writer();
  const flex = apiKey !== 18 && (isFlexibleRequest(apiKey, v) ?? false);
  w.int32(0).int32(cid);
  if (flex) w.taggedFields([]);
  w.raw(body);
  const b = w.toBuffer();
  b.writeInt32BE(b.length - 4, 0);
  return b;
}

t.test('encodeResponseFrame: size, correlation id, header v0/v1, body', async () => {
  fc.assert(
    fc.property(apiKeyArb, versionArb, i32, bodyArb, (apiKey, v, cid, body) => {
      const t = inProperty;
      const frame = encodeResponseFrame(apiKey, v, cid, body);
      t.ok(frame.equals(expectedResponse(apiKey, v, cid, body)), 'bytes = the frame written field by field');
      t.equal(frame.readInt32BE(0), frame.length - 4, 'size prefix');
      t.equal(frame.readInt32BE(4), cid, 'correlation id');
      const hl = responseHeaderLength(apiKey, v, frame);
      t.equal(hl, isFlexibleResponseHeader(apiKey, v) ? 5 : 4, 'header length as framing.ts reads it');
      t.ok(frame.subarray(4 + hl).equals(body), 'body after the header');
      return true;
    }),
    { numRuns: 300 },
  );
});

t.test('response header versions for the messages the proxy answers itself', async (t) => {
  for (let v = 0; v <= 9; v++) t.equal(encodeResponseFrame(0, v, 7, Buffer.alloc(0)).length, v >= 9 ? 9 : 8, `Produce v${v}`);
  for (let v = 0; v <= 15; v++) t.equal(encodeResponseFrame(1, v, 7, Buffer.alloc(0)).length, v >= 12 ? 9 : 8, `Fetch v${v}`);
  for (let v = 0; v <= 4; v++) t.equal(encodeResponseFrame(18, v, 7, Buffer.alloc(0)).length, 8, `ApiVersions v${v}: always header v0`);
  t.same([...encodeResponseFrame(3, 12, 0x01020304, Buffer.from([0xaa]))], [0, 0, 0, 6, 1, 2, 3, 4, 0, 0xaa], 'Metadata v12: size 6, cid, no tags, body');
  t.same([...encodeResponseFrame(3, 8, -1, Buffer.from([0xaa]))], [0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xaa], 'Metadata v8: size 5, cid -1, body');
  const body = Buffer.from('abc');
  const copied = encodeResponseFrame(0, 0, 1, body);
  body[0] = 0x7a;
  t.equal(copied.toString('latin1', 8), 'abc', 'the body is copied into the frame');
  t.throws(() => encodeResponseFrame(0x8000, 0, 1, body), RangeError, 'api key out of INT16 range');
});

t.test('encodeRequestFrame: parseRequestHeader reads it back', async () => {
  fc.assert(
    fc.property(apiKeyArb, versionArb, i32, clientIdArb, bodyArb, (apiKey, v, cid, clientId, body) => {
      const t = inProperty;
      const frame = encodeRequestFrame(apiKey, v, cid, clientId, body);
      t.ok(frame.equals(specRequestFrame(apiKey, v, cid, clientId, body)), 'bytes = the frame written field by field');
      t.equal(frame.readInt32BE(0), frame.length - 4, 'size prefix');
      const h = parseRequestHeader(frame);
      t.same(
        { apiKey: h.apiKey, apiVersion: h.apiVersion, correlationId: h.correlationId, clientId: h.clientId, flexible: h.flexible },
        { apiKey, apiVersion: v, correlationId: cid, clientId, flexible: isFlexibleRequest(apiKey, v) ?? false },
        'header fields',
      );
      t.ok(frame.subarray(h.headerEnd).equals(body), 'body after the header');
      return true;
    }),
    { numRuns: 300 },
  );
});

t.test('encodeRequestFrame = kafkajs request framing (header v1) for non-flexible versions', async () => {
  await fc.assert(
    fc.asyncProperty(
      apiKeyArb,
      versionArb,
      i32,
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      bodyArb,
      async (apiKey, v, cid, clientId, body) => {
        const t = inProperty;
        fc.pre(!(isFlexibleRequest(apiKey, v) ?? false));
        const theirs = await kafkajsRequest({
          correlationId: cid,
          clientId,
          request: { apiKey, apiVersion: v, encode: async () => { const e = new KafkajsEncoder(); e.writeBuffer(Buffer.from(body)); return e; } },
        });
        return t.ok(encodeRequestFrame(apiKey, v, cid, clientId, body).equals(theirs.buffer), 'same bytes as kafkajs');
      },
    ),
    { numRuns: 200 },
  );
});

t.test('request header v2 keeps client_id a classic nullable string', async (t) => {
  const frame = encodeRequestFrame(0, 9, 5, 'ab', Buffer.from([0x7e]));
  t.same([...frame], [0, 0, 0, 14, 0, 0, 0, 9, 0, 0, 0, 5, 0, 2, 0x61, 0x62, 0, 0x7e], 'Produce v9: INT16 length client id, then empty tags');
  const nul = encodeRequestFrame(1, 4, 5, null, Buffer.alloc(0));
  t.same([...nul], [0, 0, 0, 10, 0, 1, 0, 4, 0, 0, 0, 5, 0xff, 0xff], 'Fetch v4, null client id');
  t.equal(parseRequestHeader(nul).clientId, null, 'null client id reads back');
  t.throws(() => encodeRequestFrame(0, 9, 5, 'x'.repeat(0x8000), Buffer.alloc(0)), RangeError, 'client id too long');
});
