// The PrometheusRule and the Grafana dashboard of the breakwater library chart, as
// charts/example-app renders them with values-production.yaml: promtool checks the rules and
// runs alerts.promtest.yaml against them (every alert fires in one case and stays quiet in
// another), the dashboard is valid JSON whose queries parse, and every metric both use is one
// breakwater exports.
import t from 'tap';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { findDoc, promtool, renderExampleApp, ROOT, run, withTempDir } from './tools.js';

const PROMTEST = path.join(ROOT, 'test/charts/alerts.promtest.yaml');

/** The alerts the chart defines; a new one needs its promtool cases (and a line here). */
const ALERTS = [
  'BreakwaterBreakerOpen',
  'BreakwaterBreakerFlapping',
  'BreakwaterRequiredDependencyUnhealthy',
  'BreakwaterNotReady',
  'BreakwaterSpoolFilling',
  'BreakwaterSpoolRejecting',
  'BreakwaterCdcLagHigh',
  'BreakwaterCdcNotRunning',
  'BreakwaterCdcDeadLettered',
];

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleGroups {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Array<{ refId: string; expr: string; legendFormat?: string }>;
}

const rendered = renderExampleApp({ values: ['values-production.yaml'] });
// Settled here too, so a failed render is reported by the tests that await it, not as unhandled.
rendered.catch(() => undefined);

async function ruleSpec(): Promise<RuleGroups> {
  return findDoc(await rendered, 'PrometheusRule').spec as RuleGroups;
}

async function dashboard(): Promise<{ cm: Record<string, any>; model: Record<string, any> }> {
  const cm = findDoc(await rendered, 'ConfigMap', 'feed-breakwater-dashboard');
  return { cm, model: JSON.parse(cm.data['breakwater.json']) as Record<string, any> };
}

