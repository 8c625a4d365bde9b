// The Helm charts, checked by the real tools: helm lint and template for every values file, the
// rendered manifests validated against the Kubernetes API's schemas (kubeconform, strict) and the
// Prometheus Operator's CRDs, the pods against the restricted Pod Security Standard
// (k8s.io/pod-security-admission), the config the chart renders against breakwater's own
// check-config; and what a platform team relies on: native vs plain sidecar, probes, the startup
// gate, the checksum that rolls pods, the app's environment, the spool volume, the monitors.
import t from 'tap';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { CLI } from '../support/breakwater.js';
import { writeCrdSchemas } from './crd-schemas.js';
import { CHARTS, crdDir, findDoc, helm, preparedExampleApp, renderExampleApp, run, schemaDir, tool, withTempDir, type Rendered } from './tools.js';

type Obj = Record<string, any>;

const CASES: Array<{ name: string; values?: string[]; set?: string[]; kubeVersion: string; native: boolean; kind: string }> = [
  { name: 'values.yaml on Kubernetes 1.31', kubeVersion: '1.31.0', native: true, kind: 'Deployment' },
  { name: 'values-staging.yaml on 1.31', values: ['values-staging.yaml'], kubeVersion: '1.31.0', native: true, kind: 'Deployment' },
  { name: 'values-production.yaml on 1.35', values: ['values-production.yaml'], kubeVersion: '1.35.0', native: true, kind: 'StatefulSet' },
  { name: 'values.yaml on 1.28 (auto: a plain container)', kubeVersion: '1.28.0', native: false, kind: 'Deployment' },
  { name: 'nativeSidecar: false on 1.31', set: ['breakwater.nativeSidecar=false'], kubeVersion: '1.31.0', native: false, kind: 'Deployment' },
];

let crdSchemas: Promise<string> | undefined;
async function kubeconform(text: string, kubeVersion: string): Promise<{ code: number | null; out: string }> {
  crdSchemas ??= mkdtemp(path.join(os.tmpdir(), 'breakwater-crd-schemas-')).then((dir) => {
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return writeCrdSchemas(crdDir(), dir);
  });
  const schemaLocations = [path.join(schemaDir(), '{{ .NormalizedKubernetesVersion }}-local-strict', '{{ .ResourceKind }}{{ .KindSuffix }}.json'), await crdSchemas];
  const args = ['-strict', '-summary', '-output', 'text', '-kubernetes-version', kubeVersion, ...schemaLocations.flatMap((l) => ['-schema-location', l]), '-'];
  const r = await run(tool('kubeconform'), args, { input: text });
  return { code: r.code, out: r.stdout + r.stderr };
}

function podSpec(r: Rendered, kind: string): Obj {
  return findDoc(r, kind).spec.template.spec;
}

function sidecar(spec: Obj, native: boolean): Obj {
  const list: Obj[] = (native ? spec.initContainers : spec.containers) ?? [];
  const c = list.find((x) => x.name === 'breakwater');
  if (!c) throw new Error(`no breakwater container in ${native ? 'initContainers' : 'containers'}`);
  return c;
}

function configOf(r: Rendered): Obj {
  return parse(findDoc(r, 'ConfigMap', 'feed-breakwater').data['config.yaml']) as Obj;
}

t.test('helm lint: the library chart and the example app with each values file', async (t) => {
  const lib = await helm(['lint', path.join(CHARTS, 'breakwater')]);
  t.equal(lib.code, 0, `helm lint charts/breakwater:\n${lib.stdout}${lib.stderr}`);
  t.notMatch(lib.stdout, /\[(ERROR|WARNING)\]/, 'the library: no errors or warnings');
  const app = await preparedExampleApp(); // lint needs the library in the app's charts/
  for (const values of [[], ['values-staging.yaml'], ['values-production.yaml']]) {
    const r = await helm(['lint', app, '--strict', '--kube-version', '1.31.0', ...values.flatMap((v) => ['-f', path.join(app, v)])]);
    const label = values.join(' ') || 'values.yaml';
    t.equal(r.code, 0, `helm lint --strict example-app (${label}):\n${r.stdout}${r.stderr}`);
    t.notMatch(r.stdout, /\[(ERROR|WARNING)\]/, `example-app (${label}): no errors or warnings`);
  }
});

