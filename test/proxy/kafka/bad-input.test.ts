// Bad input on a live Kafka listener: garbage, a truncated header, an oversized frame, an unknown
// api key, a version the cluster does not offer, a client that vanishes mid-request. Each closes
// only that connection, with a log line and a metric; nothing crashes, nothing reaches Kafka as
// a failure, and a kafkajs producer on the same sidecar keeps working.
import { connect, type Socket } from 'node:net';
import t from 'tap';
import { withKafka } from '../../services/index.js';
import { breakerState, kafka, metricOf, sidecar } from './helpers.js';
import { fileTimeoutAtLeast } from '../../support/file-timeout.js';

fileTimeoutAtLeast(t, 240_000);

/** Sends bytes on a fresh connection; resolves with what came back before the close (or a timeout). */
function exchange(port: number, bytes: Buffer, o: { vanishAfterMs?: number; timeoutMs?: number } = {}): Promise<{ closed: boolean; got: Buffer }> {
  return new Promise((resolve) => {
    const s: Socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ closed, got: Buffer.concat(chunks) });
    };
    const timer = setTimeout(() => finish(false), o.timeoutMs ?? 3000);
    s.on('connect', () => {
      s.write(bytes);
      if (o.vanishAfterMs !== undefined) setTimeout(() => finish(true), o.vanishAfterMs);
    });
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
  });
}

function frame(apiKey: number, version: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const clientId = Buffer.from('bad-input-test');
  const b = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length + body.length);
  b.writeInt32BE(b.length - 4, 0);
  b.writeInt16BE(apiKey, 4);
  b.writeInt16BE(version, 6);
  b.writeInt32BE(7, 8);
  b.writeInt16BE(clientId.length, 12);
  clientId.copy(b, 14);
  body.copy(b, 14 + clientId.length);
  return b;
}

t.test('bad input closes only the offending connection, counted, while a producer keeps working', async (t) => {
  const k = await withKafka(t);
  const { bw, port, bootstrap } = await sidecar(t, k.brokers, { extra: '    maxFrameBytes: 1MiB\n' });
  const producer = kafka([bootstrap]).producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  await producer.send({ topic: 'ok-topic', messages: [{ value: 'first' }] });

  const bad = (reason: string): Promise<number> => metricOf(bw, `breakwater_bad_requests_total{dependency="kafka",reason="${reason}"}`);
  const cases: { name: string; bytes: Buffer; reason: string }[] = [
    { name: 'HTTP on the Kafka port (garbage size prefix)', bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), reason: 'frame_too_large' },
    { name: 'a frame over maxFrameBytes', bytes: Buffer.concat([Buffer.from([0x00, 0x20, 0x00, 0x00]), Buffer.alloc(64)]), reason: 'frame_too_large' },
    { name: 'a negative size prefix', bytes: Buffer.from([0xff, 0xff, 0xff, 0xfe, 1, 2, 3]), reason: 'frame_too_large' },
    { name: 'a header cut short', bytes: Buffer.from([0, 0, 0, 6, 0, 3, 0, 4, 0, 0]), reason: 'truncated' },
    { name: 'an unknown api key', bytes: frame(999, 0), reason: 'unknown_api' },
    { name: 'a Metadata version the cluster does not offer', bytes: frame(3, 99), reason: 'unsupported_version' },
    { name: 'a Produce whose body is cut short', bytes: frame(0, 7, Buffer.from([0xff, 0xff, 0xff])), reason: 'truncated' },
  ];
  for (const c of cases) {
    const before = await bad(c.reason);
    const r = await exchange(port, c.bytes);
    t.ok(r.closed, `${c.name}: connection closed`);
    t.equal(r.got.length, 0, `${c.name}: nothing answered`);
    t.equal((await bad(c.reason)) - before, 1, `${c.name}: counted as ${c.reason}`);
  }
  // half a frame, then the client vanishes
  const before = await bad('client_disconnect');
  await exchange(port, frame(3, 4, Buffer.alloc(100)).subarray(0, 40), { vanishAfterMs: 100 });
  await bw.waitFor(async () => (await bad('client_disconnect')) === before + 1, 'client_disconnect to be counted', 5000);
  t.pass('a client vanishing mid-frame is counted as client_disconnect');
  t.ok(bw.logs.some((l) => /bad input, closing its connection/.test(String(l.msg))), 'a warn line says why a connection was closed');

  await producer.send({ topic: 'ok-topic', messages: [{ value: 'after' }] });
  t.pass('the producer on the same sidecar still works');
  t.equal(await breakerState(bw), 'closed', 'bad input never counts against the breaker');
  t.equal(bw.proc.exitCode, null, 'breakwater is still running');
});
