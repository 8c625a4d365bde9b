// decodeChange: both converter shapes, tombstones, ops, the schema cache, and
// that arbitrary input only ever throws CdcError.
import fc from 'fast-check';
import t from 'tap';
import { decodeChange } from '../../src/cdc/debezium.js';
import { CdcError } from '../../src/cdc/errors.js';
import { inProperty } from '../support/property-asserts.js';

const rowSchema = (field: 'before' | 'after', priceScale = '2') => ({
  type: 'struct',
  optional: true,
  name: 'nova.public.posts.Value',
  field,
  fields: [
    { type: 'string', optional: false, name: 'io.debezium.data.Uuid', version: 1, field: 'id' },
    { type: 'string', optional: true, field: 'caption' },
    { type: 'int64', optional: false, name: 'io.debezium.time.MicroTimestamp', version: 1, field: 'created_at' },
    { type: 'bytes', optional: true, name: 'org.apache.kafka.connect.data.Decimal', version: 1, parameters: { scale: priceScale, 'connect.decimal.precision': '10' }, field: 'price' },
  ],
});

const schema = (priceScale = '2') => ({
  type: 'struct',
  optional: false,
  name: 'nova.public.posts.Envelope',
  version: 2,
  fields: [rowSchema('before', priceScale), rowSchema('after', priceScale), { type: 'struct', field: 'source', fields: [] }, { type: 'string', field: 'op' }],
});

const row = { id: '123e4567-e89b-12d3-a456-426614174000', caption: 'hi', created_at: 1_700_000_000_123_456, price: 'BNI=' };
const source = { version: '2.7.0.Final', connector: 'postgresql', name: 'nova', ts_ms: 1_700_000_000_200, snapshot: 'false', db: 'nova', schema: 'public', table: 'posts', txId: 771, lsn: 24023128 };
const envelope = (op: string, extra: Record<string, unknown> = {}) => ({ before: null, after: row, source, op, ts_ms: 1_700_000_000_300, ...extra });

t.test('bare envelope (schemas.enable=false)', async (t) => {
  const ev = decodeChange(Buffer.from(JSON.stringify(envelope('c'))));
  t.match(ev, { op: 'c', row, source, tsMs: 1_700_000_000_300, fields: undefined });
  t.match(decodeChange(JSON.stringify(envelope('r'))), { op: 'r' });
  t.match(decodeChange(JSON.stringify(envelope('u', { before: { ...row, caption: 'old' } }))), { op: 'u', row: { caption: 'hi' } });
  const del = decodeChange(JSON.stringify(envelope('d', { before: { id: row.id, caption: null }, after: null })));
  t.match(del, { op: 'd', row: { id: row.id, caption: null } }, 'delete: the before image');
});

t.test('{schema, payload} wrapper', async (t) => {
  const ev = decodeChange(JSON.stringify({ schema: schema(), payload: envelope('c') }));
  t.equal(ev?.op, 'c');
  t.same(ev?.fields?.get('created_at'), { type: 'int64', name: 'io.debezium.time.MicroTimestamp', optional: false });
  t.same(ev?.fields?.get('price')?.parameters, { scale: '2', 'connect.decimal.precision': '10' });
  const again = decodeChange(JSON.stringify({ schema: schema(), payload: envelope('u') }));
  t.equal(again?.fields, ev?.fields, 'the same schema gives the same Map instance');
  const changed = decodeChange(JSON.stringify({ schema: schema('3'), payload: envelope('u') }));
  t.not(changed?.fields, ev?.fields, 'a changed parameter rebuilds');
  t.equal(changed?.fields?.get('price')?.parameters?.scale, '3');
  const del = decodeChange(JSON.stringify({ schema: schema(), payload: envelope('d', { before: row, after: null }) }));
  t.ok(del?.fields?.get('id'), 'a delete reads the before struct');
  t.equal(decodeChange(JSON.stringify({ schema: { type: 'struct' }, payload: envelope('c') }))?.fields, undefined, 'a schema without fields');
});