const alertRules = (spec: RuleGroups): Rule[] => spec.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
/** The message, with the tool's output when it failed. */
const said = (ok: boolean, message: string, r: { stdout: string; stderr: string }): string =>
  ok ? message : `${message}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;

t.test('the PrometheusRule: names, labels, one of each alert, severities and annotations', async (t) => {
  const doc = findDoc(await rendered, 'PrometheusRule');
  t.equal(doc.apiVersion, 'monitoring.coreos.com/v1');
  t.equal(doc.metadata.name, 'feed-breakwater');
  t.match(doc.metadata.labels, { 'app.kubernetes.io/name': 'breakwater', 'app.kubernetes.io/instance': 'feed', release: 'kube-prometheus-stack' });
  const alerts = alertRules(doc.spec as RuleGroups);
  t.same(alerts.map((a) => a.alert).sort(), [...ALERTS].sort(), 'the alerts');
  for (const a of alerts) {
    t.match(a.labels?.severity, /^(warning|critical)$/, `${a.alert}: severity`);
    t.match(a.annotations?.summary, /\S/, `${a.alert}: summary`);
    t.match(a.annotations?.description, /`\/status` on the\s+admin port \(9901\)/, `${a.alert}: the description points at /status`);
    // Helm left Prometheus' templates alone (escaped), and rendered its own.
    t.notMatch(JSON.stringify(a), /\{\{`|`\}\}|<no value>/, `${a.alert}: no Helm leftovers`);
  }
  const byName = new Map(alerts.map((a) => [a.alert!, a]));
  // thresholds from values.yaml's monitoring.prometheusRule
  t.equal(byName.get('BreakwaterBreakerOpen')!.for, '5m');
  t.equal(byName.get('BreakwaterRequiredDependencyUnhealthy')!.for, '2m');
  t.equal(byName.get('BreakwaterCdcLagHigh')!.for, '10m');
  t.match(byName.get('BreakwaterCdcLagHigh')!.expr, /> 10000$/);
  t.match(byName.get('BreakwaterBreakerFlapping')!.expr, /\[15m\][\s\S]*>= 3$/);
  t.match(byName.get('BreakwaterSpoolFilling')!.expr, /\(0\.8 \* max by \(namespace, pod\) \(breakwater_spool_max_bytes\)\)/);
  t.match(byName.get('BreakwaterBreakerOpen')!.annotations!.summary, '{{ $labels.dependency }}');
});

t.test('promtool: the rules check, and alerts.promtest.yaml passes', async (t) => {
  const spec = await ruleSpec();
  await withTempDir(async (dir) => {
    const rules = path.join(dir, 'rules.yaml');
    const tests = path.join(dir, 'alerts.promtest.yaml');
    await writeFile(rules, stringify(spec));
    await copyFile(PROMTEST, tests);

    const check = await run(promtool(), ['check', 'rules', rules]);
    t.equal(check.code, 0, said(check.code === 0, 'promtool check rules rules.yaml exits 0', check));
    const counted = `SUCCESS: ${ALERTS.length} rules found`;
    t.match(check.stdout, counted, said(check.stdout.includes(counted), `promtool check rules: "${counted}"`, check));

    // rule_files in the test file are relative to it: rules.yaml next to it
    const test = await run(promtool(), ['test', 'rules', tests]);
    t.equal(test.code, 0, said(test.code === 0, 'promtool test rules alerts.promtest.yaml exits 0', test));
    t.match(test.stdout, 'SUCCESS', said(test.stdout.includes('SUCCESS'), 'promtool test rules: SUCCESS', test));
  });
});

t.test('every alert has a promtool case where it fires and one where it does not', async (t) => {
  const names = alertRules(await ruleSpec()).map((a) => a.alert!);
  const file = parse(await readFile(PROMTEST, 'utf8')) as {
    rule_files: string[];
    tests: Array<{ name?: string; alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] | null }> }>;
  };
  t.same(file.rule_files, ['rules.yaml']);
  const fires = new Set<string>();
  const quiet = new Set<string>();
  for (const test of file.tests) {
    for (const c of test.alert_rule_test ?? []) {
      t.ok(names.includes(c.alertname), `"${test.name}" tests ${c.alertname}, an alert the rules have (a typo would pass with no alerts)`);
      ((c.exp_alerts ?? []).length > 0 ? fires : quiet).add(c.alertname);
    }
  }
  for (const name of names) {
    t.ok(fires.has(name), `${name}: a case where it fires (exp_alerts not empty)`);
    t.ok(quiet.has(name), `${name}: a case where it does not fire (exp_alerts: [])`);
  }
});

t.test('the Grafana dashboard ConfigMap', async (t) => {
  const { cm, model } = await dashboard();
  t.equal(cm.apiVersion, 'v1');
  t.equal(cm.metadata.labels.grafana_dashboard, '1', 'the label Grafana\'s dashboard sidecar loads');
  t.equal(cm.metadata.labels['app.kubernetes.io/name'], 'breakwater');
  t.equal(model.uid, 'breakwater');
  t.ok(model.schemaVersion >= 36, `schemaVersion ${model.schemaVersion}`);

  const vars = new Map<string, Record<string, any>>(model.templating.list.map((v: Record<string, any>) => [v.name, v]));
  t.match(vars.get('datasource'), { type: 'datasource', query: 'prometheus' });
  for (const name of ['namespace', 'pod', 'dependency']) {
    t.match(vars.get(name), { type: 'query', datasource: { uid: '${datasource}' } }, `variable ${name}`);
    t.match(vars.get(name)?.definition, new RegExp(`^label_values\\(breakwater_breaker_state.*, ${name}\\)$`), `variable ${name}: label_values`);
  }

  const panels = (model.panels as Panel[]).filter((p) => p.type !== 'row');
  t.ok(panels.length >= 8, `${panels.length} panels`);
  t.same(new Set((model.panels as Panel[]).map((p) => p.id)).size, model.panels.length, 'panel ids are unique');
  for (const p of panels) {
    t.ok(p.targets && p.targets.length > 0, `${p.title}: has queries`);
    for (const q of p.targets ?? []) {
      if (/\b(rate|increase)\(/.test(q.expr)) t.match(q.expr, /\[\$__rate_interval\]/, `${p.title} ${q.refId}: rates over $__rate_interval`);
      t.notMatch(q.legendFormat ?? '', /\{\{`|<no value>/, `${p.title} ${q.refId}: legend escaped for Helm`);
    }
  }
  const titles = panels.map((p) => p.title);
  for (const want of [/breaker state/i, /outcome/i, /latency/i, /fallback/i, /health/i, /readiness/i, /spool size/i, /oldest/i, /cdc lag/i, /event age/i, /rows written/i, /dead-letter/i]) {
    t.ok(titles.some((x) => want.test(x)), `a panel for ${want}`);
  }
  const latency = panels.find((p) => /latency/i.test(p.title))!;
  t.same(
    latency.targets!.map((q) => /histogram_quantile\((0\.\d+), sum by \(dependency, le\) \(rate\(breakwater_call_duration_seconds_bucket\{/.exec(q.expr)?.[1]),
    ['0.5', '0.9', '0.99'],
    'latency p50, p90, p99',
  );
  t.match(
    panels.find((p) => /outcome/i.test(p.title))!.targets![0]!.legendFormat,
    '{{dependency}} {{outcome}}',
    'Grafana legend templates survive Helm',
  );
});

t.test('promtool parses every dashboard query (variables filled in)', async (t) => {
  const { model } = await dashboard();
  const rules: Rule[] = [];
  for (const p of model.panels as Panel[]) {
    for (const q of p.targets ?? []) {
      const expr = q.expr.replaceAll('$__rate_interval', '1m').replace(/\$(namespace|pod|dependency)\b/g, '.*');
      t.notMatch(expr, /\$/, `panel ${p.id} ${q.refId}: no variable left`);
      rules.push({ record: `breakwater_dashboard:panel${p.id}_${q.refId}`, expr });
    }
  }
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'dashboard-queries.yaml');
    await writeFile(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = await run(promtool(), ['check', 'rules', file]);
    t.equal(r.code, 0, said(r.code === 0, `promtool check rules: the dashboard's ${rules.length} queries parse`, r));
  });
});

t.test('the rules and the dashboard use only metrics breakwater exports', async (t) => {
  // Exported: the breakwater_* names written as string literals in src (prom-client and
  // CollectedFamily registrations).
  const exported = new Set<string>();
  const srcFiles = (await readdir(path.join(ROOT, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  for (const f of srcFiles) {
    for (const m of (await readFile(path.join(ROOT, 'src', f), 'utf8')).matchAll(/['"`](breakwater_[a-z0-9_]+)['"`]/g)) exported.add(m[1]!);
  }
  const used = new Set<string>();
  const collect = (text: string): void => {
    for (const m of text.matchAll(/\bbreakwater_[a-z0-9_]+/g)) used.add(m[0].replace(/_(bucket|sum|count)$/, ''));
  };
  for (const a of alertRules(await ruleSpec())) collect(`${a.expr}\n${Object.values(a.annotations ?? {}).join('\n')}`);
  const { model } = await dashboard();
  for (const p of model.panels as Panel[]) for (const q of p.targets ?? []) collect(q.expr);
  for (const v of model.templating.list as Array<{ definition?: string }>) collect(v.definition ?? '');
  t.ok(used.size > 15, `${used.size} metric names used`);
  for (const name of [...used].sort()) t.ok(exported.has(name), `${name} is exported by src/`);
});
