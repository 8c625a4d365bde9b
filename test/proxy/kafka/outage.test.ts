// The cluster stops: the breaker opens after 2 failures, a `fail` topic errors fast, a `spool`
// topic keeps accepting; when Kafka is back the spooled messages arrive, in order per partition.
import t from 'tap';
import { withKafka } from '../../services/index.js';
import { breakerState, kafka, metricOf, sidecar } from './helpers.js';
import { fileTimeoutAtLeast } from '../../support/file-timeout.js';

// Kafka starts, stops and rebalances: far over tap's default 30 s per file (never lower a larger one).
fileTimeoutAtLeast(t, 240_000);

const FALLBACK = `      - match: { topics: [events] }
        use: [spool]
      - match: { topics: any }
        use: [fail]
`;

t.test('outage: fail topic errors fast, spool topic keeps accepting, replay after recovery', async (t) => {
  const k = await withKafka(t);
  const { bw, bootstrap } = await sidecar(t, k.brokers, { fallback: FALLBACK, breaker: '{ failures: 2, openFor: 1s, halfOpenSuccesses: 1 }', extra: '    required: true\n' });
  const admin = kafka(k.brokers).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 3 }, { topic: 'audit', numPartitions: 1 }], waitForLeaders: true });

  // kafkajs's default retry policy (5 retries): BROKER_NOT_AVAILABLE must still fail at once
  const producer = kafka([bootstrap], { retry: { retries: 5, initialRetryTime: 300 } }).producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  await producer.send({ topic: 'events', messages: [{ key: 'a', value: 'before-0' }] });
  await producer.send({ topic: 'audit', messages: [{ value: 'audit-before' }] });

  await k.kill(); // SIGKILL: data and ports stay for restart()

  // fail topic: BROKER_NOT_AVAILABLE in every partition; kafkajs does not retry it
  let failures = 0;
  for (let i = 0; i < 3; i++) {
    const started = Date.now();
    const producesBefore = await metricOf(bw, 'breakwater_kafka_requests_total{dependency="kafka",api="Produce"}');
    const err = await producer.send({ topic: 'audit', messages: [{ value: `audit-${i}` }] }).then(
      () => undefined,
      (e: Error) => e,
    );
    t.ok(err, `audit send ${i} fails`);
    t.match(String(err?.message ?? err), /not available|broker/i, 'with the broker-not-available error');
    t.ok(Date.now() - started < 2500, `and fast (${Date.now() - started} ms)`);
    const produces = (await metricOf(bw, 'breakwater_kafka_requests_total{dependency="kafka",api="Produce"}')) - producesBefore;
    t.equal(produces, 1, 'kafkajs did not retry it');
    failures++;
  }
  t.equal(failures, 3);
  t.equal(await breakerState(bw), 'open', 'the breaker opened');
  const ready = await bw.get('/readyz');
  t.equal(ready.status, 503, 'not ready while the required Kafka breaker is open');
  const failFallbacks = await metricOf(bw, 'breakwater_fallbacks_total{dependency="kafka",kind="fail"}');
  t.ok(failFallbacks >= 1, `fail fallbacks counted (${failFallbacks})`);

  // spool topic keeps accepting
  const messages = Array.from({ length: 300 }, (_, i) => ({ key: `key-${i % 7}`, value: `during-${i}` }));
  for (let i = 0; i < messages.length; i += 30) {
    const res = await producer.send({ topic: 'events', messages: messages.slice(i, i + 30) });
    t.ok(res.every((r) => r.errorCode === 0), `spooled batch ${i / 30} acknowledged`);
  }
  t.equal(await metricOf(bw, 'breakwater_spool_depth{dependency="kafka"}'), 300, 'spool depth: 300 records');
  t.ok((await metricOf(bw, 'breakwater_spool_depth_bytes{dependency="kafka"}')) > 300 * 10, 'spool depth in bytes');
  t.ok((await metricOf(bw, 'breakwater_spool_oldest_record_age_seconds{dependency="kafka"}')) >= 0, 'oldest record age exported');

  await k.restart();
  await bw.waitFor(async () => (await metricOf(bw, 'breakwater_spool_replayed_total{dependency="kafka"}')) >= 300, 'the spool to be replayed', 60_000);
  t.equal(await metricOf(bw, 'breakwater_spool_depth{dependency="kafka"}'), 0, 'spool drained');

  // read everything back straight from Kafka
  const consumer = kafka(k.brokers).consumer({ groupId: 'check', sessionTimeout: 10_000 });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'events', fromBeginning: true });
  const byPartition = new Map<number, string[]>();
  let n = 0;
  const offsets = await admin.fetchTopicOffsets('events');
  t.equal(offsets.reduce((s, o) => s + Number(o.high), 0), 301, `Kafka holds 301 records in events (${JSON.stringify(offsets)})`);
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        const list = byPartition.get(partition) ?? [];
        list.push(String(message.value));
        byPartition.set(partition, list);
        if (++n === 301) resolve();
      },
    });
  });
  const all = [...byPartition.values()].flat();
  t.equal(all.filter((v) => v.startsWith('during-')).length, 300, 'all 300 spooled messages arrived');
  t.equal(new Set(all).size, all.length, 'no duplicates');
  // keys hash to partitions: within each partition the order is the send order
  let ordered = true;
  for (const list of byPartition.values()) {
    const idx = list.filter((v) => v.startsWith('during-')).map((v) => Number(v.slice(7)));
    for (let i = 1; i < idx.length; i++) if (idx[i]! < idx[i - 1]!) ordered = false;
  }
  t.ok(ordered, 'order kept per partition');
  t.equal(await breakerState(bw), 'closed', 'breaker closed again');
});

t.test('failWith NOT_LEADER_OR_FOLLOWER: kafkajs refreshes metadata and retries before it gives up', async (t) => {
  const k = await withKafka(t);
  // The topic exists with a leader before the short-retry producer's first send: auto-creation
  // on that send can outlast 2 quick retries on a loaded machine (UNKNOWN_TOPIC_OR_PARTITION).
  const admin = kafka(k.brokers).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'audit' }], waitForLeaders: true });
  await admin.disconnect();
  const { bw, bootstrap } = await sidecar(t, k.brokers, { failWith: 'NOT_LEADER_OR_FOLLOWER', breaker: '{ failures: 1, openFor: 60s, halfOpenSuccesses: 1 }' });
  const producer = kafka([bootstrap], { retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 400 } }).producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  await producer.send({ topic: 'audit', messages: [{ value: 'before' }] });
  await k.kill();
  await bw.post('/breakers/kafka/force-open', 'secret-token');
  const produceBefore = await metricOf(bw, 'breakwater_kafka_requests_total{dependency="kafka",api="Produce"}');
  const metadataBefore = await metricOf(bw, 'breakwater_kafka_requests_total{dependency="kafka",api="Metadata"}');
  const err = await producer.send({ topic: 'audit', messages: [{ value: 'during' }] }).then(
    () => undefined,
    (e: Error) => e,
  );
  t.ok(err, 'the send fails in the end');
  t.match(String(err?.message), /leader/i, `with the not-leader error (${err?.message})`);
  const produced = (await metricOf(bw, 'breakwater_kafka_requests_total{dependency="kafka",api="Produce"}')) - produceBefore;
  const metadata = (await metricOf(bw, 'breakwater_kafka_requests_total{dependency="kafka",api="Metadata"}')) - metadataBefore;
  t.equal(produced, 3, 'kafkajs sent the Produce 3 times (1 + 2 retries)');
  t.ok(metadata >= 1, `and refreshed Metadata in between (${metadata} requests, answered from the stored state)`);
});
