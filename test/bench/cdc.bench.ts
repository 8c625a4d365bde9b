// CDC consumer benchmark: Debezium change events for `posts` from a real Kafka into a real
// ClickHouse (18.16, Debian), sustained events/s, all scenarios in ONE run against the same
// Kafka and ClickHouse, so every ratio is against a baseline measured minutes apart. It reports;
// it never asserts timings.
//
//   npm run bench:cdc [-- options]
//   npx tsc -p tsconfig.json && node dist/test/bench/cdc.bench.js [--events N] [--schemas-events N]
//        [--no-schemas] [--no-kafka-engine] [--baseline-seconds S] [--baseline-rows M]
//        [--profile | --no-profile] [--max-wait-quiet S]
//
// 0. Pre-load: N realistic post change events (default 200,000; CDC_BENCH_EVENTS or --events)
//    into cdc.posts (3 partitions), keyed by id as Debezium does: ~80% c, 15% u, 5% d (each d
//    followed by its tombstone), random UUIDs, 50-200 character captions (some with quotes and
//    non-ASCII), image keys, MicroTimestamp created_at, growing LSNs; schemas disabled (the
//    original system's setting). kafkajs, acks=1, big batches. With schemas (the {schema,
//    payload} wrapper, ~3x bigger) a second topic cdc.posts_schemas gets --schemas-events.
// 1. breakwater: the `breakwater start` CLI with a cdc section reading cdc.posts from the
//    beginning (fresh groupId), default batch settings (rows 10000, interval 1s). Timed from the
//    consumer joining (/status cdc.state = running) until breakwater_cdc_rows_written_total
//    {table="posts_cdc"} reaches N (tombstones are not rows); then ClickHouse is checked: the
//    InsertedRows profile event grew by N during the run (nothing else inserts then) and
//    posts_cdc FINAL holds exactly the expected ids and deletes. Raw count() is shown too (it
//    is N unless a background merge already collapsed replaced rows). CPU% and RSS of the
//    sidecar sampled every 500 ms; the batch duration histogram from /metrics.
// 2. The same with schemas enabled (unless --no-schemas), into posts_cdc_schemas.
// 3. One row per INSERT (the original design): an in-bench kafkajs consumer (fresh group)
//    decodes each message with the project's decodeChange + compileRowEncoder and POSTs one
//    INSERT per row to ClickHouse, awaited, into posts_cdc_one (same DDL); for --baseline-seconds
//    (20) or --baseline-rows (5000), whichever comes first.
// 4. ClickHouse's own Kafka table engine (unless --no-kafka-engine): a Kafka table on cdc.posts
//    (kafka_format TSV, one String column: 18.16's JSONEachRow cannot map the nested envelope)
//    and a materialized view extracting the row with visitParam* into posts_cdc_kafka. Timed
//    from the view's creation until the engine's group has committed every offset. ClickHouse
//    18.16 defaults to auto.offset.reset=largest, so the bench adds
//    <kafka><auto_offset_reset>smallest</auto_offset_reset></kafka> to the server's config and
//    restarts it before anything else. If the engine does not work, the error text is reported.
// With --profile, or automatically when breakwater is under the target (unless --no-profile), a
// fresh breakwater runs under `node --cpu-prof` reading cdc.posts again (new group, new table)
// and the hottest functions are summarized.
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Kafka, logLevel, Partitioners, type Message, type Producer } from 'kafkajs';
import { decodeChange } from '../../src/cdc/debezium.js';
import { compileRowEncoder } from '../../src/cdc/row-encoder.js';
import { buildMapping, describeTable } from '../../src/cdc/table-check.js';
import type { CdcTopicConfig } from '../../src/config/schema.js';
import { applyShippedDdl, cdcYaml, postEvent, postKey, TOKEN, type PostRow } from '../cdc/helpers.js';
import { startClickHouse, type ClickHouseServer } from '../services/clickhouse.js';
import { KAFKA_VERSION, startKafka, type KafkaServer } from '../services/kafka.js';
import { freePorts } from '../services/ports.js';
import { cpuMsOfPid, memoryOf, round, sleep, startProcess, stopAll, waitQuiet, waitUntil, type Proc } from './support/procs.js';
import { summarizeProfile, type FunctionTime } from './support/profile.js';
import { benchCommit, resultFile, runMain, saveResults } from './support/results.js';
import { CLI, ROOT } from './support/sidecar.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string' },
    'schemas-events': { type: 'string' },
    'no-schemas': { type: 'boolean', default: false },
    'no-kafka-engine': { type: 'boolean', default: false },
    'baseline-seconds': { type: 'string', default: '20' },
    'baseline-rows': { type: 'string', default: '5000' },
    profile: { type: 'boolean', default: false },
    'no-profile': { type: 'boolean', default: false },
    'max-wait-quiet': { type: 'string', default: '60' },
  },
});

const N = Math.max(1000, Number(args.events ?? process.env.CDC_BENCH_EVENTS ?? 200_000) || 200_000);
const D = {
  events: N,
  schemasEvents: args['no-schemas'] ? 0 : Math.max(1000, Number(args['schemas-events'] ?? Math.round(N / 2)) || Math.round(N / 2)),
  partitions: 3,
  mix: { c: 0.8, u: 0.15, d: 0.05 },
  batch: { rows: 10_000, interval: '1s' },
  baselineSeconds: Math.max(1, Number(args['baseline-seconds']) || 20),
  baselineRows: Math.max(1, Number(args['baseline-rows']) || 5000),
  kafkaEngine: !args['no-kafka-engine'],
  /** give up on one scenario after this long */
  scenarioTimeoutSec: 600,
};
const TARGET_EVENTS_PER_SEC = 20_000;
const TOPIC = 'cdc.posts';
const TOPIC_SCHEMAS = 'cdc.posts_schemas';

// ------------------------------------------------------------------------------- results

interface Scenario {
  name: string;
  /** change events (rows) the scenario wrote */
  events: number;
  seconds: number;
  eventsPerSec: number;
  /** ratio to the one-row-per-insert baseline of this run */
  vsOneRow?: number;
  /** CPU of the process doing the work (breakwater, the bench process, ClickHouse for its engine), % of one core */
  cpuPct?: number;
  rssMiB?: number;
  rssPeakMiB?: number;
  clickhouseCpuPct: number;
  kafkaCpuPct: number;
  note?: string;
  error?: string;
}

