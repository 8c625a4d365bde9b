// Nothing lost: 100,000 keyed messages produced through breakwater while Kafka is down go to the
// spool; breakwater is SIGKILLed half-way and restarted on the same spool (it answers the
// producer from the cluster state it kept on disk); Kafka comes back and every message arrives,
// in order per partition. Duplicates (at-least-once) are counted and reported.
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { freePort, withKafka } from '../../services/index.js';
import { breakerState, kafka, metricOf, sidecar } from './helpers.js';
import { fileTimeoutAtLeast } from '../../support/file-timeout.js';

// Kafka starts, stops and restarts, 100,000 messages go through twice: raise tap's 30 s default.
fileTimeoutAtLeast(t, 280_000);

const TOTAL = 100_000;
const PER_SEND = 500;
const KEYS = 64;
const FALLBACK = `      - match: { topics: [events] }
        use: [spool]
`;

const valueOf = (i: number): string => `m-${String(i).padStart(6, '0')}-${'x'.repeat(80)}`;

t.test('100,000 messages spooled through an outage and a SIGKILL of breakwater: all arrive, in order per partition', async (t) => {
  const k = await withKafka(t);
  const port = await freePort();
  const spoolDir = mkdtempSync(join(tmpdir(), 'bw-spool-crash-'));
  const opts = { port, spoolDir, fallback: FALLBACK, breaker: '{ failures: 2, openFor: 2s, halfOpenSuccesses: 1 }' };
  let { bw, bootstrap } = await sidecar(t, k.brokers, opts);

  const admin = kafka(k.brokers).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 4 }], waitForLeaders: true });
  await admin.disconnect();

  const producer = kafka([bootstrap], { retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } }).producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  await producer.send({ topic: 'events', messages: [{ key: 'warm-up', value: 'warm-up' }] });

  await k.kill();

  let resent = 0;
  let killedAt = -1;
  const started = Date.now();
  for (let i = 0; i < TOTAL; i += PER_SEND) {
    const messages = Array.from({ length: PER_SEND }, (_, j) => ({ key: `key-${(i + j) % KEYS}`, value: valueOf(i + j) }));
    for (;;) {
      try {
        await producer.send({ topic: 'events', messages });
        break;
      } catch {
        resent++; // the app's own retry: at-least-once from here too
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    if (killedAt < 0 && i + PER_SEND >= TOTAL / 2) {
      killedAt = i + PER_SEND;
      const depth = await metricOf(bw, 'breakwater_spool_depth{dependency="kafka"}');
      t.ok(depth >= killedAt, `half-way: ${depth} records spooled before the SIGKILL`);
      await bw.stop('SIGKILL');
      ({ bw } = await sidecar(t, k.brokers, opts));
      t.ok(
        bw.logs.some((l) => /spool holds \d+ records/.test(String(l.msg))),
        'the restarted breakwater found the spooled records',
      );
    }
  }
  const produceMs = Date.now() - started;
  t.comment(`produced ${TOTAL} messages during the outage in ${produceMs} ms (${Math.round((TOTAL / produceMs) * 1000)} msg/s); sends retried by the app: ${resent}`);
  t.equal(await breakerState(bw), 'open', 'the breaker is open while Kafka is down');
  t.ok((await metricOf(bw, 'breakwater_spool_depth{dependency="kafka"}')) >= TOTAL / 2, 'the second half is in the spool too');

  await k.restart();
  await bw.waitFor(async () => (await metricOf(bw, 'breakwater_spool_depth{dependency="kafka"}')) === 0, 'the spool to drain', 120_000);
  const replayed = await metricOf(bw, 'breakwater_spool_replayed_total{dependency="kafka"}');
  t.ok(replayed >= TOTAL, `replayed ${replayed} records after the restart`);

  // Read everything back straight from Kafka.
  const offsets = await (async () => {
    const a = kafka(k.brokers).admin();
    await a.connect();
    try {
      return await a.fetchTopicOffsets('events');
    } finally {
      await a.disconnect();
    }
  })();
  const stored = offsets.reduce((n, o) => n + Number(o.high), 0);
  const consumer = kafka(k.brokers).consumer({ groupId: 'verify', sessionTimeout: 10_000, maxBytes: 8 << 20 });
  await consumer.connect();
  t.teardown(() => consumer.disconnect());
  await consumer.subscribe({ topic: 'events', fromBeginning: true });
  const byPartition = new Map<number, number[]>();
  let read = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        let list = byPartition.get(batch.partition);
        if (list === undefined) byPartition.set(batch.partition, (list = []));
        for (const m of batch.messages) {
          const v = String(m.value);
          if (v.startsWith('m-')) list.push(Number(v.slice(2, 8)));
          if (v.startsWith('m-') && v !== valueOf(Number(v.slice(2, 8)))) list.push(-1); // corrupted content
        }
        read += batch.messages.length;
        if (read >= stored) resolve();
      },
    });
  });

  const all = [...byPartition.values()].flat();
  t.notOk(all.includes(-1), 'every message has the content it was sent with');
  const unique = new Set(all);
  const duplicates = all.length - unique.size;
  t.equal(unique.size, TOTAL, `every one of the ${TOTAL} messages arrived`);
  const hash = (xs: Iterable<number>): string => createHash('sha256').update([...xs].sort((a, b) => a - b).map(valueOf).join('\n')).digest('hex');
  t.equal(hash(unique), hash(Array.from({ length: TOTAL }, (_, i) => i)), 'content hash of the arrived messages matches what was sent');
  let outOfOrder = 0;
  for (const list of byPartition.values()) {
    const seen = new Set<number>();
    let last = -1;
    for (const i of list) {
      if (seen.has(i)) continue; // a duplicate: its first copy is the one in order
      seen.add(i);
      if (i < last) outOfOrder++;
      last = i;
    }
  }
  t.equal(outOfOrder, 0, 'order kept per partition (first copies)');
  t.comment(`duplicates: ${duplicates} (${((duplicates / TOTAL) * 100).toFixed(2)}%), app-level resends: ${resent}, breakwater SIGKILLed after ${killedAt} messages`);
  t.ok(duplicates <= TOTAL / 10, `duplicates stay bounded (${duplicates})`);
});