t.test('the wrapper fast path (schema text reused, payload parsed alone)', async (t) => {
  const text = JSON.stringify({ schema: schema(), payload: envelope('c') });
  const a = decodeChange(Buffer.from(text));
  const b = decodeChange(Buffer.from(text));
  t.same(a, decodeChange(text), 'bytes and string agree');
  t.equal(a?.fields, b?.fields, 'same fields Map from bytes');
  t.equal(decodeChange(Buffer.from(`${text}\n`))?.op, 'c', 'trailing whitespace');
  // a field default that looks like the split point: the schema text does not parse alone
  const tricky = schema();
  (tricky.fields[1] as { fields: object[] }).fields.push({ type: 'struct', field: 'x', default: { a: {}, payload: 1 } });
  const trickyText = JSON.stringify({ schema: tricky, payload: envelope('u') });
  t.match(decodeChange(Buffer.from(trickyText)), { op: 'u', row }, 'falls back to parsing the whole text');
  t.ok(decodeChange(Buffer.from(trickyText))?.fields?.has('x'));
  t.throws(() => decodeChange(Buffer.from(text.replace('"op":"c"', '"op":"c",'))), { code: 'undecodable', message: /not JSON/ }, 'a broken payload');
  t.equal(decodeChange(Buffer.from(JSON.stringify({ schema: schema(), payload: null }))), null, 'known schema, null payload');
  t.throws(() => decodeChange(Buffer.from(JSON.stringify({ schema: schema(), payload: [1] }))), { code: 'undecodable', message: /payload is not an object/ });
});

t.test('tombstones', async (t) => {
  t.equal(decodeChange(null), null);
  t.equal(decodeChange(Buffer.alloc(0)), null);
  t.equal(decodeChange(''), null);
  t.equal(decodeChange('null'), null);
  t.equal(decodeChange(JSON.stringify({ schema: null, payload: null })), null, 'wrapper with a null payload');
});

t.test('errors', async (t) => {
  t.throws(() => decodeChange('{"op":'), { name: 'CdcError', code: 'undecodable', reason: 'undecodable', message: /not JSON.*JsonConverter/ });
  t.throws(() => decodeChange('[1,2]'), { code: 'undecodable', message: /not an object/ });
  t.throws(() => decodeChange(JSON.stringify(row)), { code: 'undecodable', message: /no "op" field.*ExtractNewRecordState/ }, 'an unwrapped row');
  t.throws(() => decodeChange(JSON.stringify(envelope('t'))), { code: 'unknown_op', message: /truncate.*not supported/ });
  t.throws(() => decodeChange(JSON.stringify(envelope('m'))), { code: 'unknown_op', message: /message/ });
  t.throws(() => decodeChange(JSON.stringify(envelope('x'))), { code: 'unknown_op', message: /"x"/ });
  t.throws(() => decodeChange(JSON.stringify(envelope('d', { before: null }))), { code: 'undecodable', message: /REPLICA IDENTITY/ });
  t.throws(() => decodeChange(JSON.stringify(envelope('c', { after: null }))), { code: 'undecodable', message: /needs "after"/ });
  t.throws(() => decodeChange(JSON.stringify({ schema: {}, payload: 5 })), { code: 'undecodable' });
  const long = `{"op":"c","after":${'9'.repeat(500)}`;
  try {
    decodeChange(long);
    t.fail('should throw');
  } catch (err) {
    t.ok((err as Error).message.length < 400, 'the excerpt is short');
  }
});

t.test('arbitrary input only throws CdcError (property)', async (t) => {
  const check = (input: Buffer | string) => {
    try {
      decodeChange(input);
    } catch (err) {
      inProperty.ok(err instanceof CdcError, String(err));
    }
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => check(Buffer.from(b))), { numRuns: 500 });
  fc.assert(fc.property(fc.jsonValue(), (v) => check(JSON.stringify(v) ?? 'null')), { numRuns: 500 });
  const opish = fc.record({ op: fc.oneof(fc.constantFrom('c', 'u', 'd', 'r', 't'), fc.jsonValue()), before: fc.jsonValue(), after: fc.jsonValue(), source: fc.jsonValue() }, { requiredKeys: [] });
  fc.assert(
    fc.property(opish, fc.boolean(), fc.jsonValue(), (env, wrap, sch) => {
      check(JSON.stringify(wrap ? { schema: sch, payload: env } : env));
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(opish, fc.constantFrom(schema(), schema('3'), { fields: [] }), (env, sch) => {
      const text = JSON.stringify({ schema: sch, payload: env });
      let slow: unknown;
      let fast: unknown;
      try {
        slow = decodeChange(text.replace('{"schema":', '{ "schema":')); // not the fast layout
      } catch (err) {
        slow = (err as CdcError).code;
      }
      try {
        fast = decodeChange(Buffer.from(text));
      } catch (err) {
        fast = (err as CdcError).code;
      }
      inProperty.same(fast, slow, text);
    }),
    { numRuns: 500 },
  );
  t.pass('only CdcError; the fast path agrees with the whole-text parse');
});