interface BreakwaterDetail {
  scenario: string;
  table: string;
  /** from spawning the CLI to the consumer joining its group */
  startupSec: number;
  secondsInclStartup: number;
  rowsWritten: number;
  events: Record<string, number>;
  deadLettered: number;
  writeFailures: number;
  batches: { count: number; meanMs: number; p50Ms: number; p99Ms: number; buckets: Record<string, number> };
  cpuPctSamples: number[];
  rssMiBSamples: number[];
  clickhouse: { insertedRows: number; rawCount: number; finalCount: number; finalDeleted: number; expectedIds: number; expectedDeleted: number; agrees: boolean };
}

interface PreloadInfo {
  topic: string;
  events: number;
  messages: number;
  tombstones: number;
  ops: Record<string, number>;
  bytes: number;
  avgValueBytes: number;
  seconds: number;
  msgPerSec: number;
}

interface KafkaEngineDetail {
  supported: boolean;
  ddl: string[];
  consumedMessages?: number;
  rowsInTable?: number;
  finalCount?: number;
  finalDeleted?: number;
  captionsDiffering?: number;
  lsnMatches?: boolean;
  /** when the engine's group had committed every offset (the rows may become visible later) */
  committedAfterSec?: number;
  /** the InsertedRows profile event's growth during the scenario */
  insertedRows?: number;
  /** rows whose id the view could not extract (the zero UUID) */
  zeroIdRows?: number;
  /** ClickHouse's error log when rows are missing */
  errorLog?: string;
  error?: string;
  gaps: string[];
}

interface Results {
  bench: 'cdc';
  startedAt: string;
  finishedAt?: string;
  command: string;
  host: Record<string, unknown>;
  settings: typeof D;
  target: { eventsPerSec: number; met?: boolean };
  preload: PreloadInfo[];
  scenarios: Scenario[];
  breakwater: BreakwaterDetail[];
  baseline?: { rows: number; seconds: number; insertLatencyMs: { p50: number; p99: number; max: number }; benchCpuPct: number; partsAtEnd: number };
  kafkaEngine?: KafkaEngineDetail;
  profile?: { file: string; eventsPerSec: number; busyPct: number; areas: Record<string, number>; topSelf: FunctionTime[]; breakwaterSelf: FunctionTime[]; breakwaterTotal: FunctionTime[] };
  config?: string;
  error?: string;
}

const results: Results = {
  bench: 'cdc',
  startedAt: new Date().toISOString(),
  command: `npm run bench:cdc${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}${process.env.CDC_BENCH_EVENTS ? ` (CDC_BENCH_EVENTS=${process.env.CDC_BENCH_EVENTS})` : ''}`,
  host: {},
  settings: D,
  target: { eventsPerSec: TARGET_EVENTS_PER_SEC },
  preload: [],
  scenarios: [],
  breakwater: [],
};

const say = (s: string): void => void process.stdout.write(`${s}\n`);
const heading = (s: string): void => say(`\n== ${s}`);

function percentileOf(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const median = (xs: number[]): number => percentileOf([...xs].sort((a, b) => a - b), 50);

function kafkaClient(brokers: readonly string[], clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [...brokers], logLevel: logLevel.NOTHING, connectionTimeout: 3000, requestTimeout: 30_000, retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 } });
}

// ------------------------------------------------------------------------------- realistic posts

const WORDS = (
  'the a sunset over lake morning coffee with friends new recipe tried today weekend hiking trail ' +
  'city lights after rain my dog finally learned fetch throwback to summer road trip best pizza in town ' +
  'garden update tomatoes are growing first marathon done thank you all for the support late night coding ' +
  'session concert was amazing beach day family dinner birthday cake homemade bread cozy autumn vibes ' +
  'museum visit street art found this little café reading list book club snowy mountains photo dump'
).split(' ');
const EXTRAS = ['!', '.', ' 🌅', ' ☕️', ' #nofilter', ' "best day ever"', ' — so good', ' 😍', '?', ' (again)'];

function caption(): string {
  const target = 50 + Math.floor(Math.random() * 151);
  let s = '';
  while (s.length < target) {
    s += (s ? ' ' : '') + WORDS[Math.floor(Math.random() * WORDS.length)]!;
    if (Math.random() < 0.08) s += EXTRAS[Math.floor(Math.random() * EXTRAS.length)]!;
  }
  // cut by code points: PostgreSQL text is valid UTF-8, never half an emoji (a lone surrogate
  // would be a poison row ClickHouse refuses with code 25)
  return s.charAt(0).toUpperCase() + Array.from(s.slice(1)).slice(0, 199).join('');
}

interface Truth {
  ids: number;
  deleted: number;
  ops: Record<string, number>;
  maxLsn: number;
}

/**
 * Produces `events` change events (c/u/d, tombstone after each d) to `topic`, keyed by id;
 * returns what ClickHouse should hold afterwards.
 */
