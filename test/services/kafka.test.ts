// Self-test of the Kafka harness: a real KRaft broker from the Maven jars
// answers kafkajs (topic, produce, consumer group), pause() makes requests
// time out and resume() recovers, kill()+restart() comes back on the same
// port with the data, stop() frees the ports and removes the temp dir.
// A 3-node cluster: RF 3 topic, leader failover after a broker is killed,
// rejoin after restart. kcat (librdkafka) produces and consumes too.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import kafkajs from 'kafkajs';
import type { Kafka as KafkaClient } from 'kafkajs';
import { KAFKA_VERSION, findKcat, isPortFree, kcat, poll, startKafka, startKafkaCluster, topicPartitions, withKafka, withKafkaCluster, type PartitionInfo } from './index.js';
import { fileTimeoutAtLeast } from '../support/file-timeout.js';

const { Kafka, Partitioners, logLevel } = kafkajs;

// Three broker JVMs start in this file (a single node twice, a 3-node cluster
// once): about 55 s on an idle 2-core machine, well over tap's default 30 s
// per file. Raise it (never lower it: npm test passes --timeout=300; 0 = none).
fileTimeoutAtLeast(t, 240_000);

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
    await t.rejects(startKafkaCluster(), { name: 'ServiceError', code: 'E_SERVICE_NOT_INSTALLED', message: /bash test\/services\/kafka-install\.sh/ });
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

/** Partition leaders/replicas/ISR from a fresh kafkajs admin on the given brokers (no cached metadata). */
async function partitions(brokers: string[], topic: string): Promise<PartitionInfo[]> {
  return topicPartitions(client(brokers, { requestTimeout: 3_000, retries: 1 }).admin(), topic);
}

t.test('kafka cluster: 3 brokers, a replicated topic, leader failover when a broker dies, rejoin on restart', async (t) => {
  const started = Date.now();
  const c = await withKafkaCluster(t, { brokers: 3 });
  t.comment(`3-broker cluster ready in ${Date.now() - started} ms on ${c.brokers.join(',')}`);
  t.equal(c.brokers.length, 3, 'three bootstrap addresses');
  t.same(
    c.nodes.map((n) => [n.nodeId, n.controller]),
    [
      [1, true],
      [2, false],
      [3, false],
    ],
    'node 1 is the controller',
  );
  t.same(c.brokers, c.nodes.map((n) => `127.0.0.1:${n.port}`));
  t.equal(new Set([...c.nodes.map((n) => n.port), c.controllerPort]).size, 4, 'distinct ports');
  for (const node of c.nodes) {
    const md = await node.metadata();
    t.same(
      md.brokers.map((b) => [b.nodeId, b.port]).sort((a, b) => (a[0] as number) - (b[0] as number)),
      c.nodes.map((n) => [n.nodeId, n.port]),
      `node ${node.nodeId}: Metadata lists all 3 brokers`,
    );
    t.equal(md.clusterId, c.clusterId, `node ${node.nodeId}: same cluster id`);
  }

  const topic = 'cluster-events';
  const kafka = client(c.brokers);
  const admin = kafka.admin();
  await admin.connect();
  t.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }], waitForLeaders: true }), true, 'topic created');
  await admin.disconnect();
  const before = await poll('all replicas in sync', 30_000, async () => {
    const ps = await partitions(c.brokers, topic);
    return ps.length === 3 && ps.every((p) => p.isr.length === 3) ? ps : undefined;
  });
  t.same(
    before.map((p) => p.replicas),
    [
      [1, 2, 3],
      [1, 2, 3],
      [1, 2, 3],
    ],
    '3 partitions, each on all 3 brokers',
  );

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const sent = await producer.send({
    topic,
    acks: -1,
    messages: before.flatMap((p) => [{ partition: p.partitionId, value: `a${p.partitionId}` }, { partition: p.partitionId, value: `b${p.partitionId}` }]),
  });
  t.ok(sent.length > 0 && sent.every((r) => r.errorCode === 0), 'produced 6 messages (acks=all) to the 3 partitions');
  await producer.disconnect();
  t.same((await consume(kafka, topic, 'cluster-g1', 6)).sort(), ['a0', 'a1', 'a2', 'b0', 'b1', 'b2'], 'consumed back with a consumer group');

  // kill -9 a broker (not the controller) that leads a partition
  const victim = before.find((p) => p.leader !== 1);
  if (!victim) throw new Error(`no partition led by broker 2 or 3: ${JSON.stringify(before)}`);
  const dead = c.node(victim.leader);
  const live = c.nodes.filter((n) => n !== dead);
  const liveBrokers = live.flatMap((n) => n.brokers);
  const killedAt = Date.now();
  await dead.kill();
  t.equal(dead.pid, undefined, `broker ${dead.nodeId} killed`);
  const moved = await poll(`a new leader for partition ${victim.partitionId}`, 30_000, async () => {
    const p = (await partitions(liveBrokers, topic)).find((x) => x.partitionId === victim.partitionId);
    return p && p.leader !== victim.leader && p.leader !== -1 ? p : undefined;
  });
  t.comment(`partition ${victim.partitionId}: leader ${victim.leader} -> ${moved.leader} ${Date.now() - killedAt} ms after the kill`);
  t.ok(live.some((n) => n.nodeId === moved.leader), 'the new leader is a live broker');
  t.notOk(moved.isr.includes(dead.nodeId), 'the dead broker left the ISR');
  const md2 = await c.waitForBrokers(
    live.map((n) => n.nodeId),
    { timeoutMs: 30_000 },
  );
  t.equal(md2.brokers.length, 2, 'Metadata lists the 2 live brokers only');

  const kafka2 = client(liveBrokers);
  const producer2 = kafka2.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer2.connect();
  const [sent2] = await producer2.send({ topic, acks: -1, messages: [{ partition: victim.partitionId, value: 'c' }] });
  t.equal(sent2?.errorCode, 0, `produce to partition ${victim.partitionId} (acks=all) works with a broker down`);
  await producer2.disconnect();

  // restart: it rejoins the cluster and catches up into the ISR
  const restartAt = Date.now();
  await dead.restart();
  t.ok(dead.pid !== undefined, 'running again');
  const md3 = await c.waitForBrokers([1, 2, 3], { timeoutMs: 30_000 });
  t.equal(md3.brokers.length, 3, 'Metadata lists all 3 brokers again');
  await poll(`broker ${dead.nodeId} back in the ISR of partition ${victim.partitionId}`, 30_000, async () => {
    const p = (await partitions(c.brokers, topic)).find((x) => x.partitionId === victim.partitionId);
    return p?.isr.includes(dead.nodeId) ? p : undefined;
  });
  t.comment(`broker ${dead.nodeId} rejoined (listed and in sync) ${Date.now() - restartAt} ms after restart()`);
  t.same(
    (await consume(client(c.brokers), topic, 'cluster-g2', 7)).sort(),
    ['a0', 'a1', 'a2', 'b0', 'b1', 'b2', 'c'],
    'every message is there after the failover and the rejoin',
  );

  const dirs = c.nodes.map((n) => n.dir);
  const ports = [...c.nodes.map((n) => n.port), c.controllerPort];
  await c.stop();
  t.ok(c.nodes.every((n) => n.pid === undefined), 'every node stopped');
  t.ok(dirs.every((d) => !fs.existsSync(d)), 'temp dirs removed');
  for (const port of ports) t.ok(await isPortFree(port), `port ${port} free after stop`);
  await c.stop(); // idempotent (teardown calls it again too)
});