for (const c of CASES) {
  t.test(`${c.name}: renders, validates against the API schemas, passes restricted PSS`, async (t) => {
    const r = await renderExampleApp({ values: c.values, set: c.set, kubeVersion: c.kubeVersion });
    const kc = await kubeconform(r.text, c.kubeVersion);
    t.equal(kc.code, 0, `kubeconform -strict (Kubernetes ${c.kubeVersion}):\n${kc.out}`);
    t.match(kc.out, new RegExp(`${r.docs.length} resources found .* Valid: ${r.docs.length}, Invalid: 0, Errors: 0, Skipped: 0`), 'every document validated, none skipped');
    const pss = await run(tool('pss-check'), ['-'], { input: r.text });
    t.equal(pss.code, 0, `pss-check (restricted:latest):\n${pss.stdout}${pss.stderr}`);
    t.match(pss.stdout, new RegExp(`PASS ${c.kind}/feed`));

    const spec = podSpec(r, c.kind);
    const bw = sidecar(spec, c.native);
    const cfg = configOf(r);
    const adminPort = Number(String(cfg.admin.listen).split(':').pop());
    t.equal(cfg.admin.listen, '0.0.0.0:9901', 'admin listens on the pod IP for the kubelet and Prometheus');
    t.same(bw.ports, [{ name: 'bw-admin', containerPort: adminPort, protocol: 'TCP' }]);
    t.same(
      [bw.startupProbe.httpGet, bw.readinessProbe.httpGet, bw.livenessProbe.httpGet],
      [{ path: '/startupz', port: 'bw-admin' }, { path: '/readyz', port: 'bw-admin' }, { path: '/livez', port: 'bw-admin' }],
      'startup, readiness and liveness probes on the admin port',
    );
    t.same(bw.args, ['start', '--config', '/etc/breakwater/config.yaml']);
    t.match(bw.securityContext, { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    if (c.native) {
      t.equal(bw.restartPolicy, 'Always', 'a native sidecar: an init container with restartPolicy Always');
      t.notOk(spec.containers.some((x: Obj) => x.name === 'breakwater'), 'not also among the containers');
      t.notOk(bw.lifecycle, 'no hooks: the kubelet orders native sidecars itself');
    } else {
      t.equal(spec.containers[0].name, 'breakwater', 'a plain container, listed first');
      t.notOk(bw.restartPolicy, 'no restartPolicy on a plain container');
      t.notOk((spec.initContainers ?? []).some((x: Obj) => x.name === 'breakwater'));
      t.same(bw.lifecycle.postStart.exec.command, ['node', '/app/dist/src/cli/main.js', 'await-startup', '--admin', `127.0.0.1:${adminPort}`, '--timeout', '90s'], 'postStart holds the app until /startupz passes');
      t.same(bw.lifecycle.preStop.exec.command, ['sleep', '5'], 'preStop keeps serving while the app drains');
    }
    const startupBudget = bw.startupProbe.periodSeconds * bw.startupProbe.failureThreshold;
    t.ok(startupBudget * 1000 > parseMs(cfg.startup.timeout), `the startup probe (${startupBudget}s) outlasts startup.timeout (${cfg.startup.timeout})`);

    const app = spec.containers.find((x: Obj) => x.name === 'app');
    const env = Object.fromEntries((app.env as Obj[]).map((e) => [e.name, e.value]));
    t.same(
      env,
      {
        CLICKHOUSE_URL: `http://${cfg.dependencies.clickhouse.listen}`,
        REDIS_URL: `redis://${cfg.dependencies.redis.listen}`,
        KAFKA_BROKERS: cfg.dependencies.kafka.listen,
        NEO4J_URI: `bolt://${cfg.dependencies.neo4j.listen}`,
      },
      'the app points at the local listeners',
    );
    t.equal(cfg.spool.dir, '/var/lib/breakwater/spool');
    t.ok(bw.volumeMounts.some((m: Obj) => m.name === 'breakwater-spool' && m.mountPath === cfg.spool.dir), 'the spool dir is a volume');
    t.ok(bw.volumeMounts.some((m: Obj) => m.mountPath === '/tmp'), '/tmp is writable with a read-only root');

    const annotations = findDoc(r, c.kind).spec.template.metadata.annotations as Obj;
    const configText = findDoc(r, 'ConfigMap', 'feed-breakwater').data['config.yaml'] as string;
    t.equal(annotations['checksum/breakwater-config'], createHash('sha256').update(configText.replace(/\n$/, '')).digest('hex'), 'the checksum is the config\'s');

    // breakwater itself accepts the config the chart renders
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'config.yaml');
      await writeFile(file, configText);
      const check = spawnSync(process.execPath, [CLI, 'check-config', '--config', file], { encoding: 'utf8', env: { ...process.env, BREAKWATER_ENV: '', NEO4J_PASSWORD: 'from-the-secret' } });
      t.equal(check.status, 0, `breakwater check-config accepts the rendered config:\n${check.stderr}`);
    });
  });
}