async function preload(producer: Producer, topic: string, events: number, schemas: boolean): Promise<{ info: PreloadInfo; truth: Truth }> {
  const live: PostRow[] = [];
  const ops: Record<string, number> = { c: 0, u: 0, d: 0, tombstone: 0 };
  let lsn = 30_000_000;
  let deleted = 0;
  let bytes = 0;
  let valueBytes = 0;
  let messages = 0;
  // one send per ~900 KB: each partition's record batch stays under the broker's 1 MB message.max.bytes
  const BATCH_BYTES = 900_000;
  const inflight = new Set<Promise<unknown>>();
  const t0 = performance.now();
  const baseUs = Date.UTC(2025, 0, 1) * 1000;
  for (let produced = 0; produced < events; ) {
    const batch: Message[] = [];
    let batchBytes = 0;
    while (batchBytes < BATCH_BYTES && produced < events) {
      const r = Math.random();
      lsn += 40 + Math.floor(Math.random() * 160);
      let op: 'c' | 'u' | 'd';
      let row: PostRow;
      if (live.length < 100 || r < D.mix.c) {
        op = 'c';
        const user = randomUUID();
        row = {
          id: randomUUID(),
          user_id: user,
          caption: Math.random() < 0.05 ? null : caption(),
          image_key: Math.random() < 0.2 ? null : `posts/${user}/${randomBytes(8).toString('hex')}.jpg`,
          soft_delete: false,
          created_at: baseUs + Math.floor(Math.random() * 300 * 86_400) * 1_000_000 + Math.floor(Math.random() * 1_000_000),
        };
        live.push(row);
      } else if (r < D.mix.c + D.mix.u) {
        op = 'u';
        const i = Math.floor(Math.random() * live.length);
        row = { ...live[i]!, caption: caption(), soft_delete: Math.random() < 0.05 };
        live[i] = row;
      } else {
        op = 'd';
        const i = Math.floor(Math.random() * live.length);
        row = live[i]!;
        live[i] = live[live.length - 1]!;
        live.pop();
        deleted++;
      }
      ops[op]!++;
      const key = postKey(row.id, schemas);
      const value = postEvent(op, row, lsn, schemas);
      batch.push({ key, value });
      bytes += key.length + Buffer.byteLength(value);
      valueBytes += Buffer.byteLength(value);
      batchBytes += key.length + Buffer.byteLength(value);
      produced++;
      if (op === 'd') {
        batch.push({ key, value: null });
        ops.tombstone!++;
      }
    }
    messages += batch.length;
    const p = producer.send({ topic, acks: 1, messages: batch }).finally(() => inflight.delete(p));
    inflight.add(p);
    if (inflight.size >= 4) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  const seconds = (performance.now() - t0) / 1000;
  const info: PreloadInfo = {
    topic,
    events,
    messages,
    tombstones: ops.tombstone!,
    ops,
    bytes,
    avgValueBytes: Math.round(valueBytes / events),
    seconds: round(seconds, 2),
    msgPerSec: Math.round(messages / seconds),
  };
  return { info, truth: { ids: ops.c!, deleted, ops, maxLsn: lsn } };
}

// ------------------------------------------------------------------------------- ClickHouse helpers

async function chNumber(ch: ClickHouseServer, sql: string): Promise<number> {
  return Number((await ch.query(sql)).trim());
}
const insertedRows = (ch: ClickHouseServer): Promise<number> => chNumber(ch, "SELECT sum(value) FROM system.events WHERE event = 'InsertedRows'");

async function finalState(ch: ClickHouseServer, table: string): Promise<{ rawCount: number; finalCount: number; finalDeleted: number }> {
  const [raw, fin, del] = (await ch.query(`SELECT (SELECT count() FROM ${table}), count(), sum(is_deleted) FROM ${table} FINAL FORMAT TSV`)).trim().split('\t').map(Number);
  return { rawCount: raw!, finalCount: fin!, finalDeleted: del! };
}

// ------------------------------------------------------------------------------- /metrics

function metricValue(text: string, name: string, labels = ''): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

function histogramOf(text: string, name: string): BreakwaterDetail['batches'] {
  const list: [string, number][] = []; // in exposition order (an object would put "1", "5"... first)
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_bucket\\{.*le="([^"]+)".*\\} (\\S+)$`).exec(line);
    if (m) list.push([m[1]!, Number(m[2])]);
  }
  const buckets = Object.fromEntries(list);
  const count = metricValue(text, `${name}_count`);
  const sum = metricValue(text, `${name}_sum`);
  const q = (p: number): number => {
    const want = count * p;
    for (const [le, c] of list) if (c >= want) return le === '+Inf' ? Infinity : Number(le) * 1000;
    return NaN;
  };
  return { count, meanMs: count ? round((sum / count) * 1000, 1) : NaN, p50Ms: q(0.5), p99Ms: q(0.99), buckets };
}

// ------------------------------------------------------------------------------- breakwater

/** a scenario that writes nothing for this long failed (its /status and output are reported) */
const STALL_SEC = 60;

const metricLines = (text: string, prefix: string): string =>
  text
    .split('\n')
    .filter((l) => l.startsWith(prefix) && !l.includes('_bucket'))
    .join('\n');

interface Services {
  kafka: KafkaServer;
  ch: ClickHouseServer;
  work: string;
}

let runCounter = 0;

/**
 * A breakwater sidecar reading `topic` into `table` from the beginning with a fresh group,
 * timed from the group join until `rows` rows are written. Checks ClickHouse afterwards.
 */
