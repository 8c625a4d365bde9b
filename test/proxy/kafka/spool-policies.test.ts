// The spool's edges, against a real Kafka that is down: a full spool answers with a clear error
// (never drops silently), idempotent producers are refused with a message that says why, and
// acks=0 produce is spooled without an answer and forwarded like the rest.
import t from 'tap';
import { withKafka } from '../../services/index.js';
import { kafka, metricOf, sidecar } from './helpers.js';
import { fileTimeoutAtLeast } from '../../support/file-timeout.js';

fileTimeoutAtLeast(t, 240_000);

const FALLBACK = `      - match: { topics: any }
        use: [spool]
`;

t.test('spool edges: full, idempotent producers, acks=0', async (t) => {
  const k = await withKafka(t);
  const { bw, bootstrap } = await sidecar(t, k.brokers, { fallback: FALLBACK, maxSpoolBytes: '64KiB', breaker: '{ failures: 1, openFor: 1s, halfOpenSuccesses: 1 }' });
  const admin = kafka(k.brokers).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'edge', numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const client = kafka([bootstrap], { retry: { retries: 0 } });
  const producer = client.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const idem = kafka([bootstrap], { retry: { retries: 2, initialRetryTime: 100 } }).producer({ idempotent: true, maxInFlightRequests: 1 });
  await idem.connect();
  t.teardown(() => idem.disconnect());
  await producer.send({ topic: 'edge', messages: [{ value: 'warm-up' }] });
  await idem.send({ topic: 'edge', messages: [{ value: 'idem-warm-up' }] });
  await k.kill();

  // acks=0: kafkajs does not wait for an answer; the batch is spooled all the same
  await producer.send({ topic: 'edge', acks: 0, messages: [{ value: 'acks0-a' }, { value: 'acks0-b' }] }).catch(() => undefined);
  await bw.waitFor(async () => (await metricOf(bw, 'breakwater_spool_depth{dependency="kafka"}')) >= 2, 'the acks=0 batch in the spool', 10_000);
  t.pass('an acks=0 batch is spooled (2 records)');

  // idempotent producer: refused with a message, counted
  const idemErr = await idem.send({ topic: 'edge', messages: [{ value: 'idem-during' }] }).then(
    () => undefined,
    (e: Error) => e,
  );
  t.ok(idemErr, 'an idempotent producer is refused while spooling');
  t.ok((await metricOf(bw, 'breakwater_spool_rejected_total{dependency="kafka",reason="idempotent"}')) >= 1, 'counted as rejected (idempotent)');
  t.ok(bw.logs.some((l) => /idempotent producers cannot be spooled/.test(String(l.msg))), 'a warn line says why and what to change');

  // fill the 64 KiB spool: then a clear error, never a silent drop
  const value = 'y'.repeat(1000);
  let acked = 0;
  let refused: Error | undefined;
  for (let i = 0; i < 200 && refused === undefined; i++) {
    await producer.send({ topic: 'edge', messages: [{ value: `${i}:${value}` }] }).then(
      () => acked++,
      (e: Error) => (refused = e),
    );
  }
  t.ok(acked > 10, `the spool took ${acked} messages`);
  t.ok(refused, 'then the producer got an error');
  t.ok((await metricOf(bw, 'breakwater_spool_rejected_total{dependency="kafka",reason="full"}')) >= 1, 'counted as rejected (full)');
  t.ok(bw.logs.some((l) => /holds \d+ bytes of maxBytes/.test(String(l.msg))), 'the log says the spool is full and its bound');
  const depth = await metricOf(bw, 'breakwater_spool_depth{dependency="kafka"}');
  t.equal(depth, acked + 2, 'the spool holds exactly what it acknowledged');

  // Kafka back: everything acknowledged arrives
  await k.restart();
  await bw.waitFor(async () => (await metricOf(bw, 'breakwater_spool_depth{dependency="kafka"}')) === 0, 'the spool to drain', 60_000);
  const consumer = kafka(k.brokers).consumer({ groupId: 'edge-check', sessionTimeout: 10_000 });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'edge', fromBeginning: true });
  const values: string[] = [];
  const expected = acked + 2 + 2; // warm-ups + acks=0 pair + acked
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        values.push(String(message.value));
        if (values.length >= expected) resolve();
      },
    });
  });
  t.ok(values.includes('acks0-a') && values.includes('acks0-b'), 'the acks=0 records arrived');
  t.notOk(values.includes('idem-during'), 'the refused idempotent record did not');
  t.equal(values.filter((v) => /^\d+:/.test(v)).length, acked, 'every acknowledged record arrived, none of the refused');
});