function parseMs(d: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm'];
}

t.test('the config checksum rolls the pods when, and only when, the config changes', async (t) => {
  const sum = async (set: string[]) => findDoc(await renderExampleApp({ set }), 'Deployment').spec.template.metadata.annotations['checksum/breakwater-config'];
  const base = await sum([]);
  t.equal(await sum([]), base, 'stable across renders');
  t.equal(await sum(['replicas=7', 'image.tag=2.0.0']), base, 'app-only changes keep it');
  t.not(await sum(['breakwater.config.dependencies.clickhouse.timeout=9s']), base, 'a config change changes it');
});

t.test('production: a StatefulSet with a spool claim per pod, PodMonitor, rules and dashboard', async (t) => {
  const r = await renderExampleApp({ values: ['values-production.yaml'] });
  const sts = findDoc(r, 'StatefulSet');
  t.same(
    sts.spec.volumeClaimTemplates,
    [{ metadata: { name: 'breakwater-spool' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } } }],
    'the spool is a volume claim template',
  );
  t.notOk((sts.spec.template.spec.volumes as Obj[]).some((v) => v.name === 'breakwater-spool'), 'and not also a pod volume');
  t.equal(sts.spec.template.spec.securityContext.fsGroup, 10001, 'the claim is writable by breakwater');
  const pod = sts.spec.template.metadata;
  t.notOk(pod.annotations['prometheus.io/scrape'], 'no scrape annotations: the PodMonitor scrapes');
  const pm = findDoc(r, 'PodMonitor');
  for (const [k, v] of Object.entries(pm.spec.selector.matchLabels as Obj)) t.equal(pod.labels[k], v, `the PodMonitor selects the pods (${k})`);
  t.same(pm.spec.podMetricsEndpoints, [{ port: 'bw-admin', path: '/metrics', interval: '15s' }]);
  t.equal(pm.metadata.labels.release, 'kube-prometheus-stack', 'the label the operator selects on');
  t.ok(findDoc(r, 'PrometheusRule').spec.groups.length > 0, 'alert rules');
  t.equal(findDoc(r, 'ConfigMap', 'feed-breakwater-dashboard').metadata.labels.grafana_dashboard, '1', 'a dashboard the Grafana sidecar loads');
  t.same(configOf(r).dependencies.clickhouse.upstream, ['http://clickhouse-0.clickhouse.prod.svc:8123', 'http://clickhouse-1.clickhouse.prod.svc:8123'], 'production upstreams');
  t.equal(configOf(r).startup.onTimeout, 'exit');

  const dflt = await renderExampleApp();
  t.match(findDoc(dflt, 'Deployment').spec.template.metadata.annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9901', 'prometheus.io/path': '/metrics' }, 'by default: scrape annotations');
  t.notOk(dflt.docs.some((d) => d.kind === 'PodMonitor' || d.kind === 'PrometheusRule'), 'and no operator resources');
  t.equal(configOf(await renderExampleApp({ values: ['values-staging.yaml'] })).startup.onTimeout, 'serve-unready', 'staging comes up unready instead');
});

