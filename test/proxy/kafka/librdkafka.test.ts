// The Kafka proxy with a librdkafka client that negotiates FLEXIBLE protocol versions
// (confluent-kafka's bundled librdkafka 2.x; Debian's kcat stays on Metadata v4 / Produce v7 /
// Fetch v11): admin, producer and consumer group through breakwater's bootstrap address, and
// which api versions the client used (from librdkafka's debug=protocol lines).
// Needs `bash test/services/rdkafka-install.sh` (npm test runs it).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { withKafka } from '../../services/index.js';
import { CONFLUENT_KAFKA_VERSION, findRdkafkaPython, runRdkafka, type RdkafkaResult } from '../../services/rdkafka.js';
import type { Breakwater } from '../../support/breakwater.js';
import { requests, sidecar } from './helpers.js';
import { fileTimeoutAtLeast } from '../../support/file-timeout.js';

// Kafka starts, stops and rebalances: far over tap's default 30 s per file (never lower a larger one).
fileTimeoutAtLeast(t, 240_000);

/** The versions the proxy narrows ApiVersions to (src/proxy/kafka/rewrite.ts), by librdkafka's api names. */
const NARROWED: Record<string, number> = { Produce: 9, Fetch: 15, Metadata: 13, FindCoordinator: 6, ApiVersion: 4 };
const COUNT = 200;
const KEYS = 10;

type Versions = Record<string, number[]>;

interface ApiVersionsReport {
  used: Versions;
  flexible: Versions;
  supported: Record<string, Record<string, [number, number]>>;
}

function merge(into: Versions, from: Versions | undefined): Versions {
  for (const [api, vs] of Object.entries(from ?? {})) into[api] = [...new Set([...(into[api] ?? []), ...vs])].sort((a, b) => a - b);
  return into;
}

const fmt = (v: Versions): string =>
  Object.entries(v)
    .map(([api, vs]) => `${api} v${vs.join(',v')}`)
    .join('; ');

/** What to look at when a step fails: the script's result, librdkafka's error-ish debug lines, breakwater's warnings. */
function diagnose(t: Test, step: string, r: RdkafkaResult, bw: Breakwater): void {
  t.comment(`--- ${step}: exit ${r.code}, result ${JSON.stringify({ ...r.json, api_versions: undefined, messages: undefined, values: undefined })}`);
  const lines = r.stderr.split('\n');
  const interesting = lines.filter((l) => /error|fail|unsupported|disconnect|timed? ?out|refused|invalid|mismatch|corrupt|parse|Broker API support|ApiKey (Metadata|Produce|Fetch|ApiVersion|FindCoordinator|DescribeCluster)\b/i.test(l));
  t.comment(`--- ${step}: librdkafka debug lines (${interesting.length} of ${lines.length} matching error/version patterns, last 60):\n${interesting.slice(-60).join('\n')}`);
  const warn = bw.logs.filter((l) => /^(warn|error|fatal)$/.test(String(l.level)) || Number(l.level) >= 40 || /kafka/i.test(String(l.msg)));
  t.comment(`--- ${step}: breakwater log lines (warn+ or kafka, last 40):\n${warn.slice(-40).map((l) => JSON.stringify(l)).join('\n')}`);
}

t.test('rdkafka-install.sh pins the confluent-kafka version rdkafka.ts looks for', async (t) => {
  const installer = readFileSync(fileURLToPath(new URL('../../../../test/services/rdkafka-install.sh', import.meta.url)), 'utf8');
  t.equal(/^CONFLUENT_KAFKA_VERSION=(\S+)$/m.exec(installer)?.[1], CONFLUENT_KAFKA_VERSION, 'same version in rdkafka-install.sh and rdkafka.ts');
});