async function runBreakwater(s: Services, o: { scenario: string; topic: string; table: string; rows: number; truth: Truth; nodeArgs?: string[] }): Promise<{ scenario: Scenario; detail: BreakwaterDetail; proc: Proc; window: [number, number] }> {
  const n = ++runCounter;
  const dir = path.join(s.work, `bw-${n}`);
  fs.mkdirSync(dir, { recursive: true });
  const [adminPort, listenPort] = await freePorts(2);
  const yaml = cdcYaml(
    {
      brokers: s.kafka.brokers,
      clickhouse: s.ch.url,
      groupId: `bench-cdc-${Date.now()}-${n}`,
      batch: `{ rows: ${D.batch.rows}, interval: ${D.batch.interval} }`,
      logLevel: 'warn',
      topics: `    ${o.topic}: { table: ${o.table}, key: [id], version: cdc_timestamp }\n`,
    },
    listenPort!,
  ).replaceAll('{{ADMIN}}', `127.0.0.1:${adminPort}`);
  const configFile = path.join(dir, 'breakwater.yaml');
  fs.writeFileSync(configFile, yaml);
  results.config ??= yaml;
  const admin = `http://127.0.0.1:${adminPort}`;
  const get = async (p: string): Promise<string> => {
    const res = await fetch(admin + p, { signal: AbortSignal.timeout(5000), headers: { authorization: `Bearer ${TOKEN}` } });
    return res.text();
  };
  const ins0 = await insertedRows(s.ch);
  const chPid = s.ch.pid!;
  const kPid = s.kafka.pid!;
  const spawnedAt = performance.now();
  const proc = startProcess(o.scenario, [process.execPath, ...(o.nodeArgs ?? []), CLI, 'start', '--config', configFile], { env: { ...process.env, BREAKWATER_ENV: '' } });
  await waitUntil(
    async () => {
      const st = JSON.parse(await get('/status')) as { cdc?: { state?: string } };
      return st.cdc?.state === 'running';
    },
    `${o.scenario}: /status cdc.state = running`,
    { proc, timeoutMs: 60_000 },
  );
  const t0 = performance.now();
  const startUs = Number(process.hrtime.bigint() / 1000n);
  const cpu0 = cpuMsOfPid(proc.pid);
  const ch0 = cpuMsOfPid(chPid);
  const k0 = cpuMsOfPid(kPid);
  const cpuSamples: number[] = [];
  const rssSamples: number[] = [];
  let lastCpu = cpu0;
  let lastT = t0;
  let written = 0;
  let lastSample = t0;
  let lastReport = t0;
  let lastWritten = 0;
  let lastProgress = t0;
  const deadline = t0 + D.scenarioTimeoutSec * 1000;
  for (;;) {
    const text = await get('/metrics');
    written = metricValue(text, 'breakwater_cdc_rows_written_total', `table="${o.table}"`);
    const now = performance.now();
    if (now - lastSample >= 500) {
      const c = cpuMsOfPid(proc.pid);
      cpuSamples.push(round(((c - lastCpu) / (now - lastT)) * 100, 1));
      rssSamples.push(memoryOf(proc.pid).rssMiB);
      lastCpu = c;
      lastT = now;
      lastSample = now;
    }
    if (now - lastReport >= 5000) {
      say(`   ${o.scenario}: ${written} / ${o.rows} rows written after ${round((now - t0) / 1000, 1)} s`);
      lastReport = now;
    }
    if (written >= o.rows) break;
    if (written !== lastWritten) {
      lastWritten = written;
      lastProgress = now;
    } else if (now - lastProgress > STALL_SEC * 1000) {
      const status = await get('/status').catch((err: Error) => `GET /status failed: ${err.message}`);
      throw new Error(`${o.scenario}: stalled: ${written} of ${o.rows} rows written, none for ${STALL_SEC} s\n/status: ${status}\n${metricLines(text, 'breakwater_cdc_')}\noutput:\n${proc.output().slice(-4000)}`);
    }
    if (!proc.running) throw new Error(`${o.scenario} exited:\n${proc.output().slice(-4000)}`);
    if (now > deadline) throw new Error(`${o.scenario}: only ${written} of ${o.rows} rows written after ${D.scenarioTimeoutSec} s\n${proc.output().slice(-4000)}`);
    await sleep(100); // scraping /metrics every 50 ms took ~3% of the sidecar's busy time in a profile
  }
  const t1 = performance.now();
  const endUs = Number(process.hrtime.bigint() / 1000n);
  const cpuMs = cpuMsOfPid(proc.pid) - cpu0;
  const chMs = cpuMsOfPid(chPid) - ch0;
  const kMs = cpuMsOfPid(kPid) - k0;
  const mem = memoryOf(proc.pid);
  const seconds = (t1 - t0) / 1000;
  const text = await get('/metrics');
  const ins1 = await insertedRows(s.ch);
  const state = await finalState(s.ch, o.table);
  const events: Record<string, number> = {};
  for (const op of ['c', 'u', 'd', 'r', 'tombstone']) events[op] = metricValue(text, 'breakwater_cdc_events_total', `op="${op}"`);
  const agrees = ins1 - ins0 === o.rows && state.finalCount === o.truth.ids && state.finalDeleted === o.truth.deleted;
  const detail: BreakwaterDetail = {
    scenario: o.scenario,
    table: o.table,
    startupSec: round((t0 - spawnedAt) / 1000, 2),
    secondsInclStartup: round((t1 - spawnedAt) / 1000, 2),
    rowsWritten: written,
    events,
    deadLettered: metricValue(text, 'breakwater_cdc_dead_lettered_total'),
    writeFailures: metricValue(text, 'breakwater_cdc_write_failures_total'),
    batches: histogramOf(text, 'breakwater_cdc_batch_duration_seconds'),
    cpuPctSamples: cpuSamples,
    rssMiBSamples: rssSamples,
    clickhouse: { insertedRows: ins1 - ins0, ...state, expectedIds: o.truth.ids, expectedDeleted: o.truth.deleted, agrees },
  };
  const scenario: Scenario = {
    name: o.scenario,
    events: written,
    seconds: round(seconds, 2),
    eventsPerSec: Math.round(written / seconds),
    cpuPct: round((cpuMs / (t1 - t0)) * 100, 0),
    rssMiB: rssSamples.length ? median(rssSamples) : mem.rssMiB,
    rssPeakMiB: mem.hwmMiB,
    clickhouseCpuPct: round((chMs / (t1 - t0)) * 100, 0),
    kafkaCpuPct: round((kMs / (t1 - t0)) * 100, 0),
    note: agrees ? undefined : `ClickHouse DISAGREES: InsertedRows +${ins1 - ins0} (want ${o.rows}), FINAL ${state.finalCount} ids / ${state.finalDeleted} deleted (want ${o.truth.ids} / ${o.truth.deleted})`,
  };
  say(`   ${o.scenario}: ${scenario.eventsPerSec} events/s (${written} rows in ${scenario.seconds} s), CPU ${scenario.cpuPct}%, RSS ${scenario.rssMiB} MiB; ClickHouse ${agrees ? 'agrees' : 'DISAGREES'}: InsertedRows +${ins1 - ins0}, count() ${state.rawCount}, FINAL ${state.finalCount} ids / ${state.finalDeleted} deleted`);
  return { scenario, detail, proc, window: [startUs, endUs] };
}

// ------------------------------------------------------------------------------- one row per INSERT

