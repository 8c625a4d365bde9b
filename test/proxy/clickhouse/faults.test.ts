// Real faults: ClickHouse paused (SIGSTOP) and killed, with breakwater in front. The breaker
// opens after 3 failures, fallbacks answer at once without touching ClickHouse, readiness
// follows, and after openFor a bounded trial closes it again. Metrics and /status at each step.
import t, { type Test } from 'tap';
import { freePort, withClickHouse } from '../../services/index.js';
import { startBreakwater, type Breakwater } from '../../support/breakwater.js';

const ch = await withClickHouse(t);
const OPEN_FOR = 3000;

async function sidecar(opts: { unhealthyThreshold: number; readUse: string }): Promise<{ bw: Breakwater; url: string }> {
  const port = await freePort();
  const bw = await startBreakwater(
    t,
    `admin: { listen: "{{ADMIN}}" }
log: { level: info, fallbackSummaryInterval: 1s }
startup: { waitFor: [clickhouse], timeout: 30s }
dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:${port}
    upstream: ${ch.url}
    timeout: 1s
    required: true
    breaker: { failures: 3, openFor: ${OPEN_FOR}ms, halfOpenSuccesses: 3 }
    health: { interval: 500ms, timeout: 400ms, unhealthyThreshold: ${opts.unhealthyThreshold} }
    fallback:
      - match: { statement: read }
        use: [${opts.readUse}]
`,
  );
  await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, 'ready');
  return { bw, url: `http://127.0.0.1:${port}` };
}