t.test('librdkafka (confluent-kafka) with flexible versions: admin, producer, consumer group through breakwater', async (t) => {
  findRdkafkaPython(); // a clear "run bash test/services/rdkafka-install.sh" before Kafka starts
  const k = await withKafka(t);
  const { bw, bootstrap } = await sidecar(t, k.brokers);
  const metadataBefore = await requests(bw, 'Metadata');
  const topic = 'rd-orders';
  const used: Versions = {};
  const supported: Record<string, [number, number]> = {};
  const collect = (r: RdkafkaResult): void => {
    const av = r.json?.api_versions as ApiVersionsReport | undefined;
    merge(used, av?.used);
    for (const apis of Object.values(av?.supported ?? {})) {
      for (const [api, range] of Object.entries(apis)) {
        const cur = supported[api];
        supported[api] = cur ? [Math.min(cur[0], range[0]), Math.max(cur[1], range[1])] : range;
      }
    }
  };

  // --- admin: create a 3-partition topic, list topics, describe the cluster
  const admin = await runRdkafka(['admin', bootstrap, topic, '3', '--versions', '--timeout', '20'], { timeoutMs: 60_000 });
  collect(admin);
  t.comment(`librdkafka ${admin.json?.librdkafka} (confluent-kafka ${admin.json?.confluent_kafka})`);
  t.equal(admin.json?.confluent_kafka, CONFLUENT_KAFKA_VERSION, `the venv has confluent-kafka ${CONFLUENT_KAFKA_VERSION}`);
  t.comment(`admin used: ${fmt(admin.json?.api_versions?.used ?? {})}`);
  if (!t.equal(admin.code, 0, 'admin: topic created and listed through breakwater')) diagnose(t, 'admin', admin, bw);
  t.same(admin.json?.errors, [], 'admin: no errors');
  t.equal(admin.json?.topics?.[topic]?.partitions, 3, 'admin: the topic has 3 partitions');
  const advertised: string[] = Object.values((admin.json?.brokers ?? {}) as Record<string, string>);
  t.ok(advertised.length >= 1, `admin: metadata lists brokers (${advertised.join(', ')})`);
  for (const b of [...advertised, ...((admin.json?.cluster?.nodes ?? []) as string[])]) {
    t.notOk(k.brokers.includes(b), `broker address ${b} is breakwater's, not the real broker's (${k.brokers.join(', ')})`);
  }
  t.ok(admin.json?.cluster?.cluster_id, `admin: describe_cluster through breakwater (cluster ${admin.json?.cluster?.cluster_id}, nodes ${admin.json?.cluster?.nodes})`);

  // --- produce 200 keyed messages
  const prod = await runRdkafka(['produce', bootstrap, topic, String(COUNT), '--keys', String(KEYS), '--versions', '--timeout', '30'], { timeoutMs: 60_000 });
  collect(prod);
  t.comment(`produce used: ${fmt(prod.json?.api_versions?.used ?? {})}`);
  if (!t.equal(prod.json?.delivered, COUNT, `produce: all ${COUNT} delivery reports are successes`)) diagnose(t, 'produce', prod, bw);
  t.same(prod.json?.errors, [], 'produce: no delivery errors');
  t.equal(prod.code, 0, 'produce: exit 0');
  t.comment(`produce: per partition ${JSON.stringify(prod.json?.partitions)}`);

  // --- consume them with a consumer group
  const cons = await runRdkafka(['consume', bootstrap, topic, 'rd-g1', String(COUNT), '60', '--versions'], { timeoutMs: 90_000 });
  collect(cons);
  t.comment(`consume used: ${fmt(cons.json?.api_versions?.used ?? {})}`);
  const msgs = (cons.json?.messages ?? []) as { partition: number; offset: number; key: string; value: string }[];
  if (!t.equal(msgs.length, COUNT, `consume: the group read all ${COUNT} messages`)) diagnose(t, 'consume', cons, bw);
  t.equal(cons.code, 0, 'consume: exit 0');
  const expected = Array.from({ length: COUNT }, (_, i) => `k${i % KEYS}:${i}`);
  t.same([...msgs.map((m) => m.value)].sort(), [...expected].sort(), 'consume: exactly the produced values, none twice');
  // per key: one partition, produce order
  const byKey = new Map<string, { partitions: Set<number>; seq: number[] }>();
  for (const m of msgs) {
    const e = byKey.get(m.key) ?? { partitions: new Set<number>(), seq: [] };
    e.partitions.add(m.partition);
    e.seq.push(Number(m.value.split(':')[1]));
    byKey.set(m.key, e);
  }
  const disordered = [...byKey].filter(([, e]) => e.partitions.size !== 1 || e.seq.some((v, i) => i > 0 && v <= e.seq[i - 1]!));
  t.same(disordered.map(([key]) => key), [], `consume: every key (${byKey.size}) on one partition, in produce order`);
  const committed = (cons.json?.committed ?? []) as { partition: number; offset: number }[];
  t.equal(
    committed.reduce((n, c) => n + Math.max(0, c.offset), 0),
    COUNT,
    `consume: committed offsets add up to ${COUNT} (${JSON.stringify(committed)})`,
  );
  t.same(cons.json?.errors, [], 'consume: no errors');

  // --- the versions: flexible ones used, none above what the proxy advertises
  t.comment(`versions used through breakwater: ${fmt(used)}`);
  t.comment(`versions breakwater advertised (ApiVersions): ${Object.entries(supported).map(([api, [lo, hi]]) => `${api} ${lo}..${hi}`).join('; ')}`);
  const max = (api: string): number => Math.max(-1, ...(used[api] ?? []));
  t.ok(max('Metadata') >= 9 || (used.Produce ?? []).includes(9) || max('Fetch') >= 12, `a flexible Metadata (>=9), Produce (9) or Fetch (>=12) version was used (Metadata ${used.Metadata}, Produce ${used.Produce}, Fetch ${used.Fetch})`);
  for (const [api, limit] of Object.entries(NARROWED)) {
    t.ok(max(api) <= limit, `${api}: used v${used[api] ?? '-'}, within the narrowed 0..${limit}`);
    if (supported[api]) t.ok(supported[api]![1] <= limit, `${api}: breakwater advertised ..${supported[api]![1]} (narrowed to ${limit})`);
  }

  const metadataAfter = await requests(bw, 'Metadata');
  t.ok(metadataAfter > metadataBefore, `breakwater_kafka_requests_total{api="Metadata"} grew (${metadataBefore} -> ${metadataAfter})`);
  t.ok((await requests(bw, 'Produce')) >= 1, 'Produce requests counted');
  t.ok((await requests(bw, 'Fetch')) >= 1, 'Fetch requests counted');
  t.equal((await bw.get('/status')).body.dependencies.kafka.breaker.state, 'closed', 'the breaker stayed closed');
});

