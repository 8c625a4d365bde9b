// The guard in front of ClickHouse: the bulkhead, garbage from clients (property test), and
// oversized headers — none of which may take the listener down or count against ClickHouse.
import t from 'tap';
import fc from 'fast-check';
import { connect } from 'node:net';
import { freePort, withClickHouse } from '../../services/index.js';
import { startBreakwater } from '../../support/breakwater.js';

const ch = await withClickHouse(t);
const port = await freePort();
const bw = await startBreakwater(
  t,
  `admin: { listen: "{{ADMIN}}" }
dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:${port}
    upstream: ${ch.url}
    maxConcurrent: 2
    timeout: 2s
    breaker: { failures: 3 }
    fallback:
      - match: { statement: read }
        use: [static]
`,
);
await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.clickhouse.healthy, 'healthy');
const url = `http://127.0.0.1:${port}`;

t.test('bulkhead: calls beyond maxConcurrent go to the fallback at once', async (t) => {
  const slow = () => fetch(`${url}/?query=${encodeURIComponent('SELECT sleep(0.5) FORMAT JSON')}`);
  const a = slow();
  const b = slow();
  await new Promise((r) => setTimeout(r, 150));
  const start = performance.now();
  const c = await slow();
  t.equal(c.headers.get('x-breakwater-fallback'), 'static', 'the third is served by the fallback');
  t.ok(performance.now() - start < 300, 'without waiting');
  t.same(JSON.parse(await c.text()).data, []);
  for (const r of await Promise.all([a, b])) {
    t.equal(r.status, 200);
    t.equal(r.headers.get('x-breakwater-fallback'), null);
  }
  const s = (await bw.get('/status')).body.dependencies.clickhouse;
  t.equal(s.counts.rejected, 1);
  t.equal(s.breaker.state, 'closed', 'a full bulkhead is not a failure of ClickHouse');
});

function sendRaw(bytes: Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(bytes);
      s.end();
    });
    let data = '';
    s.setTimeout(3000, () => s.destroy());
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('close', () => resolve(data));
    s.on('error', () => resolve(data));
  });
}

t.test('a fallback answer to HEAD has the headers and no body', async (t) => {
  const slow = () => fetch(`${url}/?query=${encodeURIComponent('SELECT sleep(0.5) FORMAT JSON')}`);
  const busy = [slow(), slow()];
  await new Promise((r) => setTimeout(r, 150));
  const reply = await sendRaw(new TextEncoder().encode(`HEAD /?query=${encodeURIComponent('SELECT 1 FORMAT JSON')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
  await Promise.all(busy);
  const [head, body] = reply.split('\r\n\r\n');
  t.match(head, /^HTTP\/1\.1 200 /);
  t.match(head, /x-breakwater-fallback: static/);
  t.match(head, /content-length: [1-9]\d*/, 'the length of the GET answer');
  t.equal(body, '', 'no body after the head');
});

t.test('property: arbitrary bytes from a client never take the listener down', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 2048 }),
        fc.string({ maxLength: 300 }).map((s) => new TextEncoder().encode(`GET /?query=${s} HTTP/1.1\r\nHost: x\r\n\r\n`)),
        fc.string({ maxLength: 200 }).map((s) => new TextEncoder().encode(`POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n${s}`)),
      ),
      async (bytes) => {
        const reply = await sendRaw(bytes);
        return reply === '' || /^HTTP\/1\.1 \d{3} /.test(reply);
      },
    ),
    { numRuns: 60 },
  );
  const ok = await fetch(`${url}/?query=SELECT%201`);
  t.equal(await ok.text(), '1\n', 'still serving');
  t.equal((await bw.get('/livez')).status, 200);
  t.ok((await bw.metric(/^breakwater_bad_requests_total\{dependency="clickhouse",reason="malformed_http"\}/))! > 0, 'garbage is counted');
  t.equal((await bw.get('/status')).body.dependencies.clickhouse.breaker.state, 'closed');
});

t.test('oversized headers get 431 and are counted', async (t) => {
  const reply = await sendRaw(new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`));
  t.match(reply, /^HTTP\/1\.1 431 /);
  t.match(reply, /headers larger than 65536 bytes/);
  t.equal(await bw.metric(/^breakwater_bad_requests_total\{dependency="clickhouse",reason="oversized_headers"\}/), 1);
});

t.test('a client that stalls mid-upload gets 408 and is not held against ClickHouse', async (t) => {
  const before = (await bw.get('/status')).body.dependencies.clickhouse.counts.failure;
  const start = performance.now();
  const reply = await new Promise<string>((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write('POST /?query=INSERT%20INTO%20nowhere%20FORMAT%20TabSeparated HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc');
    });
    let data = '';
    s.on('data', (d) => (data += d.toString('latin1')));
    s.on('close', () => resolve(data));
    s.on('error', () => resolve(data));
  });
  t.match(reply, /^HTTP\/1\.1 408 /);
  t.ok(performance.now() - start >= 1900, 'after the 2s timeout');
  const s = (await bw.get('/status')).body.dependencies.clickhouse;
  t.equal(s.counts.failure, before, 'no failure counted');
  t.equal(s.breaker.state, 'closed');
  t.equal(s.inFlight, 0);
  t.equal(await bw.metric(/^breakwater_bad_requests_total\{dependency="clickhouse",reason="client_stalled"\}/), 1);
});
