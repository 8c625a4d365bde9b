// The Kafka proxy against one real broker with kafkajs as the unmodified app: admin, producer,
// consumer group, all through breakwater's bootstrap and broker listeners.
import t from 'tap';
import { withKafka } from '../../services/index.js';
import { kafka, requests, sidecar } from './helpers.js';
import { fileTimeoutAtLeast } from '../../support/file-timeout.js';

// Kafka starts, stops and rebalances: far over tap's default 30 s per file (never lower a larger one).
fileTimeoutAtLeast(t, 240_000);

t.test('kafkajs admin, producer and consumer group through breakwater (1 broker)', async (t) => {
  const k = await withKafka(t);
  const { bw, bootstrap } = await sidecar(t, k.brokers);
  const client = kafka([bootstrap]);
  const admin = client.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  t.ok(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3 }], waitForLeaders: true }), 'topic created through breakwater');
  const md = await admin.fetchTopicMetadata({ topics: ['orders'] });
  t.equal(md.topics[0]!.partitions.length, 3, 'metadata through breakwater lists 3 partitions');

  const producer = client.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const sent = await producer.send({ topic: 'orders', messages: Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
  t.equal(sent.reduce((n, r) => n + (r.errorCode === 0 ? 1 : 0), 0), sent.length, 'every partition acknowledged');

  const consumer = client.consumer({ groupId: 'g1', sessionTimeout: 10_000, heartbeatInterval: 500 });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'orders', fromBeginning: true });
  const got: string[] = [];
  const all = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        got.push(String(message.value));
        if (got.length === 30) resolve();
      },
    });
  });
  await all;
  t.same(got.sort(), Array.from({ length: 30 }, (_, i) => `v${i}`).sort(), 'the consumer group read every message through breakwater');
  const offsets = await admin.fetchOffsets({ groupId: 'g1', topics: ['orders'] });
  await new Promise((r) => setTimeout(r, 100));
  t.ok(offsets[0]!.partitions.length === 3, 'group offsets readable through breakwater');

  const status = (await bw.get('/status')).body.dependencies.kafka;
  t.equal(status.kafka.brokers.length, 1, 'one broker listener was opened');
  t.ok((await requests(bw, 'Produce')) >= 1, 'Produce requests counted');
  t.ok((await requests(bw, 'Fetch')) >= 1, 'Fetch requests counted');
  t.ok((await requests(bw, 'JoinGroup')) >= 1, 'JoinGroup requests counted');
  t.equal(status.breaker.state, 'closed');
});
