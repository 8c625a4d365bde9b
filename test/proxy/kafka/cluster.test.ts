// The Kafka proxy in front of a real 3-broker KRaft cluster, kafkajs as the unmodified app talking
// to breakwater's bootstrap address only: one local listener per broker, addresses rewritten in
// Metadata/DescribeCluster/FindCoordinator, admin + producer + consumer group through them; then a
// partition leader is killed while a producer and a consumer group keep going through breakwater.
import t from 'tap';
import kafkajs from 'kafkajs';
import type { Kafka as KafkaClient, RecordMetadata } from 'kafkajs';
import { poll, topicPartitions, withKafkaCluster, type KafkaCluster, type PartitionInfo } from '../../services/index.js';
import { breakerState, kafka, requests, sidecar, type Sidecar } from './helpers.js';
import { fileTimeoutAtLeast } from '../../support/file-timeout.js';

const { Partitioners } = kafkajs;

// Three broker JVMs, a broker killed and restarted, consumer group rebalances: far over tap's
// default 30 s per file on a busy 2-core machine (never lower a larger one; 0 = none).
fileTimeoutAtLeast(t, 420_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Partition leaders/replicas/ISR straight from the real brokers (a fresh admin: no cached metadata). */
async function partitions(brokers: string[], topic: string): Promise<PartitionInfo[]> {
  return topicPartitions(kafka(brokers, { requestTimeout: 3_000, retry: { retries: 1 } }).admin(), topic);
}

/**
 * createTopics (3 partitions, RF 3) through `admin`, then its Metadata until every partition has a
 * leader. Not kafkajs' waitForLeaders: right after a KRaft controller commits a topic, the broker
 * kafkajs asks may not know it yet, and waitForLeaders gives up on UNKNOWN_TOPIC_OR_PARTITION
 * (only LEADER_NOT_AVAILABLE is retried) — seen here directly too, not a proxy matter.
 */
async function createTopic(admin: ReturnType<KafkaClient['admin']>, topic: string): Promise<boolean> {
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 3 }] });
  await poll(`leaders for the 3 partitions of ${topic}`, 30_000, async () => {
    const md = await admin.fetchTopicMetadata({ topics: [topic] });
    const ps = md.topics[0]?.partitions ?? [];
    return ps.length === 3 && ps.every((p) => p.leader >= 0) ? true : undefined;
  });
  return created;
}

interface Listener {
  nodeId: number;
  listen: string;
  upstream: string;
}

async function listeners(s: Sidecar): Promise<Listener[]> {
  const body = (await s.bw.get('/status')).body;
  return [...(body.dependencies.kafka.kafka.brokers as Listener[])].sort((a, b) => a.nodeId - b.nodeId);
}

/** breakwater's log lines about its breaker, from index `from` on, as readable text. */
function breakerLines(s: Sidecar, from = 0): { time: number; text: string; to: string | undefined }[] {
  return s.bw.logs.slice(from).flatMap((l) => {
    const msg = String(l.msg ?? l.raw ?? '');
    if (!/breaker/i.test(msg) && l.breaker === undefined) return [];
    const time = typeof l.time === 'string' ? Date.parse(l.time) : typeof l.time === 'number' ? l.time : Date.now();
    const to = (l.breaker as { to?: string } | undefined)?.to;
    return [{ time, text: `${new Date(time).toISOString()} ${msg}`, to }];
  });
}

const cluster: { c?: KafkaCluster; s?: Sidecar } = {};

t.before(async () => {
  const started = Date.now();
  cluster.c = await withKafkaCluster(t, { brokers: 3 });
  t.comment(`3-broker cluster ready in ${Date.now() - started} ms on ${cluster.c.brokers.join(',')}`);
  cluster.s = await sidecar(t, cluster.c.brokers);
});

const TOPIC_A = 'cluster-orders';

