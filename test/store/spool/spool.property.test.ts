// Random sequences of append (alone or concurrent), ack, peek and reopen
// against a plain in-memory model of the spool, on real files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { Spool, SpoolFullError, SpoolInputError, type SpoolInput } from '../../../src/store/spool/spool.js';
import { HEADER_BYTES } from '../../../src/store/spool/segment.js';
import { inProperty } from '../../support/property-asserts.js';

const MAX_BYTES = 1_500;
const SEGMENT_BYTES = 300;

interface ModelEntry {
  seq: number;
  stream: string;
  payload: Buffer;
  count: number;
}

type Op =
  | { op: 'append'; batches: SpoolInput[][] }
  | { op: 'ack'; at: number }
  | { op: 'peek'; maxBytes: number; maxEntries: number; exactPrefix: number | null }
  | { op: 'reopen' };

const inputArb: fc.Arbitrary<SpoolInput> = fc.record({
  stream: fc.constantFrom('a/0', 'b/1', 'ü/2'),
  payload: fc.uint8Array({ maxLength: 400 }),
  count: fc.nat(5),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('append' as const), batches: fc.array(fc.array(inputArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('ack' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('peek' as const), maxBytes: fc.nat(1_000), maxEntries: fc.integer({ min: 1, max: 10 }), exactPrefix: fc.option(fc.nat(6)) }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
);

const recordSize = (i: SpoolInput): number => HEADER_BYTES + Buffer.byteLength(i.stream) + i.payload.length;

t.test('append/ack/peek/reopen match the model', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'breakwater-spool-prop-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), async (ops) => {
      const t = inProperty;
      const dir = path.join(root, String(run++));
      const open = (): Promise<Spool> => Spool.open({ dir, maxBytes: MAX_BYTES, segmentBytes: SEGMENT_BYTES });
      let spool = await open();
      const model: ModelEntry[] = [];
      let lastSeq = 0;
      try {
        for (const step of ops) {
          if (step.op === 'append') {
            // Batches issued together; the model accepts them in call order, as the spool must.
            let held = model.reduce((n, e) => n + HEADER_BYTES + Buffer.byteLength(e.stream) + e.payload.length, 0);
            const expected: ('ok' | 'full' | 'input')[] = [];
            for (const batch of step.batches) {
              const total = batch.reduce((n, i) => n + recordSize(i), 0);
              if (total > MAX_BYTES) expected.push('input');
              else if (held + total > MAX_BYTES) expected.push('full');
              else {
                expected.push('ok');
                held += total;
                for (const i of batch) model.push({ seq: ++lastSeq, stream: i.stream, payload: Buffer.from(i.payload), count: i.count });
              }
            }
            const results = await Promise.allSettled(step.batches.map((b) => spool.append(b)));
            results.forEach((r, k) => {
              const want = expected[k];
              if (want === 'ok') t.equal(r.status, 'fulfilled', `batch ${k} accepted`);
              else t.ok(r.status === 'rejected' && r.reason instanceof (want === 'full' ? SpoolFullError : SpoolInputError), `batch ${k} refused as ${want}`);
            });
          } else if (step.op === 'ack') {
            if (model.length === 0) continue;
            const k = Math.min(model.length - 1, Math.floor(step.at * model.length));
            await spool.ack(model[k]!.seq);
            model.splice(0, k + 1);
          } else if (step.op === 'peek') {
            // exactPrefix: maxBytes exactly the payload bytes of the first entries (the boundary case).
            const maxBytes = step.exactPrefix === null ? step.maxBytes : model.slice(0, step.exactPrefix + 1).reduce((n, e) => n + e.payload.length, 0);
            const got = await spool.peek(maxBytes, step.maxEntries);
            let n = 0;
            let bytes = 0;
            while (n < model.length && n < step.maxEntries && (n === 0 || bytes + model[n]!.payload.length <= maxBytes)) bytes += model[n++]!.payload.length;
            t.same(got.map((e) => e.seq), model.slice(0, n).map((e) => e.seq), 'peek picks the model prefix');
          } else {
            await spool.close();
            spool = await open();
            t.equal(spool.recovered.truncatedBytes, 0, 'a clean close leaves no torn tail');
          }
          const all = await spool.peek(Infinity);
          t.same(
            all.map((e) => ({ seq: e.seq, stream: e.stream, payload: Buffer.from(e.payload), count: e.count })),
            model,
          );
          const depth = spool.depth;
          t.equal(depth.entries, model.length);
          t.equal(depth.records, model.reduce((n, e) => n + e.count, 0));
          t.equal(depth.bytes, model.reduce((n, e) => n + HEADER_BYTES + Buffer.byteLength(e.stream) + e.payload.length, 0));
          for (const s of ['a/0', 'b/1', 'ü/2']) t.equal(spool.hasPending(s), model.some((e) => e.stream === s), `hasPending ${s}`);
        }
      } finally {
        await spool.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 60 },
  );
  t.pass('60 random sequences matched the model');
});