t.test('kcat: a clear error when it is missing', async (t) => {
  const saved = process.env.BREAKWATER_KCAT;
  process.env.BREAKWATER_KCAT = '/nonexistent/kcat';
  try {
    t.throws(() => findKcat(), { name: 'ServiceError', code: 'E_SERVICE_NOT_INSTALLED', message: /apt-get install kcat/ });
  } finally {
    if (saved === undefined) delete process.env.BREAKWATER_KCAT;
    else process.env.BREAKWATER_KCAT = saved;
  }
});

t.test('kcat (librdkafka) produces and consumes against the single-node broker', async (t) => {
  t.match(findKcat(), /\/kcat$/, 'kcat installed');
  const k = await withKafka(t);
  const broker = k.brokers[0] as string;
  const topic = 'kcat-events';
  const produced = await kcat(['-P', '-b', broker, '-t', topic, '-K:', '-d', 'protocol'], { input: 'k1:v1\nk2:v2\nk3:v3\n' });
  t.equal(produced.code, 0, 'kcat -P exits 0', { stderr: produced.stderr.slice(-2_000) });
  const consumed = await kcat(['-C', '-b', broker, '-t', topic, '-e', '-o', 'beginning', '-f', '%k=%s\n', '-d', 'protocol']);
  t.equal(consumed.code, 0, 'kcat -C -e exits 0', { stderr: consumed.stderr.slice(-2_000) });
  t.same(consumed.stdout.trimEnd().split('\n'), ['k1=v1', 'k2=v2', 'k3=v3'], 'the 3 messages back, in order, with their keys');

  // which api versions librdkafka negotiated with this broker (from -d protocol)
  const versions = new Map<string, Set<number>>();
  for (const m of (produced.stderr + consumed.stderr).matchAll(/Sent (\w+)Request \(v(\d+),/g)) {
    const api = m[1] as string;
    if (!versions.has(api)) versions.set(api, new Set());
    versions.get(api)?.add(Number(m[2]));
  }
  const version = /librdkafka v([\d.]+)/.exec(produced.stderr)?.[1] ?? '?';
  t.comment(
    `kcat (librdkafka ${version}) api versions with Kafka ${KAFKA_VERSION}: ` +
      [...versions].map(([api, vs]) => `${api} v${[...vs].join('/')}`).join(', '),
  );
  for (const api of ['ApiVersion', 'Metadata', 'Produce', 'Fetch']) t.ok(versions.has(api), `kcat sent ${api} requests`);
});