t.test('a) 3 broker listeners, rewritten addresses, admin/producer/consumer group through breakwater', async (t) => {
  const c = cluster.c!;
  const s = cluster.s!;
  const before = await listeners(s);
  t.comment(`broker listeners before the first Metadata: ${JSON.stringify(before)}`);

  const client = kafka([s.bootstrap]);
  const admin = client.admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());

  // the first Metadata (admin.connect only sends ApiVersions) reveals the 3 brokers: one local listener each
  const topicsBefore = await admin.listTopics();
  t.comment(`topics before: ${JSON.stringify(topicsBefore)}`);
  const ls = await poll('3 broker listeners in /status', 10_000, async () => {
    const l = await listeners(s);
    return l.length === 3 ? l : undefined;
  });
  t.same(
    ls.map((l) => l.nodeId),
    [1, 2, 3],
    'a listener for each of the 3 brokers',
  );
  for (const l of ls) {
    t.match(l.listen, /^127\.0\.0\.1:\d+$/, `broker ${l.nodeId}: a local 127.0.0.1 listener`);
    t.equal(l.upstream, `127.0.0.1:${c.node(l.nodeId).port}`, `broker ${l.nodeId}: mapped to its own upstream port`);
    t.not(l.listen, s.bootstrap, `broker ${l.nodeId}: not the bootstrap listener`);
  }
  t.equal(new Set(ls.map((l) => l.upstream)).size, 3, '3 different upstream brokers');
  t.equal(new Set(ls.map((l) => l.listen)).size, 3, '3 different local ports');
  const realPorts = new Set(c.nodes.map((n) => n.port));
  t.notOk(
    ls.some((l) => realPorts.has(Number(l.listen.split(':')[1]))),
    'no local listener shares a port with a real broker',
  );

  // DescribeCluster through breakwater: the local listeners, never the real brokers
  const described = await admin.describeCluster();
  t.comment(`describeCluster through breakwater: ${JSON.stringify(described)}`);
  t.equal(described.brokers.length, 3, 'describeCluster lists 3 brokers');
  t.same(
    described.brokers.map((b) => [b.nodeId, `${b.host}:${b.port}`]).sort((a, b) => (a[0] as number) - (b[0] as number)),
    ls.map((l) => [l.nodeId, l.listen]),
    'each broker is advertised as its breakwater listener',
  );
  t.notOk(
    described.brokers.some((b) => realPorts.has(b.port)),
    'no real broker port leaks through',
  );
  t.equal(described.clusterId, c.clusterId, 'the real cluster id');
  // KRaft brokers report a random live broker as the controller (clients cannot reach the quorum)
  t.ok([1, 2, 3].includes(described.controller ?? -1), `the controller id is one of the 3 brokers (${described.controller})`);

  t.ok(
    await createTopic(admin, TOPIC_A),
    'topic created through breakwater (3 partitions, RF 3)',
  );
  const md = await admin.fetchTopicMetadata({ topics: [TOPIC_A] });
  const ps = md.topics[0]!.partitions;
  t.equal(ps.length, 3, 'fetchTopicMetadata through breakwater: 3 partitions');
  t.ok(
    ps.every((p) => p.replicas.length === 3),
    'each with 3 replicas',
  );
  t.comment(`leaders: ${ps.map((p) => `p${p.partitionId}=${p.leader}`).join(' ')}`);

  const producer = client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const N = 60;
  const values = Array.from({ length: N }, (_, i) => `a${i}`);
  const sent = await producer.send({ topic: TOPIC_A, acks: -1, messages: values.map((v, i) => ({ key: `k${i % 11}`, value: v })) });
  t.ok(sent.length > 0 && sent.every((r) => r.errorCode === 0), `every partition acknowledged (acks=all): ${sent.map((r) => `p${r.partition}@${r.baseOffset}`).join(' ')}`);
  t.equal(new Set(sent.map((r) => r.partition)).size, 3, 'the keys spread over the 3 partitions (3 leaders, 3 listeners)');

  const consumer = client.consumer({ groupId: 'cluster-g1', sessionTimeout: 10_000, heartbeatInterval: 300, maxWaitTimeInMs: 200 });
  await consumer.connect();
  let consumerUp = true;
  t.teardown(() => (consumerUp ? consumer.disconnect() : undefined));
  await consumer.subscribe({ topics: [TOPIC_A], fromBeginning: true });
  const got: string[] = [];
  let runErr: unknown;
  const all = new Promise<void>((resolve, reject) => {
    consumer
      .run({
        eachMessage: async ({ message }) => {
          got.push(String(message.value));
          if (got.length >= N) resolve();
        },
      })
      .catch((err: unknown) => {
        runErr = err;
        reject(err);
      });
  });
  await Promise.race([all, sleep(60_000).then(() => Promise.reject(new Error(`consumer: ${got.length}/${N} after 60 s (${String(runErr)})`)))]);
  t.same([...got].sort(), [...values].sort(), 'the consumer group read every message through breakwater');
  await sleep(1_000); // a heartbeat or two
  await consumer.disconnect(); // commits
  consumerUp = false;

  const high = await admin.fetchTopicOffsets(TOPIC_A);
  const committed = await poll('the committed offsets', 15_000, async () => {
    const o = await admin.fetchOffsets({ groupId: 'cluster-g1', topics: [TOPIC_A] });
    const parts = o[0]?.partitions ?? [];
    const sum = parts.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    return parts.length === 3 && sum === N ? parts : undefined;
  });
  t.same(
    committed.map((p) => [p.partition, p.offset]).sort((a, b) => (a[0] as number) - (b[0] as number)),
    high.map((p) => [p.partition, p.high]).sort((a, b) => (a[0] as number) - (b[0] as number)),
    'fetchOffsets through breakwater: committed = high watermark in every partition',
  );

  // kafkajs 2.2.4's describeCluster() is a Metadata request (it has no DescribeCluster api)
  for (const api of ['Metadata', 'CreateTopics', 'Produce', 'FindCoordinator', 'JoinGroup', 'SyncGroup', 'Heartbeat', 'OffsetCommit', 'OffsetFetch', 'Fetch']) {
    t.ok((await requests(s.bw, api)) >= 1, `${api} went through breakwater (${await requests(s.bw, api)})`);
  }
  t.equal(await breakerState(s.bw), 'closed', 'breaker closed');
});

