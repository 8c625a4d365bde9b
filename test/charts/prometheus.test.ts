// A real Prometheus scraping a live breakwater, with the chart's alert rules loaded: after a
// ClickHouse fault (SIGSTOP), Prometheus's own query API shows the breaker open and the alerts
// pending; and every metric the alerts and the dashboard use is one this breakwater exports.
import t from 'tap';
import { stringify } from 'yaml';
import { rm } from 'node:fs/promises';
import { freePort, makeTempDir, poll, withClickHouse } from '../services/index.js';
import { withPrometheus, type PrometheusServer } from '../services/index.js';
import { startBreakwater } from '../support/breakwater.js';
import { findDoc, renderExampleApp } from './tools.js';

type Obj = Record<string, any>;

async function value(prom: PrometheusServer, promql: string): Promise<number | undefined> {
  const r = await prom.query(promql);
  return r.length === 1 ? Number(r[0]!.value[1]) : undefined;
}

/** Every breakwater_* name in a PromQL expression, histogram suffixes removed. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\bbreakwater_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

function dashboardExprs(dashboard: Obj): string[] {
  const out: string[] = [];
  const walk = (panels: Obj[] = []): void => {
    for (const p of panels) {
      for (const target of p.targets ?? []) if (target.expr) out.push(target.expr);
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

t.test('Prometheus sees the breaker open after a ClickHouse fault; alerts and dashboard use exported metrics', async (t) => {
  const rendered = await renderExampleApp({ values: ['values-production.yaml'] });
  const rule = findDoc(rendered, 'PrometheusRule');
  const dashboard = JSON.parse(findDoc(rendered, 'ConfigMap', 'feed-breakwater-dashboard').data['breakwater.json']) as Obj;

  const ch = await withClickHouse(t);
  const spoolDir = await makeTempDir('prometheus-test-spool');
  t.teardown(() => rm(spoolDir, { recursive: true, force: true }));
  const listen = await freePort();
  const deadKafka = await freePort();
  // ClickHouse real; Kafka and the CDC consumer configured against a port nobody listens on, so
  // that every metric family (spool, CDC) is registered as in a full deployment.
  const bw = await startBreakwater(
    t,
    `admin: { listen: "{{ADMIN}}" }
startup: { waitFor: [clickhouse], timeout: 1s, onTimeout: serve-unready }
spool: { dir: "${spoolDir}", maxBytes: 64MiB }
dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:${listen}
    upstream: ${ch.url}
    timeout: 500ms
    required: true
    fedByCdc: true
    breaker: { failures: 3, openFor: 5m, halfOpenSuccesses: 1 }
    health: { interval: 300ms, timeout: 250ms, unhealthyThreshold: 2 }
  kafka:
    protocol: kafka
    listen: 127.0.0.1:${await freePort()}
    upstream: 127.0.0.1:${deadKafka}
    connectTimeout: 200ms
    fallback:
      - match: { topics: [events] }
        use: [spool]
cdc:
  brokers: 127.0.0.1:${deadKafka}
  clickhouse: clickhouse
  topics:
    cdc.posts: { table: posts_cdc, key: [id], version: cdc_timestamp }
`,
  );
  const admin = bw.admin.replace('http://', '');
  const prom = await withPrometheus(t, { targets: [admin], rules: [stringify({ groups: rule.spec.groups })] });

  await poll('Prometheus to scrape breakwater', 30_000, () => value(prom, `up{instance="${admin}"} == 1`));
  t.equal(await poll('a closed breaker in Prometheus', 30_000, () => value(prom, 'breakwater_breaker_state{dependency="clickhouse",state="closed"} == 1')), 1, 'closed before the fault');
  const rules = (await prom.api('/api/v1/rules')) as { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
  const loaded = rules.groups.flatMap((g) => g.rules);
  t.equal(loaded.length, rule.spec.groups.flatMap((g: Obj) => g.rules).length, 'Prometheus loaded every alert rule');
  await poll('every rule evaluated', 30_000, async () => {
    const r = ((await prom.api('/api/v1/rules')) as typeof rules).groups.flatMap((g) => g.rules);
    return r.every((x) => x.health === 'ok') ? true : undefined;
  });

  // The fault: ClickHouse stops answering; the app's queries time out, health checks fail.
  ch.pause();
  t.teardown(() => ch.resume());
  for (let i = 0; i < 3; i++) await fetch(`http://127.0.0.1:${listen}/?query=SELECT%201`).then((r) => r.arrayBuffer(), () => undefined);
  t.equal(
    await poll('breakwater_breaker_state{dependency="clickhouse",state="open"} = 1 in Prometheus', 30_000, () => value(prom, 'breakwater_breaker_state{dependency="clickhouse",state="open"} == 1')),
    1,
    'Prometheus query API: breakwater_breaker_state{dependency="clickhouse",state="open"} is 1',
  );
  t.equal(await value(prom, 'breakwater_breaker_state{dependency="clickhouse",state="closed"}'), 0, 'and closed is 0');
  t.equal(await poll('unhealthy in Prometheus', 30_000, () => value(prom, 'breakwater_dependency_healthy{dependency="clickhouse"} == 0')), 0, 'health 0');
  const pending = await poll('the breaker-open and required-dependency alerts to be pending', 30_000, async () => {
    const a = await prom.query('ALERTS{dependency="clickhouse"}');
    const names = a.map((x) => `${x.metric.alertname}:${x.metric.alertstate}`).sort();
    return names.includes('BreakwaterBreakerOpen:pending') && names.includes('BreakwaterRequiredDependencyUnhealthy:pending') ? names : undefined;
  });
  t.ok(pending.length >= 2, `alerts pending on the live series: ${pending.join(', ')}`);
  t.equal(await value(prom, 'breakwater_ready'), 0, 'not ready');
  t.equal(await value(prom, 'breakwater_dependency_required{dependency="clickhouse"}'), 1, 'clickhouse is required');
  t.equal(await value(prom, 'breakwater_dependency_required{dependency="kafka"}'), 0, 'kafka is not');
  t.equal(await value(prom, 'breakwater_spool_max_bytes{dependency="kafka"}'), 64 * 1024 * 1024, "the spool's bound");

  // The names: every breakwater_* metric in the alerts and the dashboard is exported by this breakwater.
  const text = await (await fetch(`${bw.admin}/metrics`)).text();
  const exported = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  const alertExprs = (rule.spec.groups as Obj[]).flatMap((g) => g.rules.map((r: Obj) => String(r.expr)));
  const panelExprs = dashboardExprs(dashboard);
  t.ok(panelExprs.length >= 10, `the dashboard has queries (${panelExprs.length})`);
  const used = new Set([...alertExprs, ...panelExprs].flatMap(metricNames));
  t.ok(used.size >= 15, `${used.size} metric names used`);
  const missing = [...used].filter((n) => !exported.has(n));
  t.same(missing, [], `every metric the alerts and the dashboard use is in /metrics (${[...used].sort().join(', ')})`);
  // and every dashboard query is one Prometheus accepts, with Grafana's variables filled in
  for (const expr of panelExprs) {
    const q = expr.replaceAll('$__rate_interval', '1m').replace(/\$(namespace|pod|dependency)\b/g, '.*');
    const ok = await prom.query(q).then(
      () => 'ok',
      (e: Error) => e.message,
    );
    t.equal(ok, 'ok', `Prometheus accepts: ${q}`);
  }
  ch.resume();
});