async function runOneRow(s: Services): Promise<Scenario> {
  const table = 'posts_cdc_one';
  await s.ch.query(`CREATE TABLE ${table} AS posts_cdc`);
  const cfg: CdcTopicConfig = { table, key: ['id'], version: 'cdc_timestamp', versionFrom: 'lsn', deleted: 'is_deleted', rename: {}, timestampUnit: 'us' };
  const columns = await describeTable(async (sql) =>
    (await s.ch.query(sql))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  table);
  const encode = compileRowEncoder(buildMapping(TOPIC, cfg, columns));
  const url = `${s.ch.url}/?query=${encodeURIComponent(`INSERT INTO ${table} FORMAT JSONEachRow`)}`;
  const k = kafkaClient(s.kafka.brokers, 'bench-one-row');
  const consumer = k.consumer({ groupId: `bench-one-row-${Date.now()}`, maxWaitTimeInMs: 500 });
  const latencies: number[] = [];
  let rows = 0;
  let t0 = 0;
  let t1 = 0;
  let stopped = false;
  let failure: string | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const finish = (): void => {
    if (stopped) return;
    stopped = true;
    t1 = performance.now();
    resolveDone();
  };
  consumer.on(consumer.events.GROUP_JOIN, () => {
    t0 ||= performance.now();
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
  const chPid = s.ch.pid!;
  const kPid = s.kafka.pid!;
  let cpu0 = process.cpuUsage();
  let ch0 = cpuMsOfPid(chPid);
  let k0 = cpuMsOfPid(kPid);
  await consumer.run({
    autoCommit: true,
    eachMessage: async ({ message }) => {
      if (stopped) return;
      const ev = decodeChange(message.value);
      if (ev === null) return; // tombstone
      const a = performance.now();
      const res = await fetch(url, { method: 'POST', body: encode(ev) });
      const body = await res.text();
      if (res.status !== 200) {
        failure ??= `HTTP ${res.status}: ${body.slice(0, 300)}`;
        finish();
        return;
      }
      latencies.push(performance.now() - a);
      rows++;
      if (rows >= D.baselineRows || performance.now() - t0 >= D.baselineSeconds * 1000) finish();
    },
  });
  // CPU from the join on
  await waitUntil(async () => t0 > 0, 'the one-row consumer to join', { timeoutMs: 60_000 });
  cpu0 = process.cpuUsage();
  ch0 = cpuMsOfPid(chPid);
  k0 = cpuMsOfPid(kPid);
  const timer = setTimeout(finish, D.baselineSeconds * 1000 + 5000);
  await done;
  clearTimeout(timer);
  const cpu = process.cpuUsage(cpu0);
  const chMs = cpuMsOfPid(chPid) - ch0;
  const kMs = cpuMsOfPid(kPid) - k0;
  await consumer.disconnect();
  const seconds = (t1 - t0) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  const parts = await chNumber(s.ch, `SELECT count() FROM system.parts WHERE table = '${table}' AND active`);
  const count = await chNumber(s.ch, `SELECT count() FROM ${table}`);
  results.baseline = {
    rows,
    seconds: round(seconds, 2),
    insertLatencyMs: { p50: round(percentileOf(sorted, 50), 2), p99: round(percentileOf(sorted, 99), 2), max: round(sorted[sorted.length - 1] ?? NaN, 2) },
    benchCpuPct: round(((cpu.user + cpu.system) / 1000 / (t1 - t0)) * 100, 0),
    partsAtEnd: parts,
  };
  const sc: Scenario = {
    name: 'one row per INSERT',
    events: rows,
    seconds: round(seconds, 2),
    eventsPerSec: Math.round(rows / seconds),
    cpuPct: results.baseline.benchCpuPct,
    rssMiB: round(process.memoryUsage().rss / 2 ** 20, 1),
    clickhouseCpuPct: round((chMs / (t1 - t0)) * 100, 0),
    kafkaCpuPct: round((kMs / (t1 - t0)) * 100, 0),
    note: `bench process (kafkajs + fetch); INSERT p50 ${results.baseline.insertLatencyMs.p50} ms, p99 ${results.baseline.insertLatencyMs.p99} ms; count() ${count}; ${parts} active parts at the end`,
    error: failure,
  };
  say(`   one row per INSERT: ${sc.eventsPerSec} events/s (${rows} rows in ${sc.seconds} s); ${sc.note}${failure ? `; FAILED: ${failure}` : ''}`);
  return sc;
}

// ------------------------------------------------------------------------------- Kafka engine

const KAFKA_ENGINE_GAPS = [
  'no dead-letter topic: nothing is set aside; a message the view cannot convert (bad UUID, unparsable TSV) fails the whole block, and 18.16 has no kafka_skip_broken_messages (not exercised here); an id the view cannot extract silently becomes the zero UUID (counted above)',
  'TSV, not JSON: the raw envelope is read as one TSV field, so TSV unescaping applies first (\\" becomes ", \\\\ becomes \\, \\uXXXX loses its backslash): captions with quotes, backslashes or escaped characters are cut or altered',
  'visitParam* is a substring scan, not a JSON parser: it takes the first "name": anywhere (a caption containing "id": would fool it); no schema, no types: created_at assumes MicroTimestamp, NULL only by comparing the raw text with null',
  'no schema awareness: the {schema, payload} wrapper needs different expressions; the mapping is hand-written SQL per table, not checked against the table at startup',
  'offsets are committed before the rows are visible (seen here: every offset committed ~1-1.5 s before the last rows appeared), so a crash in between can lose rows; no retries with backoff, no breaker, no pause while ClickHouse struggles, no lag or batch metrics, no readiness',
  'needs a server-wide config change (auto_offset_reset=smallest) to read a topic from the beginning; the engine runs inside ClickHouse (its CPU and memory, its upgrade cycle)',
];

async function runKafkaEngine(s: Services, truth: Truth, total: { messages: number }): Promise<{ scenario: Scenario; detail: KafkaEngineDetail }> {
  const detail: KafkaEngineDetail = { supported: false, ddl: [], gaps: KAFKA_ENGINE_GAPS };
  const fail = (error: string): { scenario: Scenario; detail: KafkaEngineDetail } => {
    detail.error = error;
    say(`   ClickHouse Kafka engine: ${error}`);
    return { scenario: { name: 'ClickHouse Kafka engine', events: 0, seconds: NaN, eventsPerSec: NaN, clickhouseCpuPct: NaN, kafkaCpuPct: NaN, error }, detail };
  };
  const has = (await s.ch.query("SELECT name FROM system.table_engines WHERE name = 'Kafka'")).trim();
  if (has !== 'Kafka') return fail(`this ClickHouse (${(await s.ch.query('SELECT version()')).trim()}) has no Kafka table engine: system.table_engines does not list it`);
  detail.supported = true;
  const group = `bench-ch-kafka-${Date.now()}`;
  // The row: after for c/u/r, before (key only) for d.
  const row = `if(visitParamExtractString(v, 'op') = 'd', visitParamExtractRaw(v, 'before'), visitParamExtractRaw(v, 'after'))`;
  const str = (f: string): string => `visitParamExtractString(${row}, '${f}')`;
  const uuidOf = (f: string): string => `toUUID(if(${str(f)} = '', '00000000-0000-0000-0000-000000000000', ${str(f)}))`;
  const nullable = (f: string): string => `if(visitParamExtractRaw(${row}, '${f}') = 'null', NULL, ${str(f)})`;
  const ddl = [
    'CREATE TABLE posts_cdc_kafka AS posts_cdc',
    `CREATE TABLE posts_kafka_queue (v String) ENGINE = Kafka SETTINGS kafka_broker_list = '${s.kafka.brokers.join(',')}', kafka_topic_list = '${TOPIC}', kafka_group_name = '${group}', kafka_format = 'TSV', kafka_row_delimiter = '\\n', kafka_num_consumers = 1`,
    `CREATE MATERIALIZED VIEW posts_kafka_mv TO posts_cdc_kafka AS SELECT
  ${uuidOf('id')} AS id,
  ${uuidOf('user_id')} AS user_id,
  ${nullable('caption')} AS caption,
  ${nullable('image_key')} AS image_key,
  visitParamExtractBool(${row}, 'soft_delete') AS soft_delete,
  toDateTime(intDiv(visitParamExtractUInt(${row}, 'created_at'), 1000000)) AS created_at,
  visitParamExtractUInt(visitParamExtractRaw(v, 'source'), 'lsn') AS cdc_timestamp,
  toUInt8(visitParamExtractString(v, 'op') = 'd') AS is_deleted
FROM posts_kafka_queue
WHERE v != '' AND visitParamExtractString(v, 'op') IN ('c', 'u', 'd', 'r')`,
  ];
  detail.ddl = ddl;
  const k = kafkaClient(s.kafka.brokers, 'bench-ch-kafka-watch');
  const admin = k.admin();
  await admin.connect();
  const chPid = s.ch.pid!;
  const kPid = s.kafka.pid!;
  try {
    const ch0 = cpuMsOfPid(chPid);
    const k0 = cpuMsOfPid(kPid);
    const rss0 = memoryOf(chPid).rssMiB;
    const ins0 = await insertedRows(s.ch);
    const t0 = performance.now();
    try {
      for (const q of ddl) await s.ch.query(q);
    } catch (err) {
      return fail((err as Error).message.split('\nquery:')[0]!);
    }
    const high = (await admin.fetchTopicOffsets(TOPIC)).reduce((a, p) => a + Number(p.high), 0);
    let committed = 0;
    let lastReport = t0;
    const deadline = t0 + D.scenarioTimeoutSec * 1000;
    const rssSamples: number[] = [];
    let lastSample = t0;
    for (;;) {
      const offs = await admin.fetchOffsets({ groupId: group, topics: [TOPIC] });
      committed = offs[0]!.partitions.reduce((a, p) => a + Math.max(0, Number(p.offset)), 0);
      const now = performance.now();
      if (now - lastSample >= 500) {
        rssSamples.push(memoryOf(chPid).rssMiB);
        lastSample = now;
      }
      if (committed >= high) break;
      if (now - lastReport >= 5000) {
        say(`   ClickHouse Kafka engine: ${committed} / ${high} messages committed after ${round((now - t0) / 1000, 1)} s`);
        lastReport = now;
      }
      if (now > deadline) {
        const log = execFileSync('sh', ['-c', `grep -E 'StorageKafka|Exception' ${s.ch.dir}/log/clickhouse-server.err.log | tail -5 || true`], { encoding: 'utf8' });
        return fail(`only ${committed} of ${high} messages consumed after ${D.scenarioTimeoutSec} s; ClickHouse's error log: ${log.trim() || '(nothing)'}`);
      }
      await sleep(100);
    }
    // The engine commits the offsets before the rows are visible (InsertedRows counts the
    // messages read, tombstones included, not the view's rows): wait until posts_cdc_kafka
    // holds every row, or its count() has not moved for 5 s (rows lost, or merges collapsed
    // replaced rows already; t1 is then the last change).
    const committedAt = performance.now();
    const rows = total.messages - truth.ops.tombstone!;
    let inserted = 0;
    let raw = 0;
    let rawChangedAt = committedAt;
    while (performance.now() - committedAt < 120_000) {
      const r = await chNumber(s.ch, 'SELECT count() FROM posts_cdc_kafka');
      if (r !== raw) {
        raw = r;
        rawChangedAt = performance.now();
      }
      if (raw >= rows || (raw > 0 && performance.now() - rawChangedAt > 5000)) break;
      await sleep(100);
    }
    inserted = (await insertedRows(s.ch)) - ins0;
    const t1 = raw >= rows ? performance.now() : rawChangedAt;
    detail.committedAfterSec = round((committedAt - t0) / 1000, 2);
    detail.insertedRows = inserted;
    detail.zeroIdRows = await chNumber(s.ch, "SELECT count() FROM posts_cdc_kafka WHERE id = toUUID('00000000-0000-0000-0000-000000000000')");
    if (raw < rows) {
      detail.errorLog = execFileSync('sh', ['-c', `grep -E 'StorageKafka|Exception' ${s.ch.dir}/log/clickhouse-server.err.log | tail -8 | cut -c1-600 || true`], { encoding: 'utf8' }).trim();
    }
    const chMs = cpuMsOfPid(chPid) - ch0;
    const kMs = cpuMsOfPid(kPid) - k0;
    const seconds = (t1 - t0) / 1000;
    const state = await finalState(s.ch, 'posts_cdc_kafka');
    detail.consumedMessages = committed;
    detail.rowsInTable = state.rawCount;
    detail.finalCount = state.finalCount;
    detail.finalDeleted = state.finalDeleted;
    detail.captionsDiffering = await chNumber(
      s.ch,
      `SELECT count() FROM (SELECT id, caption FROM posts_cdc FINAL) ANY INNER JOIN (SELECT id, caption AS caption_k FROM posts_cdc_kafka FINAL) USING id WHERE NOT (caption = caption_k OR (isNull(caption) AND isNull(caption_k)))`,
    );
    detail.lsnMatches = (await chNumber(s.ch, 'SELECT max(cdc_timestamp) FROM posts_cdc_kafka')) === truth.maxLsn;
    const ok = state.finalCount === truth.ids && state.finalDeleted === truth.deleted;
    const sc: Scenario = {
      name: 'ClickHouse Kafka engine',
      events: rows,
      seconds: round(seconds, 2),
      eventsPerSec: Math.round(rows / seconds),
      cpuPct: round((chMs / (t1 - t0)) * 100, 0),
      rssMiB: rssSamples.length ? median(rssSamples) : undefined,
      clickhouseCpuPct: round((chMs / (t1 - t0)) * 100, 0),
      kafkaCpuPct: round((kMs / (t1 - t0)) * 100, 0),
      note:
        `CPU/RSS are ClickHouse's (RSS ${rss0} MiB before); timed from CREATE until the group committed all ${high} offsets (${detail.committedAfterSec} s) and the view's rows were visible (count() ${raw}; InsertedRows +${inserted}); ` +
        `FINAL ${state.finalCount} ids / ${state.finalDeleted} deleted (${ok ? 'as expected' : `want ${truth.ids} / ${truth.deleted}; ${detail.zeroIdRows} rows got the zero UUID`}); ${detail.captionsDiffering} captions differ from breakwater's table; versions from LSN ${detail.lsnMatches ? 'ok' : 'WRONG'}`,
    };
    say(`   ClickHouse Kafka engine: ${sc.eventsPerSec} events/s; ${sc.note}`);
    return { scenario: sc, detail };
  } finally {
    await s.ch.query('DROP TABLE IF EXISTS posts_kafka_mv').catch(() => undefined);
    await s.ch.query('DROP TABLE IF EXISTS posts_kafka_queue').catch(() => undefined);
    await admin.disconnect();
  }
}

// ------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  process.chdir(ROOT); // helpers.ts reads config/cdc/clickhouse.sql relative to the cwd
  const kafkajsVersion = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/kafkajs/package.json'), 'utf8')) as { version: string }).version;
  results.host = {
    commit: benchCommit(),
    cpu: /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    kafka: KAFKA_VERSION,
    kafkajs: kafkajsVersion,
    uptimeAtStart: execFileSync('uptime', { encoding: 'utf8' }).trim(),
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
  };
  say(`host: ${JSON.stringify(results.host)}`);
  const quiet = await waitQuiet(15, Number(args['max-wait-quiet']) * 1000);
  results.host.otherCpuBusyPctAtStart = quiet.busyPct;

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'breakwater-cdc-bench-'));
  let kafka: KafkaServer | undefined;
  let ch: ClickHouseServer | undefined;
  try {
    heading('starting Kafka and ClickHouse');
    [kafka, ch] = await Promise.all([startKafka(), startClickHouse()]);
    // 18.16's Kafka engine starts a new group at the end of the topic (librdkafka's default
    // auto.offset.reset=largest): read from the beginning like the other consumers.
    const cfg = path.join(ch.dir, 'config.xml');
    fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('</yandex>', '  <kafka><auto_offset_reset>smallest</auto_offset_reset></kafka>\n</yandex>'));
    await ch.restart();
    results.host.clickhouse = (await ch.query('SELECT version()')).trim();
    say(`kafka ${KAFKA_VERSION} on ${kafka.brokers[0]} (pid ${kafka.pid}); ClickHouse ${results.host.clickhouse} on ${ch.url} (pid ${ch.pid})`);
    await applyShippedDdl(ch);
    await ch.query('CREATE TABLE posts_cdc_schemas AS posts_cdc');
    await ch.query('CREATE TABLE posts_cdc_profiled AS posts_cdc');
    const s: Services = { kafka, ch, work };

    heading(`pre-loading ${N} post change events into ${TOPIC}${D.schemasEvents ? ` and ${D.schemasEvents} with schemas into ${TOPIC_SCHEMAS}` : ''}`);
    const k = kafkaClient(kafka.brokers, 'bench-cdc-preload');
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [TOPIC, ...(D.schemasEvents ? [TOPIC_SCHEMAS] : [])].map((topic) => ({ topic, numPartitions: D.partitions })), waitForLeaders: true });
    await admin.disconnect();
    const producer = k.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false, idempotent: false });
    await producer.connect();
    const plain = await preload(producer, TOPIC, N, false);
    results.preload.push(plain.info);
    say(`   ${TOPIC}: ${plain.info.messages} messages (${plain.info.tombstones} tombstones), ${JSON.stringify(plain.info.ops)}, avg value ${plain.info.avgValueBytes} B, ${round(plain.info.bytes / 2 ** 20, 1)} MiB in ${plain.info.seconds} s`);
    let withSchemas: Awaited<ReturnType<typeof preload>> | undefined;
    if (D.schemasEvents) {
      withSchemas = await preload(producer, TOPIC_SCHEMAS, D.schemasEvents, true);
      results.preload.push(withSchemas.info);
      say(`   ${TOPIC_SCHEMAS}: ${withSchemas.info.messages} messages, avg value ${withSchemas.info.avgValueBytes} B, ${round(withSchemas.info.bytes / 2 ** 20, 1)} MiB in ${withSchemas.info.seconds} s`);
    }
    await producer.disconnect();
    await sleep(2000); // let the broker flush

    heading('breakwater: cdc.posts -> posts_cdc (schemas disabled), default batch settings');
    const bw = await runBreakwater(s, { scenario: 'breakwater', topic: TOPIC, table: 'posts_cdc', rows: N, truth: plain.truth });
    await bw.proc.stop(10_000);
    results.scenarios.push(bw.scenario);
    results.breakwater.push(bw.detail);

    heading(`one row per INSERT (the original design): ${D.baselineSeconds} s or ${D.baselineRows} rows`);
    const one = await runOneRow(s);
    results.scenarios.push(one);

    if (withSchemas) {
      heading(`breakwater: ${TOPIC_SCHEMAS} -> posts_cdc_schemas (schemas enabled)`);
      const bws = await runBreakwater(s, { scenario: 'breakwater, schemas', topic: TOPIC_SCHEMAS, table: 'posts_cdc_schemas', rows: D.schemasEvents, truth: withSchemas.truth });
      await bws.proc.stop(10_000);
      results.scenarios.push(bws.scenario);
      results.breakwater.push(bws.detail);
    }

    if (D.kafkaEngine) {
      heading('ClickHouse Kafka engine: cdc.posts -> MV -> posts_cdc_kafka');
      const ke = await runKafkaEngine(s, plain.truth, { messages: plain.info.messages });
      results.scenarios.push(ke.scenario);
      results.kafkaEngine = ke.detail;
    }

    for (const sc of results.scenarios) if (one.eventsPerSec > 0 && Number.isFinite(sc.eventsPerSec)) sc.vsOneRow = round(sc.eventsPerSec / one.eventsPerSec, 1);
    results.target.met = bw.scenario.eventsPerSec >= TARGET_EVENTS_PER_SEC;

    if (args.profile === true || (!results.target.met && args['no-profile'] !== true)) {
      heading(`profile: a fresh breakwater under node --cpu-prof reading ${TOPIC} again into posts_cdc_profiled${results.target.met ? '' : ' (under the target)'}`);
      const profDir = path.join(work, 'cpuprofile');
      fs.mkdirSync(profDir, { recursive: true });
      const pr = await runBreakwater(s, {
        scenario: 'breakwater-profiled',
        topic: TOPIC,
        table: 'posts_cdc_profiled',
        rows: N,
        truth: plain.truth,
        nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`, '--cpu-prof-interval=500'],
      });
      await pr.proc.stop(30_000);
      const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file === undefined) throw new Error(`node --cpu-prof wrote no profile into ${profDir}`);
      const copiedTo = resultFile('cdc', results.startedAt, 'cpuprofile');
      fs.copyFileSync(path.join(profDir, file), copiedTo);
      const sum = summarizeProfile(copiedTo, { root: ROOT, top: 40, window: pr.window });
      results.profile = {
        file: path.relative(ROOT, copiedTo),
        eventsPerSec: pr.scenario.eventsPerSec,
        busyPct: round(100 - sum.areas.idle, 1),
        areas: sum.areas,
        topSelf: sum.topSelf.slice(0, 20),
        breakwaterSelf: sum.breakwaterSelf.slice(0, 15),
        breakwaterTotal: sum.breakwaterTotal.slice(0, 15),
      };
    }
  } finally {
    await stopAll();
    await Promise.all([kafka?.stop().catch(() => undefined), ch?.stop().catch(() => undefined)]);
    fs.rmSync(work, { recursive: true, force: true });
    results.finishedAt = new Date().toISOString();
    results.host.uptimeAtEnd = execFileSync('uptime', { encoding: 'utf8' }).trim();
    results.host.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
  }
}

// ------------------------------------------------------------------------------- report

function report(): string {
  const out: string[] = [];
  out.push(`breakwater CDC consumer benchmark — ${results.startedAt} (${results.finishedAt ?? '?'})`);
  out.push(`command: ${results.command}`);
  out.push(`host: ${JSON.stringify(results.host)}`);
  for (const p of results.preload) {
    out.push(`pre-loaded ${p.topic}: ${p.events} change events ${JSON.stringify(p.ops)} = ${p.messages} messages, avg value ${p.avgValueBytes} B, ${round(p.bytes / 2 ** 20, 1)} MiB, ${p.msgPerSec} msg/s (kafkajs, acks=1)`);
  }
  out.push('');
  out.push(`scenario                    events  seconds   events/s  x one-row   CPU%   RSS MiB  ClickHouse CPU%  Kafka CPU%`);
  const f = (x: number | undefined, d = 0): string => (x === undefined || !Number.isFinite(x) ? '-' : d ? x.toFixed(d) : String(x));
  for (const s of results.scenarios) {
    out.push(
      `${s.name.padEnd(26)} ${f(s.events).padStart(7)} ${f(s.seconds, 2).padStart(8)} ${f(s.eventsPerSec).padStart(10)} ${(s.vsOneRow === undefined ? '-' : `${s.vsOneRow}x`).padStart(10)} ${f(s.cpuPct).padStart(6)} ${(s.rssMiB === undefined ? '-' : `${s.rssMiB}${s.rssPeakMiB ? `/${s.rssPeakMiB}` : ''}`).padStart(9)} ${f(s.clickhouseCpuPct).padStart(16)} ${f(s.kafkaCpuPct).padStart(11)}`,
    );
  }
  out.push('  CPU% = % of one core used by the process doing the work (breakwater; the bench process for one-row; ClickHouse for its engine). RSS = median/peak (VmHWM).');
  for (const s of results.scenarios) {
    if (s.note) out.push(`  ${s.name}: ${s.note}`);
    if (s.error) out.push(`  ${s.name}: ERROR: ${s.error}`);
  }
  const bw = results.scenarios.find((s) => s.name === 'breakwater');
  if (bw) {
    out.push('');
    out.push(`target: >= ${TARGET_EVENTS_PER_SEC} events/s sustained (breakwater, schemas disabled): ${results.target.met ? 'MET' : 'MISSED'} (${bw.eventsPerSec} events/s${results.scenarios.find((s) => s.name === 'one row per INSERT') ? `, ${bw.vsOneRow}x the one-row-per-INSERT baseline of this run` : ''})`);
  }
  for (const d of results.breakwater) {
    out.push('');
    out.push(`${d.scenario} -> ${d.table}: joined ${d.startupSec} s after spawn (${d.secondsInclStartup} s spawn to last row); events ${JSON.stringify(d.events)}; dead-lettered ${d.deadLettered}; write failures ${d.writeFailures}`);
    out.push(`  batches: ${d.batches.count}, mean ${d.batches.meanMs} ms, p50 <= ${d.batches.p50Ms} ms, p99 <= ${d.batches.p99Ms} ms; histogram (le s: cumulative) ${Object.entries(d.batches.buckets).sort((a, b) => (a[0] === '+Inf' ? 1 : b[0] === '+Inf' ? -1 : Number(a[0]) - Number(b[0]))).map(([le, c]) => `${le}:${c}`).join(' ')}`);
    out.push(`  CPU% samples (500 ms): ${d.cpuPctSamples.join(' ')}`);
    out.push(`  RSS MiB samples: ${d.rssMiBSamples.join(' ')}`);
    const c = d.clickhouse;
    out.push(`  ClickHouse: InsertedRows +${c.insertedRows}, count() ${c.rawCount} (merges collapse replaced rows), FINAL ${c.finalCount} ids / ${c.finalDeleted} deleted, expected ${c.expectedIds} / ${c.expectedDeleted}: ${c.agrees ? 'agrees' : 'DISAGREES'}`);
  }
  if (results.kafkaEngine) {
    const ke = results.kafkaEngine;
    out.push('');
    out.push(`ClickHouse Kafka engine (${results.host.clickhouse}): ${ke.error ? `did not work: ${ke.error}` : `consumed ${ke.consumedMessages} messages; posts_cdc_kafka count() ${ke.rowsInTable}, FINAL ${ke.finalCount} ids / ${ke.finalDeleted} deleted; ${ke.captionsDiffering} captions differ from breakwater's posts_cdc; max version = last LSN: ${ke.lsnMatches}`}`);
    if (ke.errorLog) out.push(`  rows missing; ClickHouse's error log: ${ke.errorLog}`);
    out.push('  DDL:');
    for (const q of ke.ddl) out.push(`    ${q.replaceAll('\n', '\n    ')};`);
    out.push('  semantic gaps vs breakwater:');
    for (const g of ke.gaps) out.push(`   - ${g}`);
  }
  if (results.profile) {
    const p = results.profile;
    const busy = Math.max(0.1, p.busyPct) / 100;
    const b = (x: number): string => (x / busy).toFixed(1).padStart(5);
    out.push('');
    out.push(`Profile — breakwater under node --cpu-prof (${p.file}): ${p.eventsPerSec} events/s under the profiler; busy ${p.busyPct}% of the window`);
    out.push(`  areas (% of all samples): ${Object.entries(p.areas).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}%`).join(', ')}`);
    out.push('  top self time, all code (% of busy):');
    for (const x of p.topSelf.slice(0, 15)) out.push(`    ${b(x.selfPct)}%  ${x.function}  ${x.where}`);
    out.push('  breakwater functions by total time (% of busy):');
    for (const x of p.breakwaterTotal.slice(0, 12)) out.push(`    ${b(x.totalPct)}%  (self ${b(x.selfPct)}%)  ${x.function}  ${x.where}`);
  }
  if (results.error) out.push(`\nERROR: ${results.error}`);
  return out.join('\n');
}

const code = await runMain(main, results);
saveResults('cdc', results, report());
process.exit(code);