t.test('b) a partition leader dies: producer and consumer group through breakwater keep going', async (t) => {
  const c = cluster.c!;
  const s = cluster.s!;
  const logFrom = s.bw.logs.length;
  const topic = 'cluster-failover';
  const t0 = Date.now();
  const at = (): string => `+${((Date.now() - t0) / 1000).toFixed(1)}s`;

  const admin = kafka([s.bootstrap]).admin();
  await admin.connect();
  t.teardown(() => admin.disconnect());
  t.ok(await createTopic(admin, topic), 'topic created through breakwater (3 partitions, RF 3)');
  const before = await poll('all replicas in sync', 30_000, async () => {
    const ps = await partitions(c.brokers, topic);
    return ps.length === 3 && ps.every((p) => p.isr.length === 3 && p.leader > 0) ? ps : undefined;
  });
  t.comment(`leaders (direct): ${before.map((p) => `p${p.partitionId}=${p.leader}`).join(' ')}`);
  const victimPartition = before.find((p) => p.leader === 2 || p.leader === 3);
  if (!victimPartition) throw new Error(`no partition of ${topic} led by broker 2 or 3: ${JSON.stringify(before)}`);
  const dead = c.node(victimPartition.leader);
  const live = c.nodes.filter((n) => n !== dead);
  const liveBrokers = live.flatMap((n) => n.brokers);
  const movedPartitions = before.filter((p) => p.leader === dead.nodeId).map((p) => p.partitionId);
  t.comment(`victim: broker ${dead.nodeId} (port ${dead.port}) leads partition(s) ${movedPartitions.join(',')} of ${topic}`);
  t.comment(`breakwater listeners: ${(await listeners(s)).map((l) => `node ${l.nodeId} ${l.listen} -> ${l.upstream}`).join(', ')}`);

  // kafkajs' own warnings/errors, for the diagnosis when something fails
  const kafkajsLog: string[] = [];
  const kafkajsErrors = new Map<string, number>();
  const client = kafka([s.bootstrap], {
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 2_000 },
    logLevel: kafkajs.logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log }) => {
        const { message, timestamp: _ts, logger: _l, ...extra } = log as Record<string, unknown>;
        if (namespace === 'Connection') {
          const k = `${String(extra.broker)}: ${String(message).replace(/\(key: \d+, version: \d+\)/, '')} ${String(extra.error)}`;
          kafkajsErrors.set(k, (kafkajsErrors.get(k) ?? 0) + 1);
        }
        kafkajsLog.push(`${at()} ${level === kafkajs.logLevel.ERROR ? 'ERROR' : 'WARN'} [${namespace}] ${String(message)} ${JSON.stringify(extra).slice(0, 300)}`);
      },
  });

  // the consumer group, through breakwater
  const received = new Map<string, number>();
  const receivedAt = new Map<string, number>();
  const consumer = client.consumer({ groupId: 'cluster-failover-g', sessionTimeout: 10_000, heartbeatInterval: 500, maxWaitTimeInMs: 200 });
  const consumerEvents: string[] = [];
  let joined = 0;
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined++;
    consumerEvents.push(`${at()} GROUP_JOIN ${e.payload.groupId} member ${e.payload.memberId.slice(-8)} leader=${e.payload.isLeader}`);
  });
  consumer.on(consumer.events.CRASH, (e) => consumerEvents.push(`${at()} CRASH ${String(e.payload.error)} restart=${e.payload.restart}`));
  consumer.on(consumer.events.REQUEST_TIMEOUT, (e) => consumerEvents.push(`${at()} REQUEST_TIMEOUT ${e.payload.apiName} broker=${e.payload.broker}`));
  consumer.on(consumer.events.DISCONNECT, () => consumerEvents.push(`${at()} DISCONNECT`));
  await consumer.connect();
  let consumerUp = true;
  t.teardown(() => (consumerUp ? consumer.disconnect() : undefined));
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let runErr: unknown;
  consumer
    .run({
      eachMessage: async ({ message }) => {
        const v = String(message.value);
        received.set(v, (received.get(v) ?? 0) + 1);
        if (!receivedAt.has(v)) receivedAt.set(v, Date.now());
      },
    })
    .catch((err: unknown) => (runErr = err));
  await poll('the consumer to join its group', 30_000, () => (joined > 0 ? true : undefined));
  const offsetsLeader = await partitions(c.brokers, '__consumer_offsets').then(
    (ps) => ps[0]?.leader,
    (err: unknown) => String(err),
  );
  t.comment(`__consumer_offsets (the group coordinator) is led by broker ${offsetsLeader}${offsetsLeader === dead.nodeId ? ': the coordinator moves too' : ''}`);

  // the producer, through breakwater: one keyed message per send, acks=all, retries 10
  const producer = client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const acked = new Map<string, { partition: number; sentAt: number; ackedAt: number; tookMs: number }>();
  const failed: { value: string; key: string; sentAt: number; tookMs: number; error: string }[] = [];
  const keyPartition = new Map<string, number>();
  let seq = 0;
  let stopProducing = false;
  let maxSendMs = 0;
  const loop = (async () => {
    while (!stopProducing) {
      const value = `m${seq}`;
      const key = `key-${seq % 12}`;
      seq++;
      const sentAt = Date.now();
      try {
        const [r] = (await producer.send({ topic, acks: -1, messages: [{ key, value }] })) as RecordMetadata[];
        const tookMs = Date.now() - sentAt;
        maxSendMs = Math.max(maxSendMs, tookMs);
        keyPartition.set(key, r?.partition ?? -1);
        acked.set(value, { partition: r?.partition ?? -1, sentAt, ackedAt: Date.now(), tookMs });
      } catch (err) {
        const e = err as Error & { retryCount?: number; originalError?: Error };
        failed.push({
          value,
          key,
          sentAt,
          tookMs: Date.now() - sentAt,
          error: `${e.name}: ${e.message}${e.originalError ? ` (original: ${e.originalError.name}: ${e.originalError.message})` : ''}${e.retryCount !== undefined ? ` retries=${e.retryCount}` : ''}`,
        });
      }
      await sleep(40);
    }
  })();
  t.teardown(async () => {
    stopProducing = true;
    await loop;
  });

  await poll('20 acknowledged sends and 10 consumed before the kill', 30_000, () => (acked.size >= 20 && received.size >= 10 ? true : undefined));
  t.comment(`${at()} before the kill: ${acked.size} acked, ${received.size} consumed, ${failed.length} failed`);

  // kill -9 the leader
  const killSeq = seq;
  const killedAt = Date.now();
  await dead.kill();
  t.equal(dead.pid, undefined, `${at()} broker ${dead.nodeId} killed (first message sent after the kill: m${killSeq})`);
  const moved = await poll(`a new leader for partition ${victimPartition.partitionId}`, 30_000, async () => {
    const p = (await partitions(liveBrokers, topic)).find((x) => x.partitionId === victimPartition.partitionId);
    return p && p.leader !== dead.nodeId && p.leader > 0 ? p : undefined;
  });
  const movedAt = Date.now();
  // what breakwater's Metadata (a fresh client, through the bootstrap) says now
  const bwAdmin = kafka([s.bootstrap]).admin();
  await bwAdmin.connect();
  const bwLeader = await poll('the new leader in Metadata through breakwater', 10_000, async () => {
    const md = await bwAdmin.fetchTopicMetadata({ topics: [topic] });
    const p = md.topics[0]?.partitions.find((x) => x.partitionId === victimPartition.partitionId);
    return p && p.leader === moved.leader ? p.leader : undefined;
  }).catch((err: unknown) => String(err));
  await bwAdmin.disconnect();
  t.equal(bwLeader, moved.leader, `a fresh client's Metadata through breakwater names the new leader of partition ${victimPartition.partitionId}`);
  t.comment(`${at()} partition ${victimPartition.partitionId}: leader ${dead.nodeId} -> ${moved.leader}, ${movedAt - killedAt} ms after the kill (direct metadata)`);
  t.ok(
    live.some((n) => n.nodeId === moved.leader),
    'the new leader is a live broker',
  );

  // the producer keeps succeeding, including on the partition whose leader moved
  const afterKill = (): [string, { partition: number; sentAt: number }][] => [...acked].filter(([v]) => Number(v.slice(1)) >= killSeq);
  await poll('acknowledged sends after the kill (20, 3 of them to the moved partition, sent after the move)', 30_000, () => {
    const a = afterKill();
    const onMoved = a.filter(([, m]) => m.partition === victimPartition.partitionId && m.sentAt >= movedAt);
    return a.length >= 20 && onMoved.length >= 3 ? true : undefined;
  }).then(
    () => t.pass(`${at()} the producer keeps succeeding through breakwater after the kill (${afterKill().length} acked since)`),
    (err: unknown) => t.fail(`${at()} the producer through breakwater after the kill: ${String(err)}`, { failed: failed.slice(0, 10) }),
  );

  // the consumer keeps receiving messages produced after the kill, from the moved partition too
  // (the moved partition only as far as the producer got messages into it)
  await poll('messages produced after the kill consumed (10, and 3 from the moved partition if it took any)', 30_000, () => {
    const a = afterKill();
    const onMovedAcked = a.filter(([, m]) => m.partition === victimPartition.partitionId).length;
    const consumed = a.filter(([v]) => received.has(v));
    const onMoved = consumed.filter(([, m]) => m.partition === victimPartition.partitionId).length;
    return consumed.length >= 10 && onMoved >= Math.min(3, onMovedAcked) ? true : undefined;
  }).then(
    () => t.pass(`${at()} the consumer group keeps receiving through breakwater after the kill`),
    (err: unknown) => t.fail(`${at()} the consumer group through breakwater after the kill: ${String(err)}`, { events: consumerEvents, runErr: String(runErr) }),
  );

  // restart: the broker rejoins, breakwater keeps its listener
  const restartAt = Date.now();
  await dead.restart();
  await c.waitForBrokers([1, 2, 3], { timeoutMs: 60_000 });
  const back = await poll(`broker ${dead.nodeId} back in the ISR of partition ${victimPartition.partitionId}`, 60_000, async () => {
    const p = (await partitions(c.brokers, topic)).find((x) => x.partitionId === victimPartition.partitionId);
    return p?.isr.includes(dead.nodeId) ? p : undefined;
  });
  t.comment(`${at()} broker ${dead.nodeId} rejoined (listed, in the ISR: ${back.isr.join(',')}) ${Date.now() - restartAt} ms after restart()`);
  const ls = await listeners(s);
  t.same(
    ls.map((l) => [l.nodeId, l.upstream]),
    c.nodes.map((n) => [n.nodeId, `127.0.0.1:${n.port}`]),
    'breakwater still has the 3 listeners, same upstreams',
  );
  const rejoinSeq = seq;
  await poll('10 more acknowledged sends after the rejoin', 30_000, () => ([...acked.keys()].filter((v) => Number(v.slice(1)) >= rejoinSeq).length >= 10 ? true : undefined)).catch(
    (err: unknown) => t.fail(String(err)),
  );

  // stop producing; everything acknowledged must arrive
  stopProducing = true;
  await loop;
  const stoppedAt = Date.now();
  const missing = (): string[] => [...acked.keys()].filter((v) => !received.has(v));
  await poll('every acknowledged message consumed', 60_000, () => (missing().length === 0 ? true : undefined)).catch(() => undefined);
  t.comment(`${at()} produced ${seq} (acked ${acked.size}, failed ${failed.length}), consumed ${received.size} distinct; last arrived ${Date.now() - stoppedAt} ms after the producer stopped`);
  t.same(missing(), [], 'every message acknowledged to the producer was consumed');
  const foreign = [...received.keys()].filter((v) => !/^m\d+$/.test(v) || Number(v.slice(1)) >= seq);
  t.same(foreign, [], 'nothing consumed that was not produced');
  const ackedSet = new Set(acked.keys());
  const unackedButConsumed = [...received.keys()].filter((v) => !ackedSet.has(v));
  if (unackedButConsumed.length > 0) t.comment(`consumed though the send failed (written, then not acknowledged): ${unackedButConsumed.join(',')}`);
  t.equal(received.size, acked.size + unackedButConsumed.length, `consumed (distinct) = acked (${acked.size}) + failed-but-written (${unackedButConsumed.length})`);
  const dups = [...received].filter(([, n]) => n > 1);
  t.comment(`duplicates delivered: ${dups.length} messages (${dups.reduce((n, [, k]) => n + k - 1, 0)} extra deliveries)${dups.length ? `: ${dups.slice(0, 20).map(([v, n]) => `${v}x${n}`).join(' ')}` : ''}`);
  t.comment(`slowest acknowledged send: ${maxSendMs} ms; consumer events: ${consumerEvents.join(' | ') || 'none'}`);
  const failedBy = new Map<string, number>();
  for (const f of failed) {
    const p = `p${keyPartition.get(f.key) ?? '?'}`;
    failedBy.set(p, (failedBy.get(p) ?? 0) + 1);
  }
  if (failed.length > 0) {
    const last = failed[failed.length - 1]!;
    t.comment(
      `failed sends by partition: ${[...failedBy].map(([p, n]) => `${p}=${n}`).join(' ')} (partition ${victimPartition.partitionId} moved); ` +
        `first ${((failed[0]!.sentAt - killedAt) / 1000).toFixed(1)} s, last ${((last.sentAt - killedAt) / 1000).toFixed(1)} s after the kill ` +
        `(leader moved ${((movedAt - killedAt) / 1000).toFixed(1)} s, restart() at ${((restartAt - killedAt) / 1000).toFixed(1)} s after it)`,
    );
  }
  for (const f of failed.slice(0, 10)) t.comment(`failed send ${f.value} (${f.tookMs} ms, ${((f.sentAt - killedAt) / 1000).toFixed(1)} s after the kill): ${f.error}`);
  t.equal(failed.length, 0, 'no send failed after its retries (single broker down in a 3-broker cluster, RF 3)', { failed: failed.slice(0, 5) });
  t.equal(runErr, undefined, 'the consumer never crashed for good');

  // the breaker: a single broker dying must not open the cluster's breaker (for long)
  const lines = breakerLines(s, logFrom);
  for (const l of lines) t.comment(`breakwater: ${l.text}`);
  let openMs = 0;
  let openSince: number | undefined;
  for (const l of lines) {
    if (l.to === 'open' || l.to === 'forced_open') openSince ??= l.time;
    else if (l.to !== undefined && openSince !== undefined) {
      openMs += l.time - openSince;
      openSince = undefined;
    }
  }
  if (openSince !== undefined) openMs += Date.now() - openSince;
  const opened = lines.filter((l) => l.to === 'open').length;
  t.comment(`breaker: opened ${opened} times, ${openMs} ms open in total`);
  t.equal(opened, 0, 'the cluster breaker never opened for one dead broker out of 3');
  t.equal(await breakerState(s.bw), 'closed', 'breaker closed at the end');
  const warn = s.bw.logs.slice(logFrom).filter((l) => (l.level === 'warn' || l.level === 'error') && !/breaker/.test(String(l.msg)));
  for (const l of warn.slice(0, 15)) t.comment(`breakwater ${String(l.level)} ${String(l.time)}: ${String(l.msg)}`);
  if (warn.length > 15) t.comment(`... ${warn.length - 15} more warn/error lines`);
  t.comment(`kill at ${new Date(killedAt).toISOString()}, leader moved (seen) at ${new Date(movedAt).toISOString()}, restart() at ${new Date(restartAt).toISOString()}`);
  for (const l of s.bw.logs.slice(logFrom).filter((l) => !/breaker/.test(String(l.msg))).slice(0, 20)) {
    const { level, time, msg, pid: _p, hostname: _h, ...extra } = l;
    t.comment(`breakwater ${String(level)} ${String(time)}: ${String(msg)} ${JSON.stringify(extra).slice(0, 300)}`);
  }
  for (const [k, n] of kafkajsErrors) t.comment(`kafkajs connection errors: ${n} x ${k}`);
  for (const l of kafkajsLog.slice(0, 8)) t.comment(`kafkajs: ${l}`);
  if (kafkajsLog.length > 8) t.comment(`kafkajs: ... ${kafkajsLog.length - 8} more`);
  consumerUp = false;
  await consumer.disconnect();
});
