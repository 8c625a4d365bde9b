// Self-test of the Kafka harness: a real KRaft broker from the Maven jars
// answers kafkajs (topic, produce, consumer group), pause() makes requests
// time out and resume() recovers, kill()+restart() comes back on the same
// port with the data, stop() frees the ports and removes the temp dir.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import kafkajs from 'kafkajs';
import type { Kafka as KafkaClient } from 'kafkajs';
import { KAFKA_VERSION, isPortFree, startKafka, withKafka } from './index.js';

const { Kafka, Partitioners, logLevel } = kafkajs;

function client(brokers: string[], extra: { requestTimeout?: number; retries?: number } = {}): KafkaClient {
  return new Kafka({
    clientId: 'breakwater-kafka-selftest',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3_000,
    requestTimeout: extra.requestTimeout ?? 10_000,
    retry: { retries: extra.retries ?? 8, initialRetryTime: 100, maxRetryTime: 2_000 },
  });
}

/** Consumes from the beginning with a consumer group until `n` messages arrived. */
async function consume(kafka: KafkaClient, topic: string, groupId: string, n: number, timeoutMs = 30_000): Promise<string[]> {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, maxWaitTimeInMs: 200 });
  const values: string[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`consumer ${groupId}: ${values.length}/${n} messages after ${timeoutMs} ms: ${values.join(',')}`)),
        timeoutMs,
      );
      consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(message.value?.toString() ?? '');
            if (values.length >= n) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch((err: unknown) => {
          clearTimeout(timer);
          reject(err);
        });
    });
  } finally {
    await consumer.disconnect();
  }
  return values;
}

async function committedOffset(kafka: KafkaClient, groupId: string, topic: string): Promise<string | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    return offsets[0]?.partitions[0]?.offset;
  } finally {
    await admin.disconnect();
  }
}

t.test('the installer and kafka.ts agree on the Kafka version', async (t) => {
  const installer = fileURLToPath(new URL('../../../test/services/kafka-install.sh', import.meta.url));
  const m = /^KAFKA_VERSION=(\S+)$/m.exec(fs.readFileSync(installer, 'utf8'));
  t.equal(m?.[1], KAFKA_VERSION, `KAFKA_VERSION in ${installer}`);
});

t.test('missing jars: a clear error naming the installer, never a skip', async (t) => {
  const saved = process.env.BREAKWATER_KAFKA_HOME;
  process.env.BREAKWATER_KAFKA_HOME = '/nonexistent/breakwater-kafka-home';
  try {
    await t.rejects(startKafka(), { name: 'ServiceError', code: 'E_SERVICE_NOT_INSTALLED', message: /bash test\/services\/kafka-install\.sh/ });
  } finally {
    if (saved === undefined) delete process.env.BREAKWATER_KAFKA_HOME;
    else process.env.BREAKWATER_KAFKA_HOME = saved;
  }
});

t.test('kafka: produce/consume, pause/resume, kill/restart keeps data, stop frees the ports', async (t) => {
  const started = Date.now();
  const k = await withKafka(t);
  t.comment(`broker ready in ${Date.now() - started} ms on ${k.brokers.join(',')}`);
  t.same(k.brokers, [`127.0.0.1:${k.port}`]);
  t.not(k.port, k.controllerPort, 'distinct ports');
  t.match(fs.readlinkSync(`/proc/${k.pid}/exe`), /\/java$/, 'a JVM');
  const md = await k.metadata();
  t.equal(md.clusterId, k.clusterId, 'cluster id from meta.properties');
  t.same(md.brokers, [{ nodeId: 1, host: '127.0.0.1', port: k.port, rack: null }], 'Metadata lists the one broker');
  t.equal(md.controllerId, 1);

  const topic = 'harness-events';
  const kafka = client(k.brokers);
  const admin = kafka.admin();
  await admin.connect();
  t.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true }), true, 'topic created');
  t.ok((await admin.listTopics()).includes(topic), 'topic listed');
  await admin.disconnect();

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const [sent] = await producer.send({ topic, messages: [{ key: 'k', value: 'm1' }, { key: 'k', value: 'm2' }, { key: 'k', value: 'm3' }] });
  t.equal(sent?.errorCode, 0, 'produced 3 messages');
  t.same(await consume(kafka, topic, 'harness-g1', 3), ['m1', 'm2', 'm3'], 'consumed back with a consumer group');
  t.equal(await committedOffset(kafka, 'harness-g1', topic), '3', 'group offset committed');

  // pause: the kernel still accepts connections, nothing answers
  const fast = client(k.brokers, { requestTimeout: 1_000, retries: 0 });
  const fastAdmin = fast.admin();
  await fastAdmin.connect();
  k.pause();
  const pausedAt = Date.now();
  await t.rejects(k.metadata({ timeoutMs: 1_000 }), { name: 'TimeoutError' }, 'raw Metadata request times out');
  await t.rejects(fastAdmin.fetchTopicMetadata({ topics: [topic] }), 'kafkajs request fails on a paused broker');
  t.ok(Date.now() - pausedAt >= 1_000, 'by timing out, not by a refusal');
  k.resume();
  await fastAdmin.disconnect().catch(() => undefined);
  t.equal((await k.metadata()).brokers.length, 1, 'answers again after resume');
  const [sent2] = await producer.send({ topic, messages: [{ key: 'k', value: 'm4' }] });
  t.equal(sent2?.errorCode, 0, 'produces again after resume');
  await producer.disconnect();

  // kill -9 and restart: same ports, same data
  const { port, controllerPort } = k;
  const oldPid = k.pid;
  await k.kill();
  t.equal(k.pid, undefined, 'no pid after kill');
  await t.rejects(k.metadata({ timeoutMs: 2_000 }), { code: 'ECONNREFUSED' }, 'killed broker refuses');
  const restartAt = Date.now();
  await k.restart();
  t.comment(`kill+restart ready in ${Date.now() - restartAt} ms`);
  t.equal(k.port, port, 'same port');
  t.equal(k.controllerPort, controllerPort, 'same controller port');
  t.not(k.pid, oldPid, 'new process');
  t.equal((await k.metadata()).clusterId, k.clusterId, 'same cluster');
  const kafka2 = client(k.brokers);
  t.same(await consume(kafka2, topic, 'harness-g2', 4), ['m1', 'm2', 'm3', 'm4'], 'messages survive kill+restart');
  t.equal(await committedOffset(kafka2, 'harness-g1', topic), '3', 'group offsets survive kill+restart');

  await k.stop();
  t.equal(k.pid, undefined);
  t.ok(await isPortFree(port), 'port free after stop');
  t.ok(await isPortFree(controllerPort), 'controller port free after stop');
  t.notOk(fs.existsSync(k.dir), 'temp dir removed');
  await k.stop(); // idempotent (teardown calls it again too)
});