const metricOf = (bw: Breakwater, series: string): Promise<number> =>
  bw.metric(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} `)).then((v) => v ?? 0);
const state = async (bw: Breakwater): Promise<string> => (await bw.get('/status')).body.dependencies.clickhouse.breaker.state;

async function read(url: string, sql = 'SELECT 1 AS one FORMAT JSON'): Promise<{ status: number; ms: number; fallback: string | null; body: string }> {
  const start = performance.now();
  const res = await fetch(`${url}/?query=${encodeURIComponent(sql)}`, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  return { status: res.status, ms: performance.now() - start, fallback: res.headers.get('x-breakwater-fallback'), body };
}

async function trialsCloseIt(t: Test, bw: Breakwater, url: string): Promise<void> {
  await bw.waitFor(async () => (await state(bw)) === 'half_open', 'half_open after openFor', OPEN_FOR + 5000);
  t.equal(await metricOf(bw, 'breakwater_breaker_state{dependency="clickhouse",state="half_open"}'), 1, 'metrics show half_open');
  // One trial at a time: a slow trial is in flight, the next caller is turned away at once.
  const trial = read(url, "SELECT sleepEachRow(0.3), 'trial' FORMAT JSON");
  await new Promise((r) => setTimeout(r, 100));
  const second = await read(url);
  t.equal(second.fallback, 'static', 'a second call during the trial is rejected to the fallback');
  t.ok(second.ms < 500, `and answered at once (${second.ms.toFixed(1)}ms), not after the 1s upstream timeout`);
  const first = await trial;
  t.equal(first.status, 200);
  t.equal(first.fallback, null, 'the trial reached ClickHouse');
  t.match(first.body, /"trial"/);
  t.equal(await state(bw), 'half_open', 'one success is not enough');
  for (let i = 0; i < 2; i++) t.equal((await read(url)).fallback, null);
  t.equal(await state(bw), 'closed', 'closed after 3 successes');
  t.equal(await metricOf(bw, 'breakwater_breaker_transitions_total{dependency="clickhouse",from="half_open",to="closed"}'), 1);
  await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, '/readyz 200 again', 10_000);
}

t.test('SIGSTOP: timeouts, open after 3, fast fallbacks, not ready, one trial, closed after 3', async (t) => {
  const { bw, url } = await sidecar({ unhealthyThreshold: 100, readUse: 'static' });
  ch.pause();
  t.teardown(() => ch.resume());

  for (let i = 1; i <= 3; i++) {
    const r = await read(url);
    t.equal(r.status, 200, `timeout ${i} is answered by the fallback`);
    t.equal(r.fallback, 'static');
    t.same(JSON.parse(r.body).data, [], 'an empty JSON result');
    t.ok(r.ms >= 900 && r.ms < 3000, `after the 1s timeout (${r.ms.toFixed(0)}ms)`);
    t.equal(await state(bw), i < 3 ? 'closed' : 'open');
  }
  t.equal(await metricOf(bw, 'breakwater_calls_total{dependency="clickhouse",outcome="failure"}'), 3);
  t.equal(await metricOf(bw, 'breakwater_breaker_state{dependency="clickhouse",state="open"}'), 1);
  t.equal(await metricOf(bw, 'breakwater_breaker_transitions_total{dependency="clickhouse",from="closed",to="open"}'), 1);
  const status = (await bw.get('/status')).body.dependencies.clickhouse;
  t.match(status.lastError.message, /timeout/);
  t.ok(status.breaker.retryAfterMs > 0 && status.breaker.retryAfterMs <= OPEN_FOR);
  t.ok(bw.logs.some((l) => l.level === 'warn' && /closed -> open: 3 consecutive failures/.test(String(l.msg))), 'the transition is logged at warn with its reason');

  const durationCount = await metricOf(bw, 'breakwater_call_duration_seconds_count{dependency="clickhouse"}');
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const r = await read(url, 'SELECT * FROM t FORMAT JSONEachRow');
    t.equal(r.fallback, 'static');
    t.equal(r.body, '', 'JSONEachRow: an empty body');
    times.push(r.ms);
  }
  // Latency is the benchmark's business; here: the typical fallback is fast and none waited for
  // the upstream (timeout 1s), even on a loaded CI machine.
  const sorted = [...times].sort((a, b) => a - b);
  t.ok(sorted[10]! < 50, `fallbacks within 50ms (median ${sorted[10]!.toFixed(1)}ms)`);
  t.ok(sorted[19]! < 500, `none waited for the upstream (max ${sorted[19]!.toFixed(1)}ms)`);
  t.equal(await metricOf(bw, 'breakwater_calls_total{dependency="clickhouse",outcome="rejected"}'), 20, 'all rejected by the breaker');
  t.equal(await metricOf(bw, 'breakwater_call_duration_seconds_count{dependency="clickhouse"}'), durationCount, 'none reached ClickHouse');
  t.equal(await metricOf(bw, 'breakwater_fallbacks_total{dependency="clickhouse",kind="static"}'), 23);
  const write = await fetch(`${url}/?query=INSERT%20INTO%20t%20VALUES`, { method: 'POST', body: '(1)' });
  t.equal(write.status, 503, 'writes fail fast, never faked');
  t.ok(Number(write.headers.get('retry-after')) >= 1 && Number(write.headers.get('retry-after')) <= OPEN_FOR / 1000);
  const ready = await bw.get('/readyz');
  t.equal(ready.status, 503, 'not ready while open');
  t.match(ready.body.reasons, [/clickhouse: breaker open/]);
  await bw.waitFor(() => bw.logs.some((l) => /served \d+ fallback responses/.test(String(l.msg))), 'the fallback summary log line', 5000);

  ch.resume();
  await trialsCloseIt(t, bw, url);
  t.equal(await metricOf(bw, 'breakwater_breaker_transitions_total{dependency="clickhouse",from="open",to="half_open"}'), 1, 'exactly one trial period');
});

t.test('killed and restarted: connection refused opens it, recovery closes it', async (t) => {
  const { bw, url } = await sidecar({ unhealthyThreshold: 100, readUse: 'static' });
  await ch.kill();
  for (let i = 0; i < 3; i++) {
    const r = await read(url, 'SELECT 1 FORMAT CSVWithNames');
    t.equal(r.fallback, 'static');
    t.ok(r.ms < 500, `refused fast (${r.ms.toFixed(0)}ms)`);
  }
  t.equal(await state(bw), 'open');
  t.match((await bw.get('/status')).body.dependencies.clickhouse.lastError.message, /ECONNREFUSED/);
  t.equal((await bw.get('/readyz')).status, 503);
  t.equal(await metricOf(bw, 'breakwater_calls_total{dependency="clickhouse",outcome="failure"}'), 3);
  await ch.restart();
  await trialsCloseIt(t, bw, url);
});

t.test('a failing health check opens the breaker before the app feels it; fail answers 503', async (t) => {
  const { bw, url } = await sidecar({ unhealthyThreshold: 2, readUse: 'fail' });
  ch.pause();
  t.teardown(() => ch.resume());
  await bw.waitFor(async () => (await state(bw)) === 'open', 'the health check to open the breaker', 10_000);
  t.equal(await metricOf(bw, 'breakwater_calls_total{dependency="clickhouse",outcome="failure"}'), 0, 'no app request had failed');
  t.equal(await metricOf(bw, 'breakwater_dependency_healthy{dependency="clickhouse"}'), 0);
  const s = (await bw.get('/status')).body.dependencies.clickhouse;
  t.equal(s.healthy, false);
  t.match(s.checks[0].lastError, /no answer within 400ms/);
  const r = await read(url);
  t.equal(r.status, 503);
  t.equal(r.fallback, 'fail');
  t.ok(r.ms < 500, `503 at once (${r.ms.toFixed(1)}ms), not after the upstream timeout`);
  t.match(JSON.parse(r.body), { dependency: 'clickhouse', state: 'open', reason: 'open', error: 'breakwater: clickhouse circuit open' });
  const ready = await bw.get('/readyz');
  t.equal(ready.status, 503);
  t.match(ready.body.reasons.join(' '), /clickhouse: unhealthy/);
  ch.resume();
  await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.clickhouse.healthy === true, 'healthy again', 10_000);
  await bw.waitFor(async () => (await state(bw)) === 'half_open', 'half_open', OPEN_FOR + 5000);
  for (let i = 0; i < 3; i++) t.equal((await read(url)).status, 200);
  t.equal(await state(bw), 'closed');
  await bw.waitFor(async () => (await bw.get('/readyz')).status === 200, 'ready', 5000);
});
