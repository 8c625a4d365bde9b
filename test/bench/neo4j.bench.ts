// Neo4j data-path benchmark of the `protocol: bolt` listener. One command starts everything it
// needs (a real Neo4j Community 5.26 from test/services, the `breakwater start` CLI), measures in
// ONE run with the targets interleaved (so every ratio is against a baseline measured minutes
// apart at most), prints a table and writes JSON + text to test/bench/results/. It reports; it
// never asserts timings.
//
//   npx tsc -p tsconfig.json && node dist/test/bench/neo4j.bench.js [--quick] [--reps N]
//        [--seconds S] [--concurrency N] [--rate R] [--latency-rounds N] [--only throughput,latency]
//        [--profile] [--no-pin] [--no-peers] [--no-lean] [--lean-reps N] [--max-other-cpu PCT] [--max-attempts N] [--max-wait-quiet SEC]
//   (npm run bench:neo4j -- --quick)
//
// The query, for every target: `MATCH (u:User {id: $id}) RETURN u.name AS name` with a random id
// among 1000 seeded :User nodes (a uniqueness constraint on :User(id) gives the index lookup), one
// row back; each query in its own session (`driver.session({ defaultAccessMode: READ })`, run,
// close), as an application does. neo4j-driver 6.x with the same settings for both targets
// (maxConnectionPoolSize = --concurrency, disableLosslessIntegers). Breakwater runs as an
// application would deploy it: breaker, health checks with a login and `RETURN 1`, and a
// `statement: read -> [static]` fallback rule, so every RUN is classified.
// Neo4j runs with the full JIT (C2) and is warmed up directly (plans cached, its hot code
// compiled: with less, the first repetitions measure the JIT) in 15 s steps until queries/s
// levels off (two flat steps in a row, at least 90 s, at most 240 s) before anything is
// measured, and every target gets an unmeasured warm-up run of its own.
// Sections 1 and 1b also measure two reference proxies that relay Bolt's bytes without reading them
// (--no-peers leaves them out): HAProxy in mode tcp and a Node net.Socket pipe. They show what
// relaying costs at all on this machine (the kernel's share is the same for every proxy), so
// breakwater's ratio can be read against the best a proxy does, not only against no proxy.
//
// 1. Throughput, closed loop: --concurrency (default 16) queries in flight for --seconds (default
//    10, after 2 unmeasured seconds in the same process), direct vs breakwater (vs the reference
//    proxies), --reps (default 5) repetitions, the targets' order rotating, median kept. Also the CPU time per query
//    of breakwater, of Neo4j (the JVM) and of the load generator from /proc/<pid>/stat over the
//    measured window: CPU per query is much less disturbed by a noisy machine than queries/s.
//    Pinned with taskset (--no-pin turns it off): Neo4j on cpu 1 alone; the load generator on
//    cpu 0, and breakwater on cpu 0 with it, i.e. the sidecar shares the application's core as a
//    sidecar in the application's pod does, and Neo4j's conditions are the same for both targets.
//    Whatever CPU breakwater takes is then taken from the client's core: the ratio is honest.
// 1b. The same with the lean client (--lean-reps, default 3; --no-lean leaves it out): prebuilt
//    RUN+PULL bytes per query, one query at a time per connection, the RECORD compared as bytes
//    (support/bolt-lean-client.ts). neo4j-driver costs about as much CPU per query as Neo4j, so
//    in section 1 the driver's core is the bottleneck and the ratio says who gets that core; with
//    the lean client Neo4j is the bottleneck, as in the other benches where wrk and
//    redis-benchmark load the server, and the ratio says what breakwater costs Neo4j's throughput.
// 2. Added latency at a fixed rate: --rate queries/s (default 200), open loop, latencies
//    measured from each query's SCHEDULED send time (no coordinated omission), direct vs
//    breakwater, --latency-rounds (default 5) rounds of 10 s per target, interleaved, every
//    round's samples kept and merged (percentiles exact: no histogram buckets). Unpinned, as in
//    bench:redis (at this rate nothing is saturated; pinning three processes plus the JVM's threads
//    onto fixed cores only adds wake-up contention that is not breakwater's).
// 3. RSS of breakwater: idle (median over 5 s after /readyz) and after the load.
// Why 200 queries/s and not 500-1000: on this 2-vCPU VM Neo4j as test/services runs it (C1-only
// JIT, serial GC, 16 MiB page cache) took 1.4-2 ms of CPU per query and neo4j-driver ~1 ms
// (session, RUN, PULL, close) while other work shared the cores, so the whole setup saturates at a few hundred queries/s (section 1
// says where); at 1000/s both targets queue for seconds and the "added latency" is queueing, not
// breakwater. A moderate rate is one well below saturation: pass --rate to try another.
// With --profile a fresh breakwater runs under `node --cpu-prof` during a closed-loop run and
// the hottest functions are summarized (test/bench/support/profile.ts).
//
// Where the load generator runs, and why: in a child process of this file (`--loadgen closed|open`),
// one per measured run. neo4j-driver costs real CPU per query (PackStream, promises, the pool), and
// on this 2-vCPU VM the generator is a large part of the load: in its own process it can be pinned
// (taskset), its CPU is measured apart from the orchestrator's (/proc reads, the disturbance guard,
// the results), and nothing the orchestrator does can stall the generator's event loop and delay a
// scheduled send. The child reads the CPU counters of breakwater and Neo4j itself at the edges of
// its measured window, so driver start-up and pool warm-up are outside every figure.
// For (2) the schedule comes from test/bench/support/ticker.ts: a worker thread sleeps until each
// due time (Atomics.wait) and wakes the main thread, which starts every query that is due. The
// generator's own lateness (actual start minus scheduled start) is measured and reported; it is
// in both targets' figures alike, so the differences (breakwater minus direct) are what to read.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePorts } from '../services/ports.js';
import { NEO4J_PASSWORD, NEO4J_USER, startNeo4j, type Neo4jServer } from '../services/neo4j.js';
import {
  commandLog,
  cpuMsOfPid,
  DisturbanceGuard,
  httpOk,
  logCommand,
  memoryOf,
  pinGroup,
  pinPid,
  pinning,
  round,
  run,
  sleep,
  startProcess,
  stopAll,
  waitQuiet,
  waitUntil,
  type Proc,
} from './support/procs.js';
import { summarizeProfile, type ProfileSummary, type Stage } from './support/profile.js';
import { benchCommit, resultFile, runMain, saveResults } from './support/results.js';
import { startHaproxy, startNodeForwarder } from './support/servers.js';
import { LeanBoltConnection, leanQuery, type LeanQuery } from './support/bolt-lean-client.js';
import { ensureDeb, versionOf } from './support/tools.js';
import { CLI, ROOT } from './support/sidecar.js';
import { startTicker, waitAsync } from './support/ticker.js';
import { heading, median, fmt, table, rotate } from './support/report.js';

const SELF = fileURLToPath(import.meta.url);
const QUERY = 'MATCH (u:User {id: $id}) RETURN u.name AS name';
const USERS = 1000;

// ---------------------------------------------------------------------------------------------
// The load generator (`neo4j.bench.js --loadgen closed|open ...`), a child process of the bench.
// ---------------------------------------------------------------------------------------------

interface LoadgenCommon {
  url: string;
  seconds: number;
  warmupSec: number;
  pool: number;
  /** queries completed inside the measured window */
  queries: number;
  /** failed queries inside the measured window */
  errors: number;
  /** answers that were not exactly one row with the expected name */
  wrongAnswers: number;
  firstError?: string;
  /** CPU ms over the measured window, by pid (breakwater, Neo4j) */
  cpuMs: Record<string, number>;
  /** the same split into user and system (kernel) time */
  cpuSplitMs: Record<string, { user: number; sys: number }>;
  /** this process's CPU over the measured window, ms */
  loadgenCpuMs: number;
  /** the measured window, microseconds of the monotonic clock (for the profile) */
  windowUs: [number, number];
  windowSec: number;
  /** busy % of each CPU over the window */
  cpuBusyPct: number[];
}

interface ClosedResult extends LoadgenCommon {
  mode: 'closed';
  concurrency: number;
  qps: number;
  /** closed-loop latency (has coordinated omission; for orientation only), ms */
  latencyMs: { p50: number; p99: number };
}