t.test('librdkafka: idempotent producer (InitProducerId), KIP-848 consumer group (ConsumerGroupHeartbeat) through breakwater; share groups not offered', async (t) => {
  findRdkafkaPython();
  const k = await withKafka(t);
  const { bw, bootstrap } = await sidecar(t, k.brokers);
  const topic = 'rd-idem';
  const n = 100;
  const admin = await runRdkafka(['admin', bootstrap, topic, '3', '--timeout', '20'], { timeoutMs: 60_000 });
  if (!t.equal(admin.code, 0, 'admin: topic created through breakwater')) diagnose(t, 'admin', admin, bw);

  const prod = await runRdkafka(['produce', bootstrap, topic, String(n), '--idempotence', '--versions', '--timeout', '30'], { timeoutMs: 60_000 });
  t.comment(`idempotent produce used: ${fmt(prod.json?.api_versions?.used ?? {})}`);
  if (!t.equal(prod.json?.delivered, n, `idempotent produce: all ${n} delivered`)) diagnose(t, 'idempotent produce', prod, bw);
  t.ok((prod.json?.api_versions?.used?.InitProducerId ?? []).length > 0, 'idempotent produce: InitProducerId went through breakwater');
  t.same(prod.json?.errors, [], 'idempotent produce: no delivery errors');

  const cons = await runRdkafka(['consume', bootstrap, topic, 'rd-g848', String(n), '60', '--group-protocol', 'consumer', '--versions'], { timeoutMs: 90_000 });
  t.comment(`KIP-848 consume used: ${fmt(cons.json?.api_versions?.used ?? {})}`);
  const values = (cons.json?.values ?? []) as string[];
  if (!t.equal(values.length, n, `KIP-848 consume: the group read all ${n} messages`)) diagnose(t, 'KIP-848 consume', cons, bw);
  t.same([...values].sort(), Array.from({ length: n }, (_, i) => `k${i % KEYS}:${i}`).sort(), 'KIP-848 consume: exactly the produced values');
  t.ok((cons.json?.api_versions?.used?.ConsumerGroupHeartbeat ?? []).length > 0, 'KIP-848 consume: ConsumerGroupHeartbeat went through breakwater');
  t.same(cons.json?.errors, [], 'KIP-848 consume: no errors');
  const fetchThrough = Math.max(-1, ...((cons.json?.api_versions?.used?.Fetch ?? []) as number[]));
  t.ok(fetchThrough >= 12 && fetchThrough <= NARROWED.Fetch!, `Fetch through breakwater: v${fetchThrough}, flexible and within 0..${NARROWED.Fetch}`);

  // control: the same client straight at Kafka, to show what the narrowing changes
  const direct = await runRdkafka(['consume', k.brokers[0]!, topic, 'rd-g848-direct', String(n), '60', '--group-protocol', 'consumer', '--versions'], { timeoutMs: 90_000 });
  t.equal(direct.json?.values?.length, n, 'control: the same consumer straight at Kafka reads them too');
  t.comment(`control, straight at Kafka (no breakwater): ${fmt(direct.json?.api_versions?.used ?? {})}`);

  // KIP-932 share groups: ShareFetch/ShareAcknowledge responses carry NodeEndpoints (real broker
  // addresses) that breakwater does not rewrite, so ApiVersions through breakwater leaves the
  // share-group apis out and clients never learn an address that bypasses it.
  const advertised = Object.values(prod.json?.api_versions?.supported ?? {}) as Record<string, [number, number]>[];
  t.ok(advertised.length > 0, 'the ApiVersions ranges breakwater advertised were recorded');
  const shareApis = ['ShareGroupHeartbeat', 'ShareGroupDescribe', 'ShareFetch', 'ShareAcknowledge'];
  t.same(
    advertised.flatMap((s) => shareApis.filter((api) => api in s)),
    [],
    'share-group apis (76-79) are not offered through breakwater',
  );
  t.equal((await bw.get('/status')).body.dependencies.kafka.breaker.state, 'closed', 'the breaker stayed closed');
});
