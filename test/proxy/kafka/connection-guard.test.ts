// The connection-level Kafka guard against a real KRaft broker, with kafkajs as the app.
import t from 'tap';
import { Kafka, logLevel } from 'kafkajs';
import { connect } from 'node:net';
import { freePort, withKafka } from '../../services/index.js';
import { startBreakwater } from '../../support/breakwater.js';

const kafka = await withKafka(t);
const port = await freePort();
const bw = await startBreakwater(
  t,
  `admin: { listen: "{{ADMIN}}" }
dependencies:
  kafka:
    protocol: kafka
    listen: 127.0.0.1:${port}
    upstream: ${kafka.brokers[0]}
    required: true
    breaker: { failures: 2, openFor: 2s, halfOpenSuccesses: 3 }
    health: { interval: 300ms, unhealthyThreshold: 100 }
`,
);
await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, 'ready (the ApiVersions health check passed)');

t.test('kafkajs bootstraps through breakwater: admin, produce, consume', async (t) => {
  const client = new Kafka({ clientId: 'bw-test', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  const admin = client.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'guarded', numPartitions: 1 }], waitForLeaders: true });
  t.ok((await admin.listTopics()).includes('guarded'));
  await admin.disconnect();
  const producer = client.producer();
  await producer.connect();
  await producer.send({ topic: 'guarded', messages: [{ value: 'one' }, { value: 'two' }] });
  await producer.disconnect();
  const offsets = await (async () => {
    const a = client.admin();
    await a.connect();
    const o = await a.fetchTopicOffsets('guarded');
    await a.disconnect();
    return o;
  })();
  t.equal(offsets[0]!.high, '2', 'both messages were written');
  const s = (await bw.get('/status')).body.dependencies.kafka;
  t.ok(s.counts.success >= 1, 'bootstrap connections went through the guard');
  t.equal(s.breaker.state, 'closed');
});

function connectionOutcome(): Promise<'closed-at-once' | 'open'> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      resolve('open');
    }, 1000);
    s.on('close', () => {
      clearTimeout(timer);
      resolve('closed-at-once');
    });
    s.on('error', () => undefined);
  });
}

t.test('Kafka down: failed connections open the breaker; refused clients are disconnected', async (t) => {
  await kafka.kill();
  t.equal(await connectionOutcome(), 'closed-at-once');
  t.equal(await connectionOutcome(), 'closed-at-once');
  const s = (await bw.get('/status')).body.dependencies.kafka;
  t.equal(s.counts.failure, 2);
  t.equal(s.breaker.state, 'open', 'open after 2 failures');
  t.match(s.lastError.message, /ECONNREFUSED/);
  t.equal(await connectionOutcome(), 'closed-at-once');
  t.equal(await bw.metric(/^breakwater_calls_total\{dependency="kafka",outcome="rejected"\}/), 1);
  t.equal((await bw.get('/readyz')).status, 503);
  await kafka.restart();
  await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.kafka.breaker.state === 'half_open', 'half-open', 5000);
  for (let i = 0; i < 3; i++) t.equal(await connectionOutcome(), 'open', 'trial connections reach the broker');
  t.equal((await bw.get('/status')).body.dependencies.kafka.breaker.state, 'closed');
  await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, 'ready', 10_000);
});