interface OpenResult extends LoadgenCommon {
  mode: 'open';
  rate: number;
  scheduled: number;
  /** queries of the window not answered when the generator gave up */
  lost: number;
  maxInFlight: number;
  /** Float64Array files (ns): from the scheduled start, from the actual start, the generator's lateness */
  files: { latency: string; service: string; sendLag: string };
}

function perCpuTicks(): { busy: number; total: number }[] {
  const out: { busy: number; total: number }[] = [];
  for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    out[Number(m[1])] = { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
  }
  return out;
}

function perCpuBusy(a: { busy: number; total: number }[], b: { busy: number; total: number }[]): number[] {
  return b.map((x, i) => {
    const y = a[i];
    return y && x.total > y.total ? round(((x.busy - y.busy) / (x.total - y.total)) * 100, 0) : NaN;
  });
}

/** utime and stime in ms of one process (all its threads), from /proc/<pid>/stat. */
function userSysMs(pid: number): { user: number; sys: number } {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { user: Number(f[11]) * 10, sys: Number(f[12]) * 10 }; // USER_HZ 100, as procs.ts
  } catch {
    return { user: NaN, sys: NaN };
  }
}

function percentileOf(sorted: Float64Array | number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((q / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

async function loadgenMain(argv: string[]): Promise<void> {
  const { values: o, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      pool: { type: 'string', default: '16' },
      concurrency: { type: 'string', default: '16' },
      rate: { type: 'string', default: '1000' },
      client: { type: 'string', default: 'driver' },
      pids: { type: 'string', default: '' },
      out: { type: 'string', default: os.tmpdir() },
    },
  });
  const mode = positionals[0];
  if (mode !== 'closed' && mode !== 'open') throw new Error(`--loadgen takes closed or open, not ${mode}`);
  const client = o.client;
  if (client !== 'driver' && client !== 'lean') throw new Error(`--client takes driver or lean, not ${client}`);
  if (client === 'lean' && mode !== 'closed') throw new Error('the lean client runs closed loops only');
  const { default: neo4j } = await import('neo4j-driver');
  const url = o.url!;
  const seconds = Number(o.seconds);
  const warmupSec = Number(o.warmup);
  const pool = Math.max(1, Number(o.pool));
  const pids = o.pids!.split(',').filter(Boolean).map(Number);
  const driver = neo4j.driver(url, neo4j.auth.basic(NEO4J_USER, NEO4J_PASSWORD), {
    maxConnectionPoolSize: pool,
    disableLosslessIntegers: true,
    logging: { level: 'error', logger: () => undefined },
  });
  await driver.verifyConnectivity();
  const now = (): number => Number(process.hrtime.bigint());
  let errors = 0;
  let wrongAnswers = 0;
  let firstError: string | undefined;
  let rnd = 12345;
  const nextId = (): number => {
    rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
    return (rnd % USERS) + 1;
  };
  /** one query in its own session; resolves true when the answer is right */
  const query = async (): Promise<boolean> => {
    const id = nextId();
    const s = driver.session({ defaultAccessMode: neo4j.session.READ });
    try {
      const r = await s.run(QUERY, { id: `u${id}` });
      return r.records.length === 1 && r.records[0]!.get('name') === `User ${id}`;
    } finally {
      await s.close();
    }
  };

  // the window's edges: CPU counters of the given pids, of this process, of each CPU
  let win0 = { t: 0, cpu: [] as number[], split: [] as { user: number; sys: number }[], self: 0, ticks: perCpuTicks() };
  const mark = (): typeof win0 => {
    const c = process.cpuUsage();
    return { t: now(), cpu: pids.map((p) => cpuMsOfPid(p)), split: pids.map((p) => userSysMs(p)), self: (c.user + c.system) / 1000, ticks: perCpuTicks() };
  };
  const common = (end: typeof win0): Omit<LoadgenCommon, 'queries' | 'errors' | 'wrongAnswers'> => ({
    url,
    seconds,
    warmupSec,
    pool,
    cpuMs: Object.fromEntries(pids.map((p, i) => [String(p), round(end.cpu[i]! - win0.cpu[i]!, 0)])),
    cpuSplitMs: Object.fromEntries(pids.map((p, i) => [String(p), { user: end.split[i]!.user - win0.split[i]!.user, sys: end.split[i]!.sys - win0.split[i]!.sys }])),
    loadgenCpuMs: round(end.self - win0.self, 0),
    windowUs: [Math.round(win0.t / 1000), Math.round(end.t / 1000)],
    windowSec: round((end.t - win0.t) / 1e9, 3),
    cpuBusyPct: perCpuBusy(win0.ticks, end.ticks),
  });

  if (mode === 'closed') {
    const concurrency = Math.max(1, Number(o.concurrency));
    let measuring = false;
    let stop = false;
    let queries = 0;
    const lat: number[] = [];
    // The lean client: a connection per worker, each query prebuilt (request and expected RECORD).
    const lean: LeanBoltConnection[] = [];
    let leanQueries: LeanQuery[] = [];
    if (client === 'lean') {
      leanQueries = Array.from({ length: USERS }, (_, i) => leanQuery(QUERY, { id: `u${i + 1}` }, [`User ${i + 1}`]));
      const port = Number(new URL(url).port);
      for (let i = 0; i < concurrency; i++) lean.push(await LeanBoltConnection.open(port, NEO4J_USER, NEO4J_PASSWORD));
    }
    const worker = async (w: number): Promise<void> => {
      const conn = lean[w];
      const run = conn === undefined ? query : (): Promise<boolean> => conn.query(leanQueries[nextId() - 1]!);
      while (!stop) {
        const t = now();
        let ok = false;
        let failed = false;
        try {
          ok = await run();
        } catch (err) {
          failed = true;
          firstError ??= (err as Error).message;
        }
        if (!measuring || stop) continue;
        if (failed) errors++;
        else {
          queries++;
          if (!ok) wrongAnswers++;
          lat.push(now() - t);
        }
      }
    };
    const workers = Array.from({ length: concurrency }, (_, w) => worker(w));
    await sleep(warmupSec * 1000);
    win0 = mark();
    measuring = true;
    await sleep(seconds * 1000);
    const end = mark();
    stop = true;
    await Promise.all(workers);
    for (const c of lean) c.close();
    await driver.close();
    const c = common(end);
    lat.sort((a, b) => a - b);
    const result: ClosedResult = {
      mode,
      ...c,
      concurrency,
      queries,
      errors,
      wrongAnswers,
      qps: Math.round(queries / c.windowSec),
      latencyMs: { p50: round(percentileOf(lat, 50) / 1e6, 3), p99: round(percentileOf(lat, 99) / 1e6, 3) },
      ...(firstError !== undefined ? { firstError } : {}),
    };
    process.stdout.write(`LOADGEN ${JSON.stringify(result)}\n`);
    return;
  }

  // open loop
  const rate = Number(o.rate);
  const intervalNs = 1e9 / rate;
  const total = Math.round(rate * (warmupSec + seconds));
  // fill the pool first (a connection opened during the schedule would be a cost of neither target)
  await Promise.all(Array.from({ length: pool }, () => query().catch(() => false)));
  const latency: number[] = [];
  const service: number[] = [];
  const sendLag: number[] = [];
  let queries = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let measureFrom = Infinity;
  let measureTo = Infinity;
  let pending = 0; // of the window
  const sab = new SharedArrayBuffer(16);
  const seq = new Int32Array(sab, 0, 1);
  const ticker = startTicker(sab, intervalNs, total);
  let t0 = NaN;
  let next = 0;
  while (next < total) {
    const w = waitAsync(seq, 0, next);
    if (w.async) await w.value;
    const due = Atomics.load(seq, 0);
    if (next === 0) {
      t0 = new Float64Array(sab, 8, 1)[0]!;
      measureFrom = t0 + warmupSec * 1e9 - intervalNs / 2;
      measureTo = t0 + (warmupSec + seconds) * 1e9;
    }
    const t = now();
    if (win0.t === 0 && t >= measureFrom) win0 = mark();
    for (; next < due; next++) {
      const s = t0 + next * intervalNs;
      const inWindow = s >= measureFrom;
      if (inWindow) {
        sendLag.push(t - s);
        pending++;
      }
      inFlight++;
      if (inFlight > maxInFlight) maxInFlight = inFlight;
      query().then(
        (ok) => {
          const done = now();
          inFlight--;
          if (!inWindow) return;
          pending--;
          queries++;
          if (!ok) wrongAnswers++;
          latency.push(done - s);
          service.push(done - t);
        },
        (err: Error) => {
          inFlight--;
          if (!inWindow) return;
          pending--;
          errors++;
          firstError ??= err.message;
        },
      );
    }
  }
  await ticker.terminate();
  void measureTo;
  const end = mark();
  const deadline = Date.now() + 10_000;
  while (pending > 0 && Date.now() < deadline) await sleep(5);
  const lost = pending;
  await driver.close();
  const write = (name: string, xs: number[]): string => {
    const file = path.join(o.out!, `${name}-${process.pid}.f64`);
    fs.writeFileSync(file, Buffer.from(new Float64Array(xs).buffer));
    return file;
  };
  const result: OpenResult = {
    mode,
    ...common(end),
    rate,
    scheduled: Math.round(rate * seconds),
    queries,
    errors,
    wrongAnswers,
    lost,
    maxInFlight,
    files: { latency: write('latency', latency), service: write('service', service), sendLag: write('sendlag', sendLag) },
    ...(firstError !== undefined ? { firstError } : {}),
  };
  process.stdout.write(`LOADGEN ${JSON.stringify(result)}\n`);
}

if (process.argv[2] === '--loadgen') {
  try {
    await loadgenMain(process.argv.slice(3));
    process.exit(0);
  } catch (err) {
    process.stderr.write(`loadgen: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: 'throughput,latency' },
    reps: { type: 'string' },
    seconds: { type: 'string' },
    concurrency: { type: 'string', default: '16' },
    rate: { type: 'string', default: '200' },
    'latency-rounds': { type: 'string' },
    profile: { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    'no-peers': { type: 'boolean', default: false },
    'no-lean': { type: 'boolean', default: false },
    'lean-reps': { type: 'string' },
    'max-wait-quiet': { type: 'string', default: '180' },
    'max-other-cpu': { type: 'string', default: '5' },
    'max-attempts': { type: 'string', default: '3' },
  },
});

const QUICK = args.quick === true;
const ONLY = new Set(args.only!.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
for (const x of ONLY) {
  if (!['throughput', 'latency'].includes(x)) {
    process.stderr.write(`--only takes throughput and/or latency (comma-separated), not ${JSON.stringify(x)}\n`);
    process.exit(2);
  }
}
const D = {
  concurrency: Math.max(1, Number(args.concurrency) || 16),
  seconds: Math.max(1, Number(args.seconds ?? (QUICK ? 4 : 10)) || 10),
  /** unmeasured seconds at the start of every closed-loop run (same process, same pool) */
  inRunWarmSec: QUICK ? 1 : 2,
  /** the unmeasured closed-loop run per target before the first repetition */
  targetWarmSec: QUICK ? 3 : 8,
  /** direct queries to Neo4j before anything (plans, JIT) */
  neo4jWarmSec: QUICK ? 10 : 90,
  /** Neo4j's warm-up goes on in steps of this many seconds until two in a row add less than 5% to the best rate... */
  neo4jWarmStepSec: QUICK ? 5 : 15,
  /** ...up to this long: the full JIT's compilations take minutes on 2 cores */
  neo4jWarmMaxSec: QUICK ? 20 : 240,
  reps: Math.max(1, Number(args.reps ?? (QUICK ? 1 : 5)) || 1),
  /** repetitions with the lean client (section 1b) */
  leanReps: Math.max(1, Number(args['lean-reps'] ?? (QUICK ? 1 : 3)) || 1),
  rate: Math.max(1, Number(args.rate) || 200),
  latencyPool: 16,
  latencyWarmSec: QUICK ? 2 : 5,
  latencyRoundSec: QUICK ? 3 : 10,
  latencyRounds: Math.max(1, Number(args['latency-rounds'] ?? (QUICK ? 1 : 5)) || 1),
  /** unmeasured seconds at the rate at the start of every latency round */
  latencyInRunWarmSec: 1,
  idleSec: 5,
};
const TARGETS = { throughputVsDirect: 0.8, addedP99Ms: 1 };
const MAX_OTHER_CPU_PCT = Number(args['max-other-cpu']);
const MAX_ATTEMPTS = Math.max(1, Number(args['max-attempts']) || 3);
/** Processes of ours not in a group procs.ts started (Neo4j, started by test/services). */
const extraPids: number[] = [];
const guard = new DisturbanceGuard({ maxOtherCpuPct: MAX_OTHER_CPU_PCT, maxAttempts: MAX_ATTEMPTS, extraPids });
const measured = guard.measured.bind(guard);

pinning.enabled = !args['no-pin'] && os.availableParallelism() >= 2;
const CPU = { neo4j: '1', load: '0', proxy: '0' };

type TargetName = 'direct' | 'breakwater' | 'haproxy' | 'tcp-pipe';
/** The load generator's client: neo4j-driver (an application), or the lean client (support/bolt-lean-client.ts). */
type Client = 'driver' | 'lean';
interface ThroughputSection {
  runs: ThroughputRun[];
  summary: ThroughputRow[];
}
/** Reference proxies measured with breakwater in section 1: what relaying Bolt costs at all. */
const PEERS = ['haproxy', 'tcp-pipe'] as const;

interface ThroughputRun {
  target: TargetName;
  rep: number;
  qps: number;
  queries: number;
  errors: number;
  wrongAnswers: number;
  closedLatencyMs: { p50: number; p99: number };
  /** CPU per query over the measured window, microseconds */
  bwCpuUsPerQuery: number;
  /** breakwater's user and system (kernel: socket syscalls) time per query */
  bwUserUsPerQuery: number;
  bwSysUsPerQuery: number;
  neo4jCpuUsPerQuery: number;
  loadgenCpuUsPerQuery: number;
  /** % of one core */
  bwCpuPct: number;
  neo4jCpuPct: number;
  loadgenCpuPct: number;
  cpuBusyPct: number[];
  otherCpuPct: number;
  attempts: number;
  firstError?: string;
}

interface ThroughputRow {
  target: TargetName;
  qps: number;
  bwCpuUsPerQuery: number;
  bwUserUsPerQuery: number;
  bwSysUsPerQuery: number;
  neo4jCpuUsPerQuery: number;
  loadgenCpuUsPerQuery: number;
  bwCpuPct: number;
  neo4jCpuPct: number;
  loadgenCpuPct: number;
  closedP50Ms: number;
  closedP99Ms: number;
  cpuBusyPct: number[];
  otherCpuPct: number;
  all: number[];
  errors: number;
}

interface Pcts {
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

interface LatencyTarget {
  queries: number;
  errors: number;
  lost: number;
  wrongAnswers: number;
  latencyMs: Pcts;
  serviceMs: { p50: number; p99: number };
  sendLagMs: { p50: number; p99: number; max: number };
  maxInFlight: number;
  loadgenCpuPct: number;
  /** breakwater's CPU per query at this rate (direct: -) */
  bwCpuUsPerQuery: number;
  neo4jCpuUsPerQuery: number;
  roundsMs: { p50: number; p99: number }[];
  otherCpuPct: number[];
  firstError?: string;
}

type ProfileResult = ProfileSummary & { copiedTo: string; qpsUnderProfiler: number; window: [number, number] };

interface Results {
  startedAt: string;
  finishedAt?: string;
  host: Record<string, unknown>;
  settings: Record<string, unknown>;
  targets: typeof TARGETS;
  configs: Record<string, string>;
  query: string;
  throughput: ThroughputSection;
  /** the same with the lean client */
  throughputLean: ThroughputSection;
  /** queries/s of each step of Neo4j's direct warm-up */
  neo4jWarmUpQps?: number[];
  latency?: { rate: number; byTarget: Partial<Record<TargetName, LatencyTarget>>; addedMs?: Omit<Pcts, 'mean' | 'max'> };
  ratios: Record<string, number>;
  rss: Record<string, { rssMiB: number; hwmMiB: number; minMiB?: number; maxMiB?: number; samples?: number }>;
  /** breakwater_bolt_requests_total by message over the whole run (warm-ups included), from /metrics */
  boltRequests?: Record<string, number>;
  profile?: ProfileResult;
  verdicts: Record<string, string>;
  commands: string[];
  error?: string;
}

const results: Results = {
  startedAt: new Date().toISOString(),
  host: {},
  settings: { ...D, only: [...ONLY], pinning: pinning.enabled ? CPU : 'off', quick: QUICK, users: USERS },
  targets: TARGETS,
  configs: {},
  query: QUERY,
  throughput: { runs: [], summary: [] },
  throughputLean: { runs: [], summary: [] },
  ratios: {},
  rss: {},
  verdicts: {},
  commands: commandLog,
};

function spread(xs: number[]): { rssMiB: number; minMiB: number; maxMiB: number; samples: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { rssMiB: s[Math.floor(s.length / 2)] ?? NaN, minMiB: s[0] ?? NaN, maxMiB: s[s.length - 1] ?? NaN, samples: s.length };
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

// ------------------------------------------------------------------------------- processes

function breakwaterConfig(o: { admin: string; listen: string; upstream: string }): string {
  return `# written by test/bench/neo4j.bench.ts
admin: { listen: ${o.admin} }
log: { level: warn }
dependencies:
  neo4j:
    protocol: bolt
    listen: ${o.listen}
    upstream: ${o.upstream}
    timeout: 5s
    connectTimeout: 2s
    required: true
    breaker: { failures: 5, openFor: 30s, halfOpenSuccesses: 1 }
    health:
      enabled: true
      interval: 5s
      timeout: 2s
      user: ${NEO4J_USER}
      password: "\${NEO4J_PASSWORD}"
    fallback:
      - match: { statement: read }
        use: [static]
`;
}

interface BreakwaterRun {
  proc: Proc;
  port: number;
  url: string;
  admin: string;
}

async function startBreakwater(name: string, dir: string, upstream: string, opts: { cpus?: string; nodeArgs?: string[] } = {}): Promise<BreakwaterRun> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  fs.mkdirSync(dir, { recursive: true });
  const [adminPort, port] = await freePorts(2);
  const configFile = path.join(dir, 'breakwater.yaml');
  const config = breakwaterConfig({ admin: `127.0.0.1:${adminPort}`, listen: `127.0.0.1:${port}`, upstream });
  fs.writeFileSync(configFile, config);
  results.configs.breakwater ??= config;
  const proc = startProcess(name, [process.execPath, ...(opts.nodeArgs ?? []), CLI, 'start', '--config', configFile], {
    cpus: opts.cpus,
    env: { ...process.env, BREAKWATER_ENV: '', NEO4J_PASSWORD },
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  // ready = listening, health check (login + RETURN 1) passed, breaker closed
  await waitUntil(() => httpOk(`${admin}/readyz`), `${name}: GET ${admin}/readyz = 200`, { proc, timeoutMs: 30_000 });
  return { proc, port: port!, url: `bolt://127.0.0.1:${port}`, admin };
}

interface Target {
  name: TargetName;
  url: string;
  what: string;
  proc?: Proc;
}

async function loadgen<T>(mode: 'closed' | 'open', url: string, o: { seconds: number; warmupSec: number; cpus?: string; pids: number[]; out: string; client?: Client }): Promise<T> {
  const argv = [
    process.execPath,
    SELF,
    '--loadgen',
    mode,
    '--url',
    url,
    '--seconds',
    String(o.seconds),
    '--warmup',
    String(o.warmupSec),
    '--pids',
    o.pids.join(','),
    '--out',
    o.out,
    ...(mode === 'closed' ? ['--concurrency', String(D.concurrency), '--pool', String(D.concurrency)] : ['--rate', String(D.rate), '--pool', String(D.latencyPool)]),
    ...(o.client === 'lean' ? ['--client', 'lean'] : []),
  ];
  const r = await run(argv, { cpus: o.cpus, timeoutMs: (o.seconds + o.warmupSec + 60) * 1000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('LOADGEN '));
  if (r.code !== 0 || line === undefined) throw new Error(`load generator failed (exit ${r.code}) on ${url}:\n${r.stderr.slice(-3000)}${r.stdout.slice(-1000)}`);
  return JSON.parse(line.slice(8)) as T;
}

function readF64(file: string): Float64Array {
  const b = fs.readFileSync(file);
  fs.rmSync(file, { force: true });
  return new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function sortedMerge(parts: Float64Array[]): Float64Array {
  const all = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let k = 0;
  for (const p of parts) {
    all.set(p, k);
    k += p.length;
  }
  return all.sort();
}

function pcts(sorted: Float64Array): Pcts {
  const ms = (ns: number): number => round(ns / 1e6, 3);
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    mean: ms(sum / Math.max(1, sorted.length)),
    p50: ms(percentileOf(sorted, 50)),
    p90: ms(percentileOf(sorted, 90)),
    p99: ms(percentileOf(sorted, 99)),
    p999: ms(percentileOf(sorted, 99.9)),
    max: ms(sorted.length ? sorted[sorted.length - 1]! : NaN),
  };
}

// ------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  results.host = {
    commit: benchCommit(),
    cpu,
    cores: os.availableParallelism(),
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    kernel: os.release(),
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
    node: process.version,
    neo4jDriver: packageVersion('neo4j-driver'),
  };
  process.stdout.write(`host: ${JSON.stringify(results.host)}\n`);
  const quiet = await waitQuiet(15, Number(args['max-wait-quiet']) * 1000);
  results.host.otherCpuBusyPctAtStart = quiet.busyPct;
  results.host.waitedForQuietSec = Math.round(quiet.waitedMs / 1000);
  if (quiet.busyPct >= 15) process.stdout.write(`bench: WARNING: ${quiet.busyPct}% of the CPUs are busy with other work: the numbers will be noisy (the CPU us/query columns less so)\n`);

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'breakwater-neo4j-bench-'));
  let neo: Neo4jServer | undefined;
  try {
    heading('services');
    const t0 = performance.now();
    // The full JIT and a page cache that holds the graph: Neo4j's steady state, as in production.
    neo = await startNeo4j({ fullJit: true, heap: '1g', extra: { 'server.memory.pagecache.size': '128m' } });
    const neoPid = neo.pid!;
    extraPids.push(neoPid);
    results.host.neo4j = neo.version;
    logCommand(`java ... org.neo4j.server.CommunityEntryPoint --console-mode &   # Neo4j ${neo.version} (test/services startNeo4j), pid ${neoPid}, ${neo.boltUrl}, ready in ${round((performance.now() - t0) / 1000, 1)} s`);
    await neo.query('CREATE CONSTRAINT user_id IF NOT EXISTS FOR (u:User) REQUIRE u.id IS UNIQUE');
    await neo.query('MATCH (u:User) DETACH DELETE u');
    await neo.query('UNWIND range(1, $n) AS i CREATE (:User {id: "u" + i, name: "User " + i})', { n: USERS });
    await neo.query('CALL db.awaitIndexes(60)');
    process.stdout.write(`bench: seeded ${USERS} :User nodes with a uniqueness constraint on :User(id)\n`);

    heading(
      `warming Neo4j up directly: closed loop in ${D.neo4jWarmStepSec} s steps, at least ${D.neo4jWarmSec} s, until two steps in a row add less than 5% to the best queries/s (at most ${D.neo4jWarmMaxSec} s)`,
    );
    // A fixed warm-up was not enough: one run measured its first repetition at half the rate of the
    // later ones (C2 still compiling). Steps until the rate levels off; the JIT's gains come in
    // jumps (916, 921, then 2,377 queries/s), hence two flat steps in a row.
    let warmedSec = 0;
    let best = 0;
    let flat = 0;
    results.neo4jWarmUpQps = [];
    for (;;) {
      const warm = await loadgen<ClosedResult>('closed', neo.boltUrl, { seconds: D.neo4jWarmStepSec, warmupSec: 1, pids: [], out: work });
      warmedSec += D.neo4jWarmStepSec + 1;
      results.neo4jWarmUpQps.push(warm.qps);
      process.stdout.write(`   direct warm-up (${warmedSec} s): ${warm.qps} queries/s, ${warm.errors} errors${warm.firstError ? ` (${warm.firstError})` : ''}, ${warm.wrongAnswers} wrong answers\n`);
      if (warm.queries === 0) throw new Error(`no query succeeded directly against Neo4j: ${warm.firstError}`);
      flat = warm.qps >= best * 1.05 ? 0 : flat + 1;
      best = Math.max(best, warm.qps);
      if ((warmedSec >= D.neo4jWarmSec && flat >= 2) || warmedSec >= D.neo4jWarmMaxSec) break;
    }

    const bw = await startBreakwater('breakwater', path.join(work, 'bw'), neo.boltUrl);
    process.stdout.write(`bench: breakwater ready (pid ${bw.proc.pid}, listener ${bw.url}); idling ${D.idleSec} s\n`);
    const idle: number[] = [];
    for (let i = 0; i < D.idleSec * 2; i++) {
      await sleep(500);
      idle.push(memoryOf(bw.proc.pid).rssMiB);
    }
    results.rss['breakwater idle'] = { ...memoryOf(bw.proc.pid), ...spread(idle) };
    process.stdout.write(`bench: idle RSS ${JSON.stringify(results.rss['breakwater idle'])}\n`);

    const targets: Target[] = [
      { name: 'direct', url: neo.boltUrl, what: `Neo4j ${neo.version}, no proxy` },
      { name: 'breakwater', url: bw.url, what: 'breakwater protocol: bolt listener', proc: bw.proc },
    ];
    const pids = [bw.proc.pid, neoPid];
    const neoKey = String(neoPid);
    /** The proxy whose CPU a run measures: breakwater's, or a peer's. */
    const proxyKey = (t: Target): string | undefined => (t.proc === undefined ? undefined : String(t.proc.pid));
    const bwKey = proxyKey(targets[1]!)!;

    // 2. Added latency, open loop, unpinned
    if (ONLY.has('latency')) {
      heading(`2. added latency: ${D.rate} queries/s, open loop, pool ${D.latencyPool}, ${D.latencyRounds} x ${D.latencyRoundSec} s per target after a ${D.latencyWarmSec} s warm-up, interleaved; unpinned`);
      const parts: Record<string, OpenResult[]> = {};
      const lat: Record<string, Float64Array[]> = {};
      const svc: Record<string, Float64Array[]> = {};
      const lag: Record<string, Float64Array[]> = {};
      const other: Record<string, number[]> = {};
      for (const t of targets) {
        const w = await loadgen<OpenResult>('open', t.url, { seconds: D.latencyWarmSec, warmupSec: 0, pids, out: work }); // discarded
        for (const f of Object.values(w.files)) fs.rmSync(f, { force: true });
        parts[t.name] = [];
        lat[t.name] = [];
        svc[t.name] = [];
        lag[t.name] = [];
        other[t.name] = [];
      }
      for (let i = 0; i < D.latencyRounds; i++) {
        for (const t of rotate(targets, i)) {
          const m = await measured(`${t.name} latency round ${i + 1}`, () =>
            loadgen<OpenResult>('open', t.url, { seconds: D.latencyRoundSec, warmupSec: D.latencyInRunWarmSec, pids, out: work }),
          );
          const r = m.value;
          const l = readF64(r.files.latency);
          lat[t.name]!.push(l);
          svc[t.name]!.push(readF64(r.files.service));
          lag[t.name]!.push(readF64(r.files.sendLag));
          parts[t.name]!.push(r);
          other[t.name]!.push(m.disturbance.otherCpuPct);
          const p = pcts(sortedMerge([l]));
          process.stdout.write(
            `   ${t.name}: ${r.queries} answers (${round(r.queries / r.seconds, 0)}/s), p50 ${fmt(p.p50)} p99 ${fmt(p.p99)} max ${fmt(p.max)} ms, errors ${r.errors}, lost ${r.lost}, max in flight ${r.maxInFlight}, generator ${round((r.loadgenCpuMs / 10 / r.windowSec), 0)}% CPU, other work ${m.disturbance.otherCpuPct}%${r.firstError ? `; ERROR ${r.firstError}` : ''}\n`,
          );
        }
      }
      const byTarget: Partial<Record<TargetName, LatencyTarget>> = {};
      for (const t of targets) {
        const ps = parts[t.name]!;
        const l = sortedMerge(lat[t.name]!);
        const s = pcts(sortedMerge(svc[t.name]!));
        const g = pcts(sortedMerge(lag[t.name]!));
        const n = ps.reduce((a, p) => a + p.queries, 0);
        const cpuOf = (key: string): number => ps.reduce((a, p) => a + (p.cpuMs[key] ?? 0), 0);
        byTarget[t.name] = {
          queries: n,
          errors: ps.reduce((a, p) => a + p.errors, 0),
          lost: ps.reduce((a, p) => a + p.lost, 0),
          wrongAnswers: ps.reduce((a, p) => a + p.wrongAnswers, 0),
          latencyMs: pcts(l),
          serviceMs: { p50: s.p50, p99: s.p99 },
          sendLagMs: { p50: g.p50, p99: g.p99, max: g.max },
          maxInFlight: Math.max(...ps.map((p) => p.maxInFlight)),
          loadgenCpuPct: round(median(ps.map((p) => p.loadgenCpuMs / 10 / p.windowSec)), 0),
          bwCpuUsPerQuery: t.name === 'breakwater' ? round((cpuOf(bwKey) * 1000) / Math.max(1, n), 1) : NaN,
          neo4jCpuUsPerQuery: round((cpuOf(neoKey) * 1000) / Math.max(1, n), 1),
          roundsMs: lat[t.name]!.map((x) => {
            const p = pcts(sortedMerge([x]));
            return { p50: p.p50, p99: p.p99 };
          }),
          otherCpuPct: other[t.name]!,
          ...(ps.find((p) => p.firstError) ? { firstError: ps.find((p) => p.firstError)!.firstError } : {}),
        };
      }
      results.latency = { rate: D.rate, byTarget };
      const d = byTarget.direct!;
      const b = byTarget.breakwater!;
      results.latency.addedMs = {
        p50: round(b.latencyMs.p50 - d.latencyMs.p50, 3),
        p90: round(b.latencyMs.p90 - d.latencyMs.p90, 3),
        p99: round(b.latencyMs.p99 - d.latencyMs.p99, 3),
        p999: round(b.latencyMs.p999 - d.latencyMs.p999, 3),
      };
    }

    // 1. Throughput, closed loop, pinned
    if (ONLY.has('throughput')) {
      const peers: Target[] = [];
      if (!args['no-peers']) {
        heading('reference proxies (no protocol knowledge): HAProxy mode tcp, and a Node net.Socket pipe');
        const neoPort = Number(new URL(neo.boltUrl).port);
        const haproxyBin = await ensureDeb('haproxy', 'haproxy', { optional: true });
        if (haproxyBin === undefined) process.stdout.write('bench: HAProxy is not installed and could not be: left out\n');
        else {
          results.host.haproxy = await versionOf([haproxyBin, '-v']);
          const h = await startHaproxy(haproxyBin, path.join(work, 'haproxy'), neoPort, 'tcp', CPU.proxy);
          peers.push({ name: 'haproxy', url: `bolt://127.0.0.1:${h.port}`, what: 'HAProxy mode tcp, nbthread 1', proc: h.proc });
        }
        const pipe = await startNodeForwarder('tcp-pipe', neo.boltUrl, 'tcp', CPU.proxy);
        peers.push({ name: 'tcp-pipe', url: `bolt://127.0.0.1:${pipe.port}`, what: 'Node net.Socket pipe, nothing parsed: the floor for a Node proxy', proc: pipe.proc });
        for (const p of peers) pids.push(p.proc!.pid);
      }
      heading('pinning for the throughput runs');
      await pinPid(neoPid, CPU.neo4j);
      await pinGroup(bw.proc.pid, CPU.proxy);
      for (const p of peers) await pinGroup(p.proc!.pid, CPU.proxy);
      const all = [...targets, ...peers];
      const measure = async (client: Client, reps: number, into: ThroughputSection): Promise<void> => {
        const who = client === 'driver' ? 'neo4j-driver' : 'the lean client';
        heading(`${client === 'driver' ? '1' : '1b'}. throughput with ${who}: ${D.concurrency} queries in flight (${D.concurrency} connections), ${D.seconds} s per run after ${D.inRunWarmSec} s, ${reps} repetition(s), targets interleaved`);
        for (const t of all) {
          const w = await loadgen<ClosedResult>('closed', t.url, { seconds: D.targetWarmSec, warmupSec: 1, cpus: CPU.load, pids, out: work, client });
          process.stdout.write(`   warm-up ${t.name}: ${w.qps} queries/s (discarded)\n`);
        }
        for (let rep = 0; rep < reps; rep++) {
          process.stdout.write(`\n-- repetition ${rep + 1}/${reps}\n`);
          for (const t of rotate(all, rep)) {
            const key = proxyKey(t);
            const m = await measured(`${t.name} throughput (${client}) rep ${rep + 1}`, () =>
              loadgen<ClosedResult>('closed', t.url, { seconds: D.seconds, warmupSec: D.inRunWarmSec, cpus: CPU.load, pids, out: work, client }),
            );
            const r = m.value;
            const per = (ms: number): number => round((ms * 1000) / Math.max(1, r.queries), 1);
            const pct = (ms: number): number => round(ms / 10 / r.windowSec, 0);
            const row: ThroughputRun = {
              target: t.name,
              rep: rep + 1,
              qps: r.qps,
              queries: r.queries,
              errors: r.errors,
              wrongAnswers: r.wrongAnswers,
              closedLatencyMs: r.latencyMs,
              bwCpuUsPerQuery: key !== undefined ? per(r.cpuMs[key] ?? NaN) : NaN,
              bwUserUsPerQuery: key !== undefined ? per(r.cpuSplitMs[key]?.user ?? NaN) : NaN,
              bwSysUsPerQuery: key !== undefined ? per(r.cpuSplitMs[key]?.sys ?? NaN) : NaN,
              neo4jCpuUsPerQuery: per(r.cpuMs[neoKey] ?? NaN),
              loadgenCpuUsPerQuery: per(r.loadgenCpuMs),
              bwCpuPct: key !== undefined ? pct(r.cpuMs[key] ?? NaN) : NaN,
              neo4jCpuPct: pct(r.cpuMs[neoKey] ?? NaN),
              loadgenCpuPct: pct(r.loadgenCpuMs),
              cpuBusyPct: r.cpuBusyPct,
              otherCpuPct: m.disturbance.otherCpuPct,
              attempts: m.attempts,
              ...(r.firstError ? { firstError: r.firstError } : {}),
            };
            into.runs.push(row);
            process.stdout.write(
              `   ${t.name}: ${row.qps} queries/s (closed-loop p50 ${fmt(r.latencyMs.p50)} p99 ${fmt(r.latencyMs.p99)} ms); CPU us/query: proxy ${fmt(row.bwCpuUsPerQuery, 1)} (user ${fmt(row.bwUserUsPerQuery, 0)} sys ${fmt(row.bwSysUsPerQuery, 0)}) neo4j ${fmt(row.neo4jCpuUsPerQuery, 1)} loadgen ${fmt(row.loadgenCpuUsPerQuery, 1)}; cpu busy ${r.cpuBusyPct.map((x, i) => `cpu${i} ${x}%`).join(' ')}; errors ${r.errors}, wrong ${r.wrongAnswers}; other work ${row.otherCpuPct}%${r.firstError ? `; first error: ${r.firstError}` : ''}\n`,
            );
          }
        }
        summarizeThroughput(into);
      };
      await measure('driver', D.reps, results.throughput);
      if (!args['no-lean']) await measure('lean', D.leanReps, results.throughputLean);
    }
    results.rss['breakwater after load'] = memoryOf(bw.proc.pid);
    try {
      const text = await (await fetch(`${bw.admin}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      const counts: Record<string, number> = {};
      for (const m of text.matchAll(/^breakwater_bolt_requests_total\{[^}]*message="([^"]+)"[^}]*\} (\S+)$/gm)) counts[m[1]!] = Number(m[2]);
      results.boltRequests = counts;
    } catch (err) {
      process.stdout.write(`bench: could not read ${bw.admin}/metrics: ${(err as Error).message}\n`);
    }
    computeRatios();

    if (args.profile) {
      heading(`profile: breakwater under node --cpu-prof during a closed-loop run (${D.concurrency} in flight, ${D.seconds} s)`);
      await bw.proc.stop();
      results.profile = await profileRun(work, neo.boltUrl, neoPid);
    }
    await stopAll();
    await neo.stop();
    neo = undefined;
  } finally {
    await stopAll();
    await neo?.stop().catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function summarizeThroughput(section: ThroughputSection): void {
  const out: ThroughputRow[] = [];
  for (const target of ['direct', 'breakwater', ...PEERS] as const) {
    const runs = section.runs.filter((r) => r.target === target);
    if (runs.length === 0) continue;
    const ok = runs.filter((r) => r.queries > 0);
    const med = (f: (r: ThroughputRun) => number, d = 1): number => round(median(ok.map(f)), d);
    out.push({
      target,
      qps: Math.round(median(ok.map((r) => r.qps))),
      bwCpuUsPerQuery: med((r) => r.bwCpuUsPerQuery),
      bwUserUsPerQuery: med((r) => r.bwUserUsPerQuery),
      bwSysUsPerQuery: med((r) => r.bwSysUsPerQuery),
      neo4jCpuUsPerQuery: med((r) => r.neo4jCpuUsPerQuery),
      loadgenCpuUsPerQuery: med((r) => r.loadgenCpuUsPerQuery),
      bwCpuPct: med((r) => r.bwCpuPct, 0),
      neo4jCpuPct: med((r) => r.neo4jCpuPct, 0),
      loadgenCpuPct: med((r) => r.loadgenCpuPct, 0),
      closedP50Ms: med((r) => r.closedLatencyMs.p50, 3),
      closedP99Ms: med((r) => r.closedLatencyMs.p99, 3),
      cpuBusyPct: (ok[0]?.cpuBusyPct ?? []).map((_, i) => med((r) => r.cpuBusyPct[i] ?? NaN, 0)),
      otherCpuPct: med((r) => r.otherCpuPct, 1),
      all: runs.map((r) => r.qps),
      errors: runs.reduce((a, r) => a + r.errors + r.wrongAnswers, 0),
    });
  }
  section.summary = out;
}

function disturbed(otherCpuPct: number): string {
  return otherCpuPct > MAX_OTHER_CPU_PCT ? `, UNRELIABLE: other work took up to ${otherCpuPct}% of the CPUs` : '';
}

/** Ratios of one throughput section (keys prefixed with `prefix`) and its verdict on the target. */
function throughputRatios(section: ThroughputSection, prefix: string, client: string): void {
  const v = results.verdicts;
  const put = (k: string, x: number): void => {
    results.ratios[prefix + k] = x;
  };
  const d = section.summary.find((r) => r.target === 'direct');
  const b = section.summary.find((r) => r.target === 'breakwater');
  if (!(d && b && d.qps > 0)) return;
  const ratio = round(b.qps / d.qps, 2);
  put('queries/s: breakwater/direct', ratio);
  // paired: each repetition's breakwater run against the direct run next to it
  const reps = [...new Set(section.runs.map((r) => r.rep))];
  const paired = reps
    .map((rep) => {
      const x = section.runs.find((r) => r.rep === rep && r.target === 'breakwater');
      const y = section.runs.find((r) => r.rep === rep && r.target === 'direct');
      return x && y && y.qps > 0 ? x.qps / y.qps : NaN;
    })
    .filter(Number.isFinite);
  if (paired.length) put('queries/s: breakwater/direct, median of the per-repetition ratios', round(median(paired), 2));
  // From the CPU per query (much less disturbed by other work than queries/s): the ratio if the
  // two cores were the bottleneck, and if the pinned layout's busier core were.
  const dCost = d.neo4jCpuUsPerQuery + d.loadgenCpuUsPerQuery;
  const bCost = b.neo4jCpuUsPerQuery + b.loadgenCpuUsPerQuery + b.bwCpuUsPerQuery;
  if (Number.isFinite(dCost) && Number.isFinite(bCost) && bCost > 0) {
    put('CPU-bound estimate, both cores: (neo4j + client us/q direct) / (neo4j + client + breakwater us/q)', round(dCost / bCost, 2));
    const dCore = Math.max(d.neo4jCpuUsPerQuery, d.loadgenCpuUsPerQuery);
    const bCore = Math.max(b.neo4jCpuUsPerQuery, b.loadgenCpuUsPerQuery + b.bwCpuUsPerQuery);
    put('CPU-bound estimate, pinned layout: busier core direct / busier core breakwater', round(dCore / bCore, 2));
  }
  for (const peer of PEERS) {
    const p = section.summary.find((r) => r.target === peer);
    if (p === undefined || p.qps <= 0) continue;
    put(`queries/s: ${peer}/direct`, round(p.qps / d.qps, 2));
    put(`queries/s: breakwater/${peer}`, round(b.qps / p.qps, 2));
    put(`proxy CPU per query: breakwater/${peer}`, round(b.bwCpuUsPerQuery / p.bwCpuUsPerQuery, 2));
  }
  const other = Math.max(0, ...section.runs.map((r) => r.otherCpuPct));
  const peersSay = PEERS.map((peer) => section.summary.find((r) => r.target === peer))
    .filter((p): p is ThroughputRow => p !== undefined && p.qps > 0)
    .map((p) => `${p.target} ${round(p.qps / d.qps, 2)}x`);
  v[`throughput with ${client}: breakwater >= ${TARGETS.throughputVsDirect}x direct`] =
    `${ratio >= TARGETS.throughputVsDirect ? 'met' : 'MISSED'} (${ratio}x${peersSay.length ? `; reference proxies: ${peersSay.join(', ')}` : ''})${disturbed(other)}`;
}

function computeRatios(): void {
  throughputRatios(results.throughput, '', 'neo4j-driver');
  throughputRatios(results.throughputLean, 'lean client: ', 'the lean client');
  const v = results.verdicts;
  const l = results.latency;
  if (l?.addedMs && l.byTarget.breakwater && l.byTarget.direct) {
    const bad = l.byTarget.breakwater.errors + l.byTarget.breakwater.lost + l.byTarget.direct.errors + l.byTarget.direct.lost;
    const other = Math.max(0, ...l.byTarget.breakwater.otherCpuPct, ...l.byTarget.direct.otherCpuPct);
    v[`added p99 at ${l.rate} queries/s <= ${TARGETS.addedP99Ms} ms`] =
      bad > 0 ? `NOT MEASURED: ${bad} failed or lost queries` : `${l.addedMs.p99 <= TARGETS.addedP99Ms ? 'met' : 'MISSED'} (${l.addedMs.p99} ms)${disturbed(other)}`;
  }
}

// ------------------------------------------------------------------------------- profile

const STAGES: Stage[] = [
  { stage: 'socket reads: onStreamRead (node), everything a read triggers', functionName: 'onStreamRead' },
  { stage: 'socket writes, self (writev + writeBuffer + writeLatin1String + writeUtf8String)', functionName: 'writev', selfOnly: true },
  { stage: '', functionName: 'writeBuffer', selfOnly: true },
  { stage: '', functionName: 'writeLatin1String', selfOnly: true },
  { stage: '', functionName: 'writeUtf8String', selfOnly: true },
  { stage: 'garbage collector', functionName: '(garbage collector)', selfOnly: true },
  { stage: 'idle', functionName: '(idle)', selfOnly: true },
];

async function profileRun(work: string, upstream: string, neoPid: number): Promise<ProfileResult> {
  const profDir = path.join(work, 'cpuprofile');
  fs.mkdirSync(profDir, { recursive: true });
  const bw = await startBreakwater('breakwater-profiled', path.join(work, 'bw-profiled'), upstream, {
    cpus: CPU.proxy,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
  });
  await loadgen<ClosedResult>('closed', bw.url, { seconds: D.targetWarmSec, warmupSec: 1, cpus: CPU.load, pids: [], out: work });
  const r = await loadgen<ClosedResult>('closed', bw.url, { seconds: D.seconds, warmupSec: D.inRunWarmSec, cpus: CPU.load, pids: [bw.proc.pid, neoPid], out: work });
  process.stdout.write(`   under the profiler: ${r.qps} queries/s\n`);
  await bw.proc.stop(30_000); // SIGTERM: graceful exit writes the profile
  const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`node --cpu-prof wrote no profile into ${profDir}`);
  const copiedTo = resultFile('neo4j', results.startedAt, 'cpuprofile');
  fs.copyFileSync(path.join(profDir, file), copiedTo);
  const summary = summarizeProfile(copiedTo, { root: ROOT, top: 20, window: r.windowUs, stages: STAGES });
  const stages: ProfileSummary['stages'] = [];
  for (const st of summary.stages) {
    if (st.stage === '') stages[stages.length - 1]!.pct = round(stages[stages.length - 1]!.pct + st.pct, 1);
    else stages.push(st);
  }
  return { ...summary, stages, window: r.windowUs, qpsUnderProfiler: r.qps, copiedTo: path.relative(ROOT, copiedTo) };
}

// ------------------------------------------------------------------------------- report

function report(): string {
  const out: string[] = [];
  const h = results.host;
  out.push(`breakwater Neo4j (Bolt) data-path benchmark — ${results.startedAt}`);
  out.push(`commit ${h.commit}; ${h.cpu}, ${h.cores} cores; node ${h.node}; Neo4j ${h.neo4j ?? '?'}; neo4j-driver ${h.neo4jDriver}; ${QUICK ? 'QUICK run (short runs)' : 'full run'}`);
  out.push(`query: ${QUERY} (random id of ${USERS}, unique constraint on :User(id)), one session per query`);
  out.push(
    `load average at start ${(h.loadAverageAtStart as number[] | undefined)?.join(' ')}, at end ${(h.loadAverageAtEnd as number[] | undefined)?.join(' ')}; CPUs busy with other work before the start: ${h.otherCpuBusyPctAtStart}% (waited ${h.waitedForQuietSec} s for quiet); measured intervals repeated because other work disturbed them: ${guard.repeated} (threshold ${MAX_OTHER_CPU_PCT}% of the CPUs, at most ${MAX_ATTEMPTS} attempts)`,
  );
  const others = [...results.throughput.runs.map((r) => r.otherCpuPct), ...results.throughputLean.runs.map((r) => r.otherCpuPct), ...Object.values(results.latency?.byTarget ?? {}).flatMap((t) => t?.otherCpuPct ?? [])];
  const otherMedian = median(others);
  if (otherMedian > MAX_OTHER_CPU_PCT) {
    out.push(
      `WARNING: other work took a median ${round(otherMedian, 1)}% of the CPUs (max ${Math.max(...others)}%) during the measured intervals: queries/s and latency figures are unreliable, the CPU us/query columns less so`,
    );
  }
  out.push(
    `pinning: latency runs unpinned; throughput runs ${pinning.enabled ? `pinned: Neo4j on cpu ${CPU.neo4j}; load generator on cpu ${CPU.load}, breakwater (and each reference proxy) on cpu ${CPU.proxy} (with the generator, as a sidecar shares its application's CPU)` : 'unpinned (--no-pin)'}`,
  );
  const section = (title: string, sec: ThroughputSection, reps: number, generator: string): void => {
    const s = sec.summary;
    if (!s.length) return;
    const dq = s.find((r) => r.target === 'direct')?.qps ?? NaN;
    out.push('', `${title} — closed loop, ${D.concurrency} queries in flight (${D.concurrency} connections), ${D.seconds} s per run, median of ${reps} interleaved repetition(s)`);
    out.push(
      table(
        ['target', 'queries/s', 'vs direct', 'p50 ms', 'p99 ms', 'proxy CPU', 'proxy us/q', 'user/sys', 'neo4j us/q', 'gen us/q', 'cpu busy', 'other CPU', ...(reps > 1 ? ['all repetitions queries/s'] : []), 'failed'],
        s.map((r) => [
          r.target,
          r.qps,
          r.target === 'direct' ? '' : `${round(r.qps / dq, 2)}x`,
          fmt(r.closedP50Ms),
          fmt(r.closedP99Ms),
          Number.isFinite(r.bwCpuPct) ? `${r.bwCpuPct}%` : '-',
          fmt(r.bwCpuUsPerQuery, 1),
          Number.isFinite(r.bwUserUsPerQuery) ? `${fmt(r.bwUserUsPerQuery, 0)}/${fmt(r.bwSysUsPerQuery, 0)}` : '-',
          fmt(r.neo4jCpuUsPerQuery, 1),
          fmt(r.loadgenCpuUsPerQuery, 1),
          r.cpuBusyPct.map((x) => `${x}%`).join('/'),
          `${r.otherCpuPct}%`,
          ...(reps > 1 ? [r.all.join(' / ')] : []),
          r.errors,
        ]),
      ),
    );
    out.push(`gen: the load generator, ${generator}`);
  };
  section('1. Throughput with neo4j-driver', results.throughput, D.reps, 'neo4j-driver 6, one session per query (an application)');
  section('1b. Throughput with the lean client', results.throughputLean, D.leanReps, 'the lean client (test/bench/support/bolt-lean-client.ts: prebuilt RUN+PULL bytes, the RECORD compared as bytes; the role wrk and redis-benchmark play in the other benches)');
  if (results.throughput.summary.length || results.throughputLean.summary.length) {
    out.push(
      `haproxy: HAProxy mode tcp, one thread; tcp-pipe: a Node net.Socket pipe (test/bench/forwarders/tcp-pipe.ts) — reference proxies that relay Bolt's bytes without reading them, pinned like breakwater; proxy CPU: the proxy's CPU over the measured window, 100% = one core; proxy/neo4j/gen us/q: CPU time per query of the proxy (breakwater or a reference), of Neo4j (the JVM, all threads) and of the load generator — /proc/<pid>/stat (user/sys: the proxy's split into user and kernel time, where the socket syscalls are), less sensitive to a noisy machine than queries/s; cpu busy: cpu0/cpu1 busy over the window (a core at ~100% is the bottleneck); other CPU: CPU taken by processes the benchmark did not start, % of all CPUs (median); p50/p99: closed-loop, from the generator (coordinated omission: orientation only); failed: errors + wrong answers`,
    );
  }
  const l = results.latency;
  if (l) {
    out.push('', `2. Latency — ${l.rate} queries/s, open loop (this file's generator, neo4j-driver, pool ${D.latencyPool}), ${D.latencyRounds} x ${D.latencyRoundSec} s per target after a ${D.latencyWarmSec} s warm-up, interleaved, merged; unpinned; measured from the scheduled send time`);
    const row = (name: string, r: LatencyTarget | undefined): (string | number)[] =>
      r
        ? [
            name,
            r.queries,
            r.errors + r.lost + r.wrongAnswers,
            fmt(r.latencyMs.p50),
            fmt(r.latencyMs.p90),
            fmt(r.latencyMs.p99),
            fmt(r.latencyMs.p999),
            fmt(r.latencyMs.max),
            fmt(r.serviceMs.p99),
            fmt(r.sendLagMs.p99),
            fmt(r.bwCpuUsPerQuery, 1),
            r.roundsMs.map((x) => fmt(x.p99, 2)).join(' '),
            r.otherCpuPct.map((x) => `${x}%`).join(' '),
          ]
        : [name, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-'];
    const rows = [row('direct', l.byTarget.direct), row('breakwater', l.byTarget.breakwater)];
    if (l.addedMs) rows.push(['added by breakwater', '', '', fmt(l.addedMs.p50), fmt(l.addedMs.p90), fmt(l.addedMs.p99), fmt(l.addedMs.p999), '', '', '', '', '', '']);
    out.push(table(['target', 'queries', 'failed', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'svc p99', 'gen lag p99', 'bw us/q', 'p99 per round', 'other CPU per round'], rows));
    const g = l.byTarget.direct;
    if (g) {
      out.push(
        `gen lag: the generator's lateness (actual minus scheduled start; direct p50 ${fmt(g.sendLagMs.p50)} ms), included in the other columns; svc p99: from the actual start (has coordinated omission); generator CPU ~${g.loadgenCpuPct}% of a core; bw us/q: breakwater's CPU per query at this rate; max in flight: direct ${g.maxInFlight}, breakwater ${l.byTarget.breakwater?.maxInFlight ?? '-'}`,
      );
    }
    for (const [k, t] of Object.entries(l.byTarget)) if (t?.firstError) out.push(`${k}: first error: ${t.firstError}`);
  }
  if (Object.keys(results.ratios).length) {
    out.push('', 'Ratios (the CPU-bound estimates come from the CPU us/query columns, which other work disturbs much less than queries/s)');
    out.push(table(['ratio', 'value'], Object.entries(results.ratios).map(([k, v]) => [k, `${v}x`])));
  }
  const br = results.boltRequests;
  if (br && Object.keys(br).length) {
    const runs = br.RUN ?? 0;
    out.push(
      '',
      `Bolt requests through breakwater over the whole run (breakwater_bolt_requests_total, warm-ups included): ${Object.entries(br)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}${runs > 0 ? ` (${round(v / runs, 2)}/RUN)` : ''}`)
        .join(', ')}`,
    );
  }
  if (Object.keys(results.rss).length) {
    out.push('', '3. Memory of breakwater (/proc/<pid>/status)');
    out.push(
      table(
        ['moment', 'VmRSS MiB', 'min-max MiB', 'VmHWM MiB'],
        Object.entries(results.rss).map(([k, v]) => [k, v.rssMiB, v.minMiB === undefined ? '' : `${v.minMiB}-${v.maxMiB}`, v.hwmMiB]),
      ),
    );
    out.push(`idle = median of ${D.idleSec * 2} samples every 0.5 s over ${D.idleSec} s after /readyz; after load = at the end of the measurements; VmHWM = peak`);
  }
  if (Object.keys(results.verdicts).length) {
    out.push('', 'Targets (reported, not asserted)');
    out.push(table(['target', 'result'], Object.entries(results.verdicts)));
  }
  if (results.profile) {
    const p = results.profile;
    out.push(
      '',
      `Profile — breakwater under node --cpu-prof during a closed-loop run (${p.qpsUnderProfiler} queries/s under the profiler): ${p.durationMs} ms, ${p.samples} samples${p.windowed ? ' inside the measured window' : ''}`,
      `(${p.copiedTo}: open it in Chrome DevTools or speedscope)`,
    );
    out.push(`self time by area: ${Object.entries(p.areas).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}%`).join(', ')}`);
    const rows = (list: typeof p.topSelf): (string | number)[][] => list.map((f) => [f.function, f.area, `${f.selfPct}%`, `${f.totalPct}%`, f.where]);
    out.push('top self time, all code:');
    out.push(table(['function', 'area', 'self', 'total', 'where'], rows(p.topSelf)));
    out.push('by stage (share of samples with that stage on the stack):');
    out.push(table(['stage', 'share'], p.stages.map((st) => [st.stage, `${st.pct}%`])));
    if (p.breakwaterSelf.length) {
      out.push("breakwater's own functions by self time:");
      out.push(table(['function', 'area', 'self', 'total', 'where'], rows(p.breakwaterSelf.slice(0, 15))));
    }
    if (p.breakwaterTotal.length) {
      out.push("breakwater's own functions by total (inclusive) time:");
      out.push(table(['function', 'area', 'self', 'total', 'where'], rows(p.breakwaterTotal.slice(0, 15))));
    }
  }
  if (results.error) out.push('', `ERROR: ${results.error}`);
  return out.join('\n');
}

const exitCode = await runMain(main, results);
for (const section of [results.throughput, results.throughputLean]) if (section.runs.length > 0 && section.summary.length === 0) summarizeThroughput(section);
if (Object.keys(results.verdicts).length === 0) computeRatios();
results.host.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
results.finishedAt = new Date().toISOString();
results.settings.repeatedIntervals = guard.repeated;
saveResults('neo4j', results, report());
process.exit(exitCode);