t.test('an existing claim for the spool', async (t) => {
  const r = await renderExampleApp({ set: ['breakwater.spool.persistence=existingClaim', 'breakwater.spool.existingClaim=feed-spool', 'replicas=1'] });
  t.same((podSpec(r, 'Deployment').volumes as Obj[]).find((v) => v.name === 'breakwater-spool'), { name: 'breakwater-spool', persistentVolumeClaim: { claimName: 'feed-spool' } });
});

t.test('wrong values fail the render with a message that says what to fix', async (t) => {
  const fails = async (set: string[], message: RegExp) => {
    const err = await renderExampleApp({ set }).then(
      () => undefined,
      (e: Error) => e.message,
    );
    t.match(err, message, set.join(' '));
  };
  await fails(['breakwater.nativeSidecar=maybe'], /breakwater\.nativeSidecar must be auto, true or false, found "maybe"/);
  await fails(['breakwater.spool.persistence=existingClaim'], /breakwater\.spool\.existingClaim: the name of a PersistentVolumeClaim/);
  await fails(['breakwater.spool.persistence=hostPath'], /breakwater\.spool\.persistence must be emptyDir, existingClaim or claimTemplate, found "hostPath"/);
  await fails(['breakwater.appEnv.postgres=PG_URL'], /breakwater\.appEnv\.postgres: no dependency "postgres" in breakwater\.config\.dependencies/);
});

t.test('the checks can fail: a privileged sidecar and an unknown field are caught', async (t) => {
  const r = await renderExampleApp();
  const privileged = r.text.replace('allowPrivilegeEscalation: false', 'allowPrivilegeEscalation: true\n            privileged: true');
  t.not(privileged, r.text);
  const pss = await run(tool('pss-check'), ['-'], { input: privileged });
  t.equal(pss.code, 1, 'pss-check refuses it');
  t.match(pss.stdout, /FAIL Deployment\/feed: .*privileged/);
  const typo = r.text.replace('readOnlyRootFilesystem: true', 'readOnlyRootFileSystem: true');
  const kc = await kubeconform(typo, '1.31.0');
  t.equal(kc.code, 1, 'kubeconform refuses it');
  t.match(kc.out, /additional properties 'readOnlyRootFileSystem' not allowed/);
});

t.test('the Dockerfile and the chart agree: user, entry point, port', async (t) => {
  const docker = await readFile(path.join(CHARTS, '..', 'Dockerfile'), 'utf8');
  const r = await renderExampleApp({ set: ['breakwater.nativeSidecar=false'] });
  const bw = sidecar(podSpec(r, 'Deployment'), false);
  t.match(docker, /^USER 10001:10001$/m, 'a numeric non-root user');
  t.equal(bw.securityContext.runAsUser, 10001, 'the chart runs as that user');
  t.match(docker, /^ENTRYPOINT \["node", "\/app\/dist\/src\/cli\/main\.js"\]$/m, 'exec form: node is PID 1 and gets SIGTERM');
  t.same(bw.lifecycle.postStart.exec.command.slice(0, 2), ['node', '/app/dist/src/cli/main.js'], 'the postStart hook runs the same CLI');
  t.match(docker, /^EXPOSE 9901$/m);
  t.match(docker, /^FROM node:20[^ ]* AS build$/m, 'multi-stage: a build stage');
  t.match(docker, /npm prune --omit=dev/, 'the runtime keeps only runtime dependencies');
});
