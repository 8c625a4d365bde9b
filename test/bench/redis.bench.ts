// Redis data-path benchmark of the `protocol: redis` listener. One command starts everything it
// needs (a real redis-server, twemproxy, the `breakwater start` CLI), measures in ONE run with the
// targets interleaved (so every ratio is against baselines measured minutes apart), prints a
// table and writes JSON + text to test/bench/results/. It reports; it never asserts timings.
//
//   npx tsc -p tsconfig.json && node dist/test/bench/redis.bench.js [--quick] [--only p1,p16,latency]
//        [--reps N] [--profile] [--no-pin] [--no-twemproxy] [--rate R]
//
// 1. Throughput, closed loop: `redis-benchmark -t set|get -c 50 -n N -P 1` and `-P 16` against
//    Redis directly, through breakwater and through twemproxy (nutcracker), --reps repetitions
//    interleaved, median kept. Also the CPU time per request of the server under test (the proxy;
//    for "direct", redis-server) from /proc/<pid>/stat, which a noisy machine disturbs much less.
//    Pinned with taskset (--no-pin turns it off): the proxy on cpu 0, redis-benchmark and
//    redis-server on cpu 1; for "direct" redis-benchmark takes cpu 0.
// 2. Added latency at a fixed rate: GET of an existing key at --rate ops/s (default 5000), open
//    loop, from a load generator in this file (run as a child process: `--loadgen`, see below),
//    latencies measured from each request's SCHEDULED send time (no coordinated omission),
//    direct vs breakwater vs twemproxy, interleaved rounds, histograms merged. Unpinned.
// 3. RSS of breakwater: idle (median over 5 s after /readyz) and after the load.
// With --profile a fresh breakwater runs under `node --cpu-prof` during a `-t get -P 1` run and
// the hottest functions are summarized.
//
// Why a load generator of our own for (2): redis-benchmark cannot hold a rate, memtier_benchmark
// (--rate-limiting) is not packaged in this Debian release, and a closed-loop tool measures
// latency with coordinated omission. Node's timers tick in whole milliseconds, which would send
// requests in bursts of five at 5000/s; here a worker thread sleeps until each scheduled send time
// (Atomics.wait, microsecond timeouts) and wakes the main thread (Atomics.waitAsync), which sends
// every request that is due. The generator's own lateness (send time minus scheduled time, ~0.1 ms
// at p50 and 0.5-1 ms at p99 on this 2-vCPU VM, where wake-ups are the floor) is measured and
// reported; it is in every target's figures alike (growing a little with the CPU the target
// takes), so the differences (breakwater minus direct) are what to read.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePorts } from '../services/ports.js';
import { startRedis, type RedisServer } from '../services/redis.js';
import {
  commandLog,
  cpuMsOfGroup,
  cpuMsOfPid,
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
  DisturbanceGuard,
} from './support/procs.js';
import { summarizeProfile, type ProfileSummary, type Stage } from './support/profile.js';
import { CLI, ROOT } from './support/sidecar.js';
import { benchCommit, resultFile, runMain, saveResults } from './support/results.js';
import { ensureDeb, versionOf } from './support/tools.js';
import { startTicker, waitAsync } from './support/ticker.js';
import { heading, median, fmt, table, rotate } from './support/report.js';

const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------------------------
// HDR-style histogram: log-linear buckets in nanoseconds, 512 sub-buckets per power of two above
// 1024 ns (at most 0.2 % relative error), exact below. Serialized sparse, merged by adding.
// ---------------------------------------------------------------------------------------------
const SUB = 512;
const HIST_SIZE = 64 * SUB;

function bucketOf(ns: number): number {
  const v = Math.max(0, Math.floor(ns));
  if (v < 2 * SUB) return v;
  let shift = Math.floor(Math.log2(v)) - 9;
  let mant = Math.floor(v / 2 ** shift);
  if (mant < SUB) mant = Math.floor(v / 2 ** --shift);
  else if (mant >= 2 * SUB) mant = Math.floor(v / 2 ** ++shift);
  return Math.min(HIST_SIZE - 1, shift * SUB + mant);
}

function valueOf(bucket: number): number {
  if (bucket < 2 * SUB) return bucket;
  const shift = Math.floor(bucket / SUB) - 1;
  const mant = bucket - shift * SUB;
  return (mant + 0.5) * 2 ** shift;
}

class Histogram {
  readonly counts = new Float64Array(HIST_SIZE);
  total = 0;
  min = Infinity;
  max = 0;
  sum = 0;

  record(ns: number): void {
    this.counts[bucketOf(ns)]!++;
    this.total++;
    this.sum += ns;
    if (ns < this.min) this.min = ns;
    if (ns > this.max) this.max = ns;
  }

  add(o: SparseHistogram): void {
    for (const [b, c] of o.buckets) this.counts[b]! += c;
    this.total += o.total;
    this.sum += o.sum;
    if (o.total > 0) {
      this.min = Math.min(this.min, o.min);
      this.max = Math.max(this.max, o.max);
    }
  }

  /** The value (ns) at percentile q (0..100): the midpoint of the bucket holding that rank. */
  percentile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.max(1, Math.ceil((q / 100) * this.total));
    let seen = 0;
    for (let b = 0; b < HIST_SIZE; b++) {
      seen += this.counts[b]!;
      if (seen >= rank) return Math.min(this.max, Math.max(this.min, valueOf(b)));
    }
    return this.max;
  }

  sparse(): SparseHistogram {
    const buckets: [number, number][] = [];
    for (let b = 0; b < HIST_SIZE; b++) if (this.counts[b]! > 0) buckets.push([b, this.counts[b]!]);
    return { buckets, total: this.total, sum: this.sum, min: this.total ? this.min : 0, max: this.max };
  }

  static merged(list: SparseHistogram[]): Histogram {
    const h = new Histogram();
    for (const s of list) h.add(s);
    return h;
  }
}

interface SparseHistogram {
  buckets: [number, number][];
  total: number;
  sum: number;
  min: number;
  max: number;
}

// ---------------------------------------------------------------------------------------------
// The open-loop load generator (`redis.bench.js --loadgen ...`), a child process of the bench.
// ---------------------------------------------------------------------------------------------
interface LoadgenResult {
  port: number;
  rate: number;
  connections: number;
  warmupSec: number;
  seconds: number;
  /** requests scheduled inside the measured window */
  scheduled: number;
  /** replies received for them */
  received: number;
  /** error replies (-ERR ...) among them */
  errorReplies: number;
  /** nil replies (the key was missing) */
  nilReplies: number;
  /** requests of the measured window still unanswered when the generator gave up */
  lost: number;
  maxOutstandingPerConnection: number;
  /** rate achieved over the measured window (replies / window) */
  achievedRate: number;
  /** from the scheduled send time to the reply: what an application would see */
  latency: SparseHistogram;
  /** from the actual send to the reply (has coordinated omission when the generator lags) */
  service: SparseHistogram;
  /** the generator's own lateness: actual send minus scheduled send */
  sendLag: SparseHistogram;
  /** CPU the generator used, % of one core */
  cpuPct: number;
  error?: string;
}


function resp(args: readonly string[]): Buffer {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
}

type Reply = { kind: 'ok' | 'error' | 'nil'; text: string };

/**
 * Parses top-level RESP2 replies (+ - : $) from buf starting at pos; calls onReply for each whole
 * one and returns the offset of the first incomplete byte. Arrays are not expected here.
 */
function parseReplies(buf: Buffer, pos: number, onReply: (r: Reply) => void): number {
  while (pos < buf.length) {
    const eol = buf.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) return pos;
    const type = buf[pos];
    if (type === 0x2b /* + */ || type === 0x3a /* : */) {
      onReply({ kind: 'ok', text: buf.toString('latin1', pos + 1, eol) });
      pos = eol + 2;
    } else if (type === 0x2d /* - */) {
      onReply({ kind: 'error', text: buf.toString('latin1', pos + 1, eol) });
      pos = eol + 2;
    } else if (type === 0x24 /* $ */) {
      const len = Number(buf.toString('latin1', pos + 1, eol));
      if (len < 0) {
        onReply({ kind: 'nil', text: '' });
        pos = eol + 2;
        continue;
      }
      const end = eol + 2 + len + 2;
      if (end > buf.length) return pos;
      onReply({ kind: 'ok', text: '' });
      pos = end;
    } else {
      throw new Error(`unexpected RESP reply type ${JSON.stringify(String.fromCharCode(type ?? 0))}`);
    }
  }
  return pos;
}

/** One command on a fresh connection; resolves to the first reply. */
function redisCommand(port: number, args: readonly string[], timeoutMs = 3000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`no reply from 127.0.0.1:${port} within ${timeoutMs} ms`)), timeoutMs);
    let finished = false;
    function done(err: Error | undefined, r?: Reply): void {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(r!);
    }
    socket.on('connect', () => socket.write(resp(args)));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        parseReplies(buf, 0, (r) => done(undefined, r));
      } catch (err) {
        done(err as Error);
      }
    });
    socket.on('error', (err) => done(err));
    socket.on('close', () => done(new Error(`127.0.0.1:${port} closed the connection without a reply`)));
  });
}


const LATENCY_KEY = 'breakwater:bench:latency';
const LATENCY_VALUE = 'v'.repeat(32);

async function loadgenMain(argv: string[]): Promise<void> {
  const { values: o } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      rate: { type: 'string', default: '5000' },
      seconds: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '0' },
      connections: { type: 'string', default: '8' },
    },
  });
  const port = Number(o.port);
  const rate = Number(o.rate);
  const seconds = Number(o.seconds);
  const warmupSec = Number(o.warmup);
  const nConn = Math.max(1, Number(o.connections));
  const cpu0 = process.cpuUsage();
  const intervalNs = 1e9 / rate;
  const total = Math.round(rate * (warmupSec + seconds));

  const latency = new Histogram();
  const service = new Histogram();
  const sendLag = new Histogram();
  let errorReplies = 0;
  let nilReplies = 0;
  let received = 0;
  let maxOutstanding = 0;
  /** a broken connection or protocol: ends the run */
  let firstError: string | undefined;
  let firstErrorReply: string | undefined;

  interface Conn {
    socket: net.Socket;
    sched: number[];
    sent: number[];
    head: number;
    rest: Buffer | null;
  }
  let measureFrom = Infinity;
  const now = (): number => Number(process.hrtime.bigint());
  const conns: Conn[] = [];
  for (let i = 0; i < nConn; i++) {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c: Conn = { socket, sched: [], sent: [], head: 0, rest: null };
    socket.on('error', (err) => {
      firstError ??= `connection ${i}: ${err.message}`;
    });
    socket.on('close', () => {
      if (c.head < c.sched.length) firstError ??= `connection ${i} closed with ${c.sched.length - c.head} requests outstanding`;
    });
    socket.on('data', (chunk: Buffer) => {
      const t = now();
      const buf = c.rest ? Buffer.concat([c.rest, chunk]) : chunk;
      let pos: number;
      try {
        pos = parseReplies(buf, 0, (r) => {
          if (c.head >= c.sched.length) {
            firstError ??= `connection ${i}: a reply nobody asked for`;
            return;
          }
          const s = c.sched[c.head]!;
          const sent = c.sent[c.head]!;
          c.head++;
          if (s < measureFrom) return;
          received++;
          if (r.kind === 'error') {
            errorReplies++;
            firstErrorReply ??= r.text; // counted and reported; the schedule goes on
          } else if (r.kind === 'nil') nilReplies++;
          latency.record(t - s);
          service.record(t - sent);
        });
      } catch (err) {
        firstError ??= `connection ${i}: ${(err as Error).message}`;
        socket.destroy();
        return;
      }
      c.rest = pos < buf.length ? buf.subarray(pos) : null;
      if (c.head > 4096 && c.head * 2 > c.sched.length) {
        c.sched.splice(0, c.head);
        c.sent.splice(0, c.head);
        c.head = 0;
      }
    });
    conns.push(c);
  }
  // the key every GET reads
  const set = await redisCommand(port, ['SET', LATENCY_KEY, LATENCY_VALUE]);
  if (set.kind !== 'ok') throw new Error(`SET ${LATENCY_KEY} answered ${set.kind}: ${set.text}`);

  const request = resp(['GET', LATENCY_KEY]);
  const sab = new SharedArrayBuffer(16);
  const seq = new Int32Array(sab, 0, 1);
  const ticker = startTicker(sab, intervalNs, total);
  let t0 = NaN;
  let next = 0;
  while (next < total && firstError === undefined) {
    const w = waitAsync(seq, 0, next);
    if (w.async) await w.value;
    const due = Atomics.load(seq, 0);
    if (next === 0) {
      t0 = new Float64Array(sab, 8, 1)[0]!;
      measureFrom = t0 + warmupSec * 1e9 - intervalNs / 2;
    }
    const t = now();
    for (; next < due; next++) {
      const s = t0 + next * intervalNs;
      const c = conns[next % nConn]!;
      c.sched.push(s);
      c.sent.push(t);
      if (s >= measureFrom) sendLag.record(t - s);
      c.socket.write(request);
      const outstanding = c.sched.length - c.head;
      if (outstanding > maxOutstanding) maxOutstanding = outstanding;
    }
  }
  await ticker.terminate();
  // wait for the last replies (at most 5 s)
  const deadline = Date.now() + 5000;
  while (conns.some((c) => c.head < c.sched.length) && Date.now() < deadline && firstError === undefined) {
    await new Promise((r) => setTimeout(r, 5));
  }
  let lost = 0;
  for (const c of conns) {
    for (let k = c.head; k < c.sched.length; k++) if (c.sched[k]! >= measureFrom) lost++;
    c.socket.destroy();
  }
  const cpu = process.cpuUsage(cpu0);
  const wallSec = (now() - t0) / 1e9 + 0.05;
  const result: LoadgenResult = {
    port,
    rate,
    connections: nConn,
    warmupSec,
    seconds,
    scheduled: Math.round(rate * seconds),
    received,
    errorReplies,
    nilReplies,
    lost,
    maxOutstandingPerConnection: maxOutstanding,
    achievedRate: Math.round(received / seconds),
    latency: latency.sparse(),
    service: service.sparse(),
    sendLag: sendLag.sparse(),
    cpuPct: Math.round(((cpu.user + cpu.system) / 1e6 / wallSec) * 1000) / 10,
    ...(firstError !== undefined || firstErrorReply !== undefined ? { error: firstError ?? `error reply: ${firstErrorReply}` } : {}),
  };
  process.stdout.write(`LOADGEN ${JSON.stringify(result)}\n`);
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------
if (process.argv[2] === '--loadgen') {
  try {
    await loadgenMain(process.argv.slice(3));
    process.exit(0);
  } catch (err) {
    process.stderr.write(`loadgen: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  }
}

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: 'p1,p16,latency' },
    reps: { type: 'string' },
    'latency-rounds': { type: 'string' },
    rate: { type: 'string', default: '5000' },
    profile: { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    'no-twemproxy': { type: 'boolean', default: false },
    'max-wait-quiet': { type: 'string', default: '180' },
    'max-other-cpu': { type: 'string', default: '5' },
    'max-attempts': { type: 'string', default: '3' },
  },
});

const QUICK = args.quick === true;
const ONLY = new Set(args.only!.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
for (const o of ONLY) {
  if (!['p1', 'p16', 'latency'].includes(o)) {
    process.stderr.write(`--only takes p1, p16 and/or latency (comma-separated), not ${JSON.stringify(o)}\n`);
    process.exit(2);
  }
}
const PIPELINES = ([1, 16] as const).filter((p) => ONLY.has(`p${p}`));
const D = {
  clients: 50,
  /** redis-benchmark -n per run, by -P: about 3-8 s per run at the rates seen here */
  requests: { 1: QUICK ? 20_000 : 200_000, 16: QUICK ? 200_000 : 2_000_000 } as Record<number, number>,
  /** unmeasured redis-benchmark run per target and -P before the first repetition */
  warmRequests: { 1: QUICK ? 10_000 : 50_000, 16: QUICK ? 100_000 : 500_000 } as Record<number, number>,
  reps: Math.max(1, Number(args.reps ?? (QUICK ? 1 : 5)) || 1),
  rate: Math.max(1, Number(args.rate) || 5000),
  latencyConnections: 8,
  latencyWarmSec: QUICK ? 2 : 5,
  latencyRoundSec: QUICK ? 3 : 10,
  latencyRounds: Math.max(1, Number(args['latency-rounds'] ?? (QUICK ? 1 : 3)) || 1),
  idleSec: 5,
};
/** every latency round starts with this many seconds at the rate that are not recorded */
const LATENCY_INRUN_WARM_SEC = 1;
const TARGETS = { p1VsTwemproxy: 0.5, p16VsTwemproxy: 1.0, addedP99Ms: 0.5 };
const MAX_OTHER_CPU_PCT = Number(args['max-other-cpu']);
/** 1: never repeat (on a machine that is never quiet); verdicts still say UNRELIABLE */
const MAX_ATTEMPTS = Math.max(1, Number(args['max-attempts']) || 3);
/** Processes of ours not in a group procs.ts started (redis-server, started by test/services). */
const extraPids: number[] = [];
const guard = new DisturbanceGuard({ maxOtherCpuPct: MAX_OTHER_CPU_PCT, maxAttempts: MAX_ATTEMPTS, extraPids });
const measured = guard.measured.bind(guard);

const multiCore = os.availableParallelism() >= 2;
pinning.enabled = !args['no-pin'] && multiCore;
const CPU = { proxy: '0', load: '1', upstream: '1', directLoad: '0' };

type TargetName = 'direct' | 'breakwater' | 'twemproxy';


/** busy and total ticks per CPU (cpu0, cpu1, ...) from /proc/stat */
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

// ------------------------------------------------------------------------------- results types

interface BenchRun {
  target: TargetName;
  pipeline: number;
  test: 'SET' | 'GET';
  rep: number;
  requests: number;
  reqPerSec: number;
  /** redis-benchmark's own latency figures (closed loop), ms */
  latencyMs: { avg: number; p50: number; p95: number; p99: number; max: number };
  wallSec: number;
  /** CPU of the server under test (the proxy; for "direct" redis-server) */
  serverCpuMs: number;
  serverCpuUsPerReq: number;
  /** % of one core */
  serverCpuPct: number;
  /** redis-server's CPU per request (for proxies: what reaches Redis behind them) */
  redisCpuUsPerReq: number;
  /** busy % of each CPU over the run */
  cpuBusyPct: number[];
  otherCpuPct: number;
  attempts: number;
  error?: string;
}

interface ThroughputRow {
  target: TargetName;
  pipeline: number;
  test: 'SET' | 'GET';
  /** medians over the repetitions */
  reqPerSec: number;
  serverCpuUsPerReq: number;
  serverCpuPct: number;
  /** redis-server's CPU per request behind the target (median) */
  redisCpuUsPerReq: number;
  /** median share of the CPUs other work took during the runs */
  otherCpuPct: number;
  p50Ms: number;
  p99Ms: number;
  cpuBusyPct: number[];
  all: number[];
  errors: number;
}

interface LatencyTarget {
  requests: number;
  errors: number;
  lost: number;
  /** ms, from the scheduled send time */
  latencyMs: { mean: number; p50: number; p90: number; p99: number; p999: number; max: number };
  /** ms, from the actual send */
  serviceMs: { p50: number; p99: number };
  /** ms, the generator's lateness */
  sendLagMs: { p50: number; p99: number; max: number };
  achievedRate: number;
  maxOutstandingPerConnection: number;
  loadgenCpuPct: number;
  /** p50 and p99 (ms) of each round, in the order run: one disturbed round can own a merged p99 */
  roundsMs: { p50: number; p99: number }[];
  /** CPU per request of the proxy (direct: redis-server) at this rate */
  serverCpuUsPerReq: number;
  otherCpuPct: number[];
  firstError?: string;
}

interface Results {
  startedAt: string;
  finishedAt?: string;
  host: Record<string, unknown>;
  settings: Record<string, unknown>;
  targets: typeof TARGETS;
  configs: Record<string, string>;
  throughput: { runs: BenchRun[]; summary: ThroughputRow[] };
  latency?: {
    rate: number;
    byTarget: Partial<Record<TargetName, LatencyTarget>>;
    /** breakwater minus direct, ms */
    addedMs?: { p50: number; p90: number; p99: number; p999: number };
    twemproxyAddedMs?: { p50: number; p90: number; p99: number; p999: number };
  };
  ratios: Record<string, number>;
  rss: Record<string, { rssMiB: number; hwmMiB: number; minMiB?: number; maxMiB?: number; samples?: number }>;
  profile?: ProfileResult;
  verdicts: Record<string, string>;
  commands: string[];
  error?: string;
}

const results: Results = {
  startedAt: new Date().toISOString(),
  host: {},
  settings: { ...D, only: [...ONLY], pinning: pinning.enabled ? CPU : 'off', quick: QUICK },
  targets: TARGETS,
  configs: {},
  throughput: { runs: [], summary: [] },
  ratios: {},
  rss: {},
  verdicts: {},
  commands: commandLog,
};

async function hostInfo(tools: Record<string, string | undefined>): Promise<Record<string, unknown>> {
  const commit = benchCommit();
  // which listener `protocol: redis` runs in this build: the RESP-aware one or the interim
  // connection guard (a socket pipe)
  let listener = 'unknown';
  try {
    const sidecar = fs.readFileSync(path.join(ROOT, 'dist/src/sidecar.js'), 'utf8');
    if (sidecar.includes('proxy/redis/listener.js')) listener = 'RESP listener (src/proxy/redis/listener.ts)';
    else if (sidecar.includes('proxy/redis/connection-guard.js')) listener = 'interim connection guard (src/proxy/redis/connection-guard.ts, a socket pipe)';
  } catch {
    // not built
  }
  let listenerFiles: string[] = [];
  try {
    listenerFiles = fs.readdirSync(path.join(ROOT, 'dist/src/proxy/redis')).filter((f) => f.endsWith('.js'));
  } catch {
    // none
  }
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    commit,
    cpu,
    cores: os.availableParallelism(),
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    kernel: os.release(),
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
    node: process.version,
    redisListener: listener,
    /** the compiled redis listener modules */
    redisListenerModules: listenerFiles,
    redisServer: await versionOf([tools.redisServer!, '--version']),
    redisBenchmark: await versionOf([tools.redisBenchmark!, '--version']),
    twemproxy: tools.nutcracker ? await versionOf([tools.nutcracker, '-V']) : 'not installed',
  };
}

// ------------------------------------------------------------------------------- processes

interface Target {
  name: TargetName;
  port: number;
  what: string;
  /** CPU ms used so far by the server under test */
  cpuMs: () => number;
  /** where redis-benchmark runs when pinned */
  loadCpus: string;
  proc?: Proc;
}

function breakwaterConfig(o: { admin: string; listen: string; upstream: string }): string {
  return `# written by test/bench/redis.bench.ts
admin: { listen: ${o.admin} }
log: { level: warn }
dependencies:
  redis:
    protocol: redis
    listen: ${o.listen}
    upstream: ${o.upstream}
`;
}

interface BreakwaterRun {
  proc: Proc;
  port: number;
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
    env: { ...process.env, BREAKWATER_ENV: '' },
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  await waitUntil(() => httpOk(`${admin}/readyz`), `${name}: GET ${admin}/readyz = 200`, { proc, timeoutMs: 30_000 });
  await waitUntil(async () => (await redisCommand(port!, ['PING'])).text === 'PONG', `${name}: PING through 127.0.0.1:${port} = +PONG`, { proc, timeoutMs: 15_000 });
  return { proc, port: port!, admin };
}

function twemproxyConfig(listen: string, redisPort: number): string {
  return `# written by test/bench/redis.bench.ts
bench:
  listen: ${listen}
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  servers:
    - 127.0.0.1:${redisPort}:1
`;
}

async function startTwemproxy(bin: string, dir: string, redisPort: number): Promise<{ proc: Proc; port: number }> {
  fs.mkdirSync(dir, { recursive: true });
  const [port, statsPort] = await freePorts(2);
  const conf = path.join(dir, 'nutcracker.yml');
  const config = twemproxyConfig(`127.0.0.1:${port}`, redisPort);
  fs.writeFileSync(conf, config);
  results.configs.twemproxy = config;
  // -v 4: warnings only (5, the default, logs every connection); -s/-a: stats on a free port
  const proc = startProcess('twemproxy', [bin, '-c', conf, '-s', String(statsPort), '-a', '127.0.0.1', '-v', '4', '-o', path.join(dir, 'nutcracker.log')]);
  // twemproxy takes multibulk commands only: PING as RESP
  await waitUntil(async () => (await redisCommand(port!, ['PING'])).text === 'PONG', `twemproxy: PING through 127.0.0.1:${port} = +PONG`, { proc, timeoutMs: 15_000 });
  return { proc, port: port! };
}

// ------------------------------------------------------------------------------- throughput

interface CsvRow {
  test: string;
  rps: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** redis-benchmark --csv: a header line, then "TEST","rps","avg","min","p50","p95","p99","max" */
function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(',').map((c) => c.replace(/^"|"$/g, ''));
    if (cols.length < 8 || cols[0] === 'test') continue;
    const n = cols.slice(1).map(Number);
    if (!n.every(Number.isFinite)) continue;
    rows.push({ test: cols[0]!, rps: n[0]!, avg: n[1]!, p50: n[3]!, p95: n[4]!, p99: n[5]!, max: n[6]! });
  }
  return rows;
}

function benchArgv(bin: string, port: number, test: string, pipeline: number, requests: number): string[] {
  return [bin, '-h', '127.0.0.1', '-p', String(port), '-t', test, '-c', String(D.clients), '-n', String(requests), '-P', String(pipeline), '--csv'];
}

async function benchOnce(bin: string, t: Target, test: 'SET' | 'GET', pipeline: number, rep: number, redisPid: number): Promise<BenchRun> {
  const n = D.requests[pipeline]!;
  const m = await measured(`${t.name} ${test} -P ${pipeline}`, async () => {
    const cpu0 = t.cpuMs();
    const redis0 = cpuMsOfPid(redisPid);
    const ticks0 = perCpuTicks();
    const w0 = performance.now();
    const r = await run(benchArgv(bin, t.port, test.toLowerCase(), pipeline, n), { cpus: t.loadCpus, timeoutMs: 600_000 });
    const wallMs = performance.now() - w0;
    return { r, wallMs, serverCpuMs: t.cpuMs() - cpu0, redisCpuMs: cpuMsOfPid(redisPid) - redis0, cpuBusyPct: perCpuBusy(ticks0, perCpuTicks()) };
  });
  const { r, wallMs, serverCpuMs, redisCpuMs, cpuBusyPct } = m.value;
  const row = parseCsv(r.stdout).find((x) => x.test === test);
  const run0: BenchRun = {
    target: t.name,
    pipeline,
    test,
    rep,
    requests: n,
    reqPerSec: row ? Math.round(row.rps) : NaN,
    latencyMs: row ? { avg: row.avg, p50: row.p50, p95: row.p95, p99: row.p99, max: row.max } : { avg: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN },
    wallSec: round(wallMs / 1000, 2),
    serverCpuMs: round(serverCpuMs, 0),
    serverCpuUsPerReq: round((serverCpuMs * 1000) / n, 2),
    serverCpuPct: round((serverCpuMs / wallMs) * 100, 0),
    redisCpuUsPerReq: round((redisCpuMs * 1000) / n, 2),
    cpuBusyPct,
    otherCpuPct: m.disturbance.otherCpuPct,
    attempts: m.attempts,
  };
  if (r.code !== 0 || !row) {
    run0.error = `redis-benchmark exit ${r.code}${row ? '' : ', no CSV row'}: ${(r.stderr + r.stdout).trim().slice(-500)}`;
    process.stdout.write(`   FAILED: ${run0.error}\n`);
  } else {
    process.stdout.write(
      `   ${t.name} ${test} -P ${pipeline}: ${run0.reqPerSec} req/s, p50 ${fmt(run0.latencyMs.p50)} p99 ${fmt(run0.latencyMs.p99)} ms; server CPU ${run0.serverCpuPct}% = ${run0.serverCpuUsPerReq} us/req; cpu busy ${cpuBusyPct.map((x, i) => `cpu${i} ${x}%`).join(' ')}; other work ${run0.otherCpuPct}%\n`,
    );
  }
  return run0;
}

function summarizeThroughput(): void {
  const out: ThroughputRow[] = [];
  for (const pipeline of PIPELINES) {
    for (const test of ['GET', 'SET'] as const) {
      for (const target of ['direct', 'breakwater', 'twemproxy'] as const) {
        const runs = results.throughput.runs.filter((r) => r.pipeline === pipeline && r.test === test && r.target === target);
        if (runs.length === 0) continue;
        const ok = runs.filter((r) => r.error === undefined);
        out.push({
          target,
          pipeline,
          test,
          reqPerSec: Math.round(median(ok.map((r) => r.reqPerSec))),
          serverCpuUsPerReq: round(median(ok.map((r) => r.serverCpuUsPerReq)), 2),
          serverCpuPct: round(median(ok.map((r) => r.serverCpuPct)), 0),
          redisCpuUsPerReq: round(median(ok.map((r) => r.redisCpuUsPerReq)), 2),
          otherCpuPct: round(median(runs.map((r) => r.otherCpuPct)), 1),
          p50Ms: round(median(ok.map((r) => r.latencyMs.p50)), 3),
          p99Ms: round(median(ok.map((r) => r.latencyMs.p99)), 3),
          cpuBusyPct: (ok[0]?.cpuBusyPct ?? []).map((_, i) => round(median(ok.map((r) => r.cpuBusyPct[i] ?? NaN)), 0)),
          all: runs.map((r) => r.reqPerSec),
          errors: runs.length - ok.length,
        });
      }
    }
  }
  results.throughput.summary = out;
}

// ------------------------------------------------------------------------------- latency

async function loadgen(port: number, seconds: number, warmupSec: number): Promise<LoadgenResult> {
  const argv = [process.execPath, SELF, '--loadgen', '--port', String(port), '--rate', String(D.rate), '--seconds', String(seconds), '--warmup', String(warmupSec), '--connections', String(D.latencyConnections)];
  const r = await run(argv, { timeoutMs: (seconds + warmupSec + 60) * 1000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('LOADGEN '));
  if (r.code !== 0 || line === undefined) throw new Error(`load generator failed (exit ${r.code}) on port ${port}:\n${r.stderr.slice(-3000)}${r.stdout.slice(-1000)}`);
  return JSON.parse(line.slice(8)) as LoadgenResult;
}

// ------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  heading('tools');
  const redisServer = (await ensureDeb('redis-server', 'redis-server'))!;
  const redisBenchmark = (await ensureDeb('redis-benchmark', 'redis-tools'))!;
  const nutcracker = args['no-twemproxy'] ? undefined : await ensureDeb('nutcracker', 'nutcracker', { optional: true });
  results.host = await hostInfo({ redisServer, redisBenchmark, nutcracker });
  process.stdout.write(`host: ${JSON.stringify(results.host)}\n`);
  process.stdout.write(
    `pinning (throughput runs only): ${pinning.enabled ? `proxy cpu ${CPU.proxy}, redis-benchmark + redis-server cpu ${CPU.load} (direct: redis-benchmark cpu ${CPU.directLoad}, redis-server cpu ${CPU.upstream})` : 'off'}\n`,
  );
  const quiet = await waitQuiet(15, Number(args['max-wait-quiet']) * 1000);
  results.host.otherCpuBusyPctAtStart = quiet.busyPct;
  results.host.waitedForQuietSec = Math.round(quiet.waitedMs / 1000);
  if (quiet.busyPct >= 15) {
    process.stdout.write(`bench: WARNING: ${quiet.busyPct}% of the CPUs are busy with other work: the numbers will be noisy (the CPU us/req columns less so)\n`);
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'breakwater-redis-bench-'));
  let redis: RedisServer | undefined;
  try {
    heading('services');
    redis = await startRedis();
    const redisPid = redis.pid!;
    extraPids.push(redisPid);
    logCommand(`redis-server --port ${redis.port} --bind 127.0.0.1 --save '' --appendonly no --dir ${redis.dir} &   # redis (test/services startRedis), pid ${redisPid}`);
    const bw = await startBreakwater('breakwater', path.join(work, 'bw'), redis.url);
    process.stdout.write(`bench: breakwater ready (pid ${bw.proc.pid}, listener 127.0.0.1:${bw.port}); idling ${D.idleSec} s\n`);
    const idle: number[] = [];
    for (let i = 0; i < D.idleSec * 2; i++) {
      await sleep(500);
      idle.push(memoryOf(bw.proc.pid).rssMiB);
    }
    results.rss['breakwater idle'] = { ...memoryOf(bw.proc.pid), ...spread(idle) };
    process.stdout.write(`bench: idle RSS ${JSON.stringify(results.rss['breakwater idle'])}\n`);
    const twem = nutcracker
      ? await startTwemproxy(nutcracker, path.join(work, 'twemproxy'), redis.port).catch((err: Error) => {
          process.stdout.write(`bench: twemproxy did not start, leaving it out: ${err.message}\n`);
          return undefined;
        })
      : undefined;

    const group = (pgid: number) => () => cpuMsOfGroup(pgid);
    const targets: Target[] = [
      { name: 'direct', port: redis.port, what: 'redis-server, no proxy', cpuMs: () => cpuMsOfPid(redisPid), loadCpus: CPU.directLoad },
      { name: 'breakwater', port: bw.port, what: 'breakwater protocol: redis listener', cpuMs: group(bw.proc.pid), loadCpus: CPU.load, proc: bw.proc },
      ...(twem
        ? [{ name: 'twemproxy' as const, port: twem.port, what: 'twemproxy 0.5 (nutcracker), 1 server connection', cpuMs: group(twem.proc.pid), loadCpus: CPU.load, proc: twem.proc }]
        : []),
    ];

    // 2. Added latency, open loop, unpinned
    if (ONLY.has('latency')) {
      heading(`2. added latency: GET at ${D.rate} ops/s, open loop, ${D.latencyConnections} connections, ${D.latencyRounds} x ${D.latencyRoundSec} s per target after a ${D.latencyWarmSec} s warm-up, interleaved; unpinned`);
      const hist: Record<string, { latency: SparseHistogram[]; service: SparseHistogram[]; sendLag: SparseHistogram[] }> = {};
      const parts: Record<string, LoadgenResult[]> = {};
      const cpuMs: Record<string, number> = {};
      const other: Record<string, number[]> = {};
      for (const t of targets) {
        await loadgen(t.port, D.latencyWarmSec, 0); // warm-up (JIT, connections), discarded
        hist[t.name] = { latency: [], service: [], sendLag: [] };
        parts[t.name] = [];
        cpuMs[t.name] = 0;
        other[t.name] = [];
      }
      for (let i = 0; i < D.latencyRounds; i++) {
        for (const t of rotate(targets, i)) {
          const m = await measured(`${t.name} latency round ${i + 1}`, async () => {
            const c0 = t.cpuMs();
            const r = await loadgen(t.port, D.latencyRoundSec, LATENCY_INRUN_WARM_SEC);
            return { r, cpuMs: t.cpuMs() - c0 };
          });
          const r = m.value.r;
          hist[t.name]!.latency.push(r.latency);
          hist[t.name]!.service.push(r.service);
          hist[t.name]!.sendLag.push(r.sendLag);
          parts[t.name]!.push(r);
          cpuMs[t.name]! += m.value.cpuMs;
          other[t.name]!.push(m.disturbance.otherCpuPct);
          const h = Histogram.merged([r.latency]);
          process.stdout.write(
            `   ${t.name}: ${r.received} replies (${r.achievedRate}/s), p50 ${fmt(h.percentile(50) / 1e6)} p99 ${fmt(h.percentile(99) / 1e6)} ms, errors ${r.errorReplies}, lost ${r.lost}, generator ${r.cpuPct}% CPU, other work ${m.disturbance.otherCpuPct}%${r.error ? `; ERROR ${r.error}` : ''}\n`,
          );
        }
      }
      const byTarget: Partial<Record<TargetName, LatencyTarget>> = {};
      for (const t of targets) {
        const l = Histogram.merged(hist[t.name]!.latency);
        const s = Histogram.merged(hist[t.name]!.service);
        const g = Histogram.merged(hist[t.name]!.sendLag);
        const ps = parts[t.name]!;
        const msOf = (ns: number): number => round(ns / 1e6, 3);
        byTarget[t.name] = {
          requests: l.total,
          errors: ps.reduce((a, p) => a + p.errorReplies, 0),
          lost: ps.reduce((a, p) => a + p.lost, 0),
          latencyMs: { mean: msOf(l.sum / Math.max(1, l.total)), p50: msOf(l.percentile(50)), p90: msOf(l.percentile(90)), p99: msOf(l.percentile(99)), p999: msOf(l.percentile(99.9)), max: msOf(l.max) },
          serviceMs: { p50: msOf(s.percentile(50)), p99: msOf(s.percentile(99)) },
          sendLagMs: { p50: msOf(g.percentile(50)), p99: msOf(g.percentile(99)), max: msOf(g.max) },
          achievedRate: Math.round(ps.reduce((a, p) => a + p.achievedRate, 0) / ps.length),
          maxOutstandingPerConnection: Math.max(...ps.map((p) => p.maxOutstandingPerConnection)),
          loadgenCpuPct: round(ps.reduce((a, p) => a + p.cpuPct, 0) / ps.length, 1),
          roundsMs: ps.map((p) => {
            const h = Histogram.merged([p.latency]);
            return { p50: msOf(h.percentile(50)), p99: msOf(h.percentile(99)) };
          }),
          // the CPU was measured over the whole generator run: its 1 s warm-up included
          serverCpuUsPerReq: round((cpuMs[t.name]! * 1000) / (ps.length * D.rate * (D.latencyRoundSec + LATENCY_INRUN_WARM_SEC)), 2),
          otherCpuPct: other[t.name]!,
          ...(ps.find((p) => p.error) ? { firstError: ps.find((p) => p.error)!.error } : {}),
        };
      }
      const d = byTarget.direct!;
      const added = (x: LatencyTarget | undefined): { p50: number; p90: number; p99: number; p999: number } | undefined =>
        x && {
          p50: round(x.latencyMs.p50 - d.latencyMs.p50, 3),
          p90: round(x.latencyMs.p90 - d.latencyMs.p90, 3),
          p99: round(x.latencyMs.p99 - d.latencyMs.p99, 3),
          p999: round(x.latencyMs.p999 - d.latencyMs.p999, 3),
        };
      results.latency = { rate: D.rate, byTarget };
      const a = added(byTarget.breakwater);
      if (a) results.latency.addedMs = a;
      const tw = added(byTarget.twemproxy);
      if (tw) results.latency.twemproxyAddedMs = tw;
    }

    // 1. Throughput, closed loop, pinned
    if (PIPELINES.length > 0) {
      heading('pinning for the throughput runs');
      await pinPid(redisPid, CPU.upstream);
      await pinGroup(bw.proc.pid, CPU.proxy);
      if (twem) await pinGroup(twem.proc.pid, CPU.proxy);
      heading(`1. throughput: redis-benchmark -c ${D.clients} -P ${PIPELINES.join('|')}, SET then GET, ${D.reps} repetition(s), targets interleaved`);
      for (const t of targets) {
        for (const p of PIPELINES) {
          // warm-up (JIT, buffers), discarded
          await run(benchArgv(redisBenchmark, t.port, 'set,get', p, D.warmRequests[p]!), { cpus: t.loadCpus, timeoutMs: 600_000 });
        }
      }
      for (let rep = 0; rep < D.reps; rep++) {
        for (const p of PIPELINES) {
          process.stdout.write(`\n-- repetition ${rep + 1}/${D.reps}, -P ${p}\n`);
          for (const t of rotate(targets, rep)) {
            for (const test of ['SET', 'GET'] as const) {
              results.throughput.runs.push(await benchOnce(redisBenchmark, t, test, p, rep + 1, redisPid));
            }
          }
        }
      }
      summarizeThroughput();
    }
    results.rss['breakwater after load'] = memoryOf(bw.proc.pid);
    computeRatios();

    if (args.profile) {
      heading(`profile: breakwater under node --cpu-prof during redis-benchmark -t get -c ${D.clients} -P 1 -n ${D.requests[1]}`);
      await bw.proc.stop();
      results.profile = await profileRun(redisBenchmark, work, redis.url, redisPid);
    }
    await stopAll();
    await redis.stop();
    redis = undefined;
  } finally {
    await stopAll();
    await redis?.stop().catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** median, min and max of RSS samples */
function spread(xs: number[]): { rssMiB: number; minMiB: number; maxMiB: number; samples: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { rssMiB: s[Math.floor(s.length / 2)] ?? NaN, minMiB: s[0] ?? NaN, maxMiB: s[s.length - 1] ?? NaN, samples: s.length };
}

function rowOf(target: TargetName, pipeline: number, test: 'GET' | 'SET'): ThroughputRow | undefined {
  return results.throughput.summary.find((r) => r.target === target && r.pipeline === pipeline && r.test === test);
}

/** A note for a verdict whose runs other work disturbed beyond --max-other-cpu. */
function disturbed(otherCpuPct: number): string {
  return otherCpuPct > MAX_OTHER_CPU_PCT ? `, UNRELIABLE: other work took up to ${otherCpuPct}% of the CPUs` : '';
}

function computeRatios(): void {
  const put = (k: string, v: number | undefined): void => {
    if (v !== undefined && Number.isFinite(v)) results.ratios[k] = v;
  };
  const v = results.verdicts;
  for (const p of PIPELINES) {
    for (const test of ['GET', 'SET'] as const) {
      const bw = rowOf('breakwater', p, test);
      const tw = rowOf('twemproxy', p, test);
      const dr = rowOf('direct', p, test);
      const r = (a: ThroughputRow | undefined, b: ThroughputRow | undefined): number | undefined => (a && b && b.reqPerSec > 0 ? round(a.reqPerSec / b.reqPerSec, 2) : undefined);
      const c = (a: ThroughputRow | undefined, b: ThroughputRow | undefined): number | undefined =>
        a && b && b.serverCpuUsPerReq > 0 ? round(a.serverCpuUsPerReq / b.serverCpuUsPerReq, 2) : undefined;
      put(`${test} -P ${p}: breakwater/twemproxy`, r(bw, tw));
      put(`${test} -P ${p}: breakwater/direct`, r(bw, dr));
      put(`${test} -P ${p}: twemproxy/direct`, r(tw, dr));
      put(`${test} -P ${p} CPU per request: breakwater/twemproxy`, c(bw, tw));
      const ratio = r(bw, tw);
      const want = p === 1 ? TARGETS.p1VsTwemproxy : TARGETS.p16VsTwemproxy;
      const other = Math.max(
        0,
        ...results.throughput.runs.filter((x) => x.pipeline === p && x.test === test && x.target !== 'direct').map((x) => x.otherCpuPct),
      );
      if (ratio !== undefined) v[`${test} -P ${p}: breakwater >= ${want.toFixed(1)}x twemproxy`] = `${ratio >= want ? 'met' : 'MISSED'} (${ratio}x)${disturbed(other)}`;
    }
  }
  const l = results.latency;
  if (l?.addedMs && l.byTarget.breakwater && l.byTarget.direct) {
    const bad = l.byTarget.breakwater.errors + l.byTarget.breakwater.lost + l.byTarget.direct.errors + l.byTarget.direct.lost;
    const other = Math.max(0, ...l.byTarget.breakwater.otherCpuPct, ...l.byTarget.direct.otherCpuPct);
    v[`added p99 at ${l.rate} ops/s <= ${TARGETS.addedP99Ms} ms`] =
      bad > 0 ? `NOT MEASURED: ${bad} failed or lost requests` : `${l.addedMs.p99 <= TARGETS.addedP99Ms ? 'met' : 'MISSED'} (${l.addedMs.p99} ms)${disturbed(other)}`;
  }
}

// ------------------------------------------------------------------------------- profile

/** Generic stages: the new RESP listener's function names are not known to this file. */
const STAGES: Stage[] = [
  { stage: 'socket reads: onStreamRead (node), everything a read triggers', functionName: 'onStreamRead' },
  { stage: 'socket writes, self (writev + writeBuffer + writeLatin1String + writeUtf8String)', functionName: 'writev', selfOnly: true },
  { stage: '', functionName: 'writeBuffer', selfOnly: true },
  { stage: '', functionName: 'writeLatin1String', selfOnly: true },
  { stage: '', functionName: 'writeUtf8String', selfOnly: true },
  { stage: 'garbage collector', functionName: '(garbage collector)', selfOnly: true },
  { stage: 'idle', functionName: '(idle)', selfOnly: true },
];

type ProfileResult = ProfileSummary & { copiedTo: string; reqPerSecUnderProfiler: number; window: [number, number] };

async function profileRun(redisBenchmark: string, work: string, upstream: string, redisPid: number): Promise<ProfileResult> {
  const profDir = path.join(work, 'cpuprofile');
  fs.mkdirSync(profDir, { recursive: true });
  const bw = await startBreakwater('breakwater-profiled', path.join(work, 'bw-profiled'), upstream, {
    cpus: CPU.proxy,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
  });
  void redisPid;
  await run(benchArgv(redisBenchmark, bw.port, 'get', 1, D.warmRequests[1]!), { cpus: CPU.load, timeoutMs: 600_000 });
  const t0 = Number(process.hrtime.bigint() / 1000n);
  const r = await run(benchArgv(redisBenchmark, bw.port, 'get', 1, D.requests[1]!), { cpus: CPU.load, timeoutMs: 600_000 });
  const t1 = Number(process.hrtime.bigint() / 1000n);
  const rps = parseCsv(r.stdout).find((x) => x.test === 'GET')?.rps ?? NaN;
  process.stdout.write(`   under the profiler: ${Math.round(rps)} req/s\n`);
  await bw.proc.stop(30_000); // SIGTERM: graceful exit writes the profile
  const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`node --cpu-prof wrote no profile into ${profDir}`);
  const copiedTo = resultFile('redis', results.startedAt, 'cpuprofile');
  fs.copyFileSync(path.join(profDir, file), copiedTo);
  const summary = summarizeProfile(copiedTo, { root: ROOT, top: 15, window: [t0, t1], stages: STAGES });
  const stages: ProfileSummary['stages'] = [];
  for (const st of summary.stages) {
    if (st.stage === '') stages[stages.length - 1]!.pct = round(stages[stages.length - 1]!.pct + st.pct, 1);
    else stages.push(st);
  }
  return { ...summary, stages, window: [t0, t1], reqPerSecUnderProfiler: Math.round(rps), copiedTo: path.relative(ROOT, copiedTo) };
}


// ------------------------------------------------------------------------------- report

function report(): string {
  const out: string[] = [];
  const h = results.host;
  out.push(`breakwater Redis data-path benchmark — ${results.startedAt}`);
  out.push(`commit ${h.commit}; ${h.cpu}, ${h.cores} cores; node ${h.node}; ${h.redisServer}; ${h.twemproxy}; ${QUICK ? 'QUICK run (short runs)' : 'full run'}`);
  out.push(`breakwater's redis listener in this build: ${h.redisListener} (dist/src/proxy/redis: ${(h.redisListenerModules as string[] | undefined)?.join(', ') || '-'})`);
  out.push(
    `load average at start ${(h.loadAverageAtStart as number[] | undefined)?.join(' ')}, at end ${(h.loadAverageAtEnd as number[] | undefined)?.join(' ')}; CPUs busy with other work before the start: ${h.otherCpuBusyPctAtStart}% (waited ${h.waitedForQuietSec} s for quiet); measured intervals repeated because other work disturbed them: ${guard.repeated} (threshold ${MAX_OTHER_CPU_PCT}% of the CPUs, at most ${MAX_ATTEMPTS} attempts)`,
  );
  const others = [...results.throughput.runs.map((r) => r.otherCpuPct), ...Object.values(results.latency?.byTarget ?? {}).flatMap((t) => t?.otherCpuPct ?? [])];
  const otherMedian = median(others);
  if (otherMedian > MAX_OTHER_CPU_PCT) {
    out.push(
      `WARNING: other work took a median ${round(otherMedian, 1)}% of the CPUs (max ${Math.max(...others)}%) during the measured intervals: req/s and latency figures are unreliable, the CPU us/req columns less so`,
    );
  }
  out.push(
    `pinning: latency runs unpinned; throughput runs ${pinning.enabled ? `pinned: proxy on cpu ${CPU.proxy}, redis-benchmark + redis-server on cpu ${CPU.load}; "direct": redis-benchmark on cpu ${CPU.directLoad}, redis-server on cpu ${CPU.upstream}` : 'unpinned (--no-pin)'}`,
  );
  if (results.throughput.summary.length) {
    for (const p of PIPELINES) {
      const rows = results.throughput.summary.filter((r) => r.pipeline === p);
      if (!rows.length) continue;
      out.push('', `1. Throughput — redis-benchmark -t set|get -c ${D.clients} -n ${D.requests[p]} -P ${p}, median of ${D.reps} interleaved repetition(s)`);
      out.push(
        table(
          ['test', 'target', 'req/s', 'bw / this', 'p50 ms', 'p99 ms', 'srv CPU', 'CPU us/req', 'redis us/req', 'cpu busy', 'other CPU', ...(D.reps > 1 ? ['all repetitions req/s'] : []), ...(rows.some((r) => r.errors) ? ['failed'] : [])],
          rows.map((r) => {
            const bw = rowOf('breakwater', p, r.test);
            return [
              r.test,
              r.target,
              r.reqPerSec,
              r.target === 'breakwater' || !bw ? '' : `${round(bw.reqPerSec / r.reqPerSec, 2)}x`,
              fmt(r.p50Ms),
              fmt(r.p99Ms),
              `${r.serverCpuPct}%`,
              fmt(r.serverCpuUsPerReq, 2),
              fmt(r.redisCpuUsPerReq, 2),
              r.cpuBusyPct.map((x) => `${x}%`).join('/'),
              `${r.otherCpuPct}%`,
              ...(D.reps > 1 ? [r.all.join(' / ')] : []),
              ...(rows.some((x) => x.errors) ? [r.errors] : []),
            ];
          }),
        ),
      );
    }
    out.push(
      `srv CPU: CPU time of the server under test (the proxy; for "direct" redis-server) over the run, 100% = one core; CPU us/req: that CPU time per request (less sensitive to a noisy machine than req/s); redis us/req: redis-server's CPU per request behind the target (twemproxy pipelines many clients onto one connection, which makes Redis cheaper per request); cpu busy: cpu0/cpu1 busy over the run (a core at ~100% is the bottleneck); other CPU: CPU taken by processes the benchmark did not start, % of all CPUs (median over the repetitions); p50/p99: redis-benchmark's own (closed loop)`,
    );
  }
  const l = results.latency;
  if (l) {
    out.push('', `2. Latency — GET of an existing key at ${l.rate} ops/s, open loop (this file's generator, ${D.latencyConnections} connections), ${D.latencyRounds} x ${D.latencyRoundSec} s per target after a ${D.latencyWarmSec} s warm-up, interleaved, merged; unpinned; measured from the scheduled send time`);
    const row = (name: string, r: LatencyTarget | undefined): (string | number)[] =>
      r
        ? [
            name,
            r.requests,
            r.errors + r.lost,
            fmt(r.latencyMs.p50),
            fmt(r.latencyMs.p90),
            fmt(r.latencyMs.p99),
            fmt(r.latencyMs.p999),
            fmt(r.latencyMs.max),
            fmt(r.serviceMs.p99),
            fmt(r.sendLagMs.p99),
            fmt(r.serverCpuUsPerReq, 2),
            r.roundsMs.map((x) => fmt(x.p99, 2)).join(' '),
            r.otherCpuPct.map((x) => `${x}%`).join(' '),
          ]
        : [name, '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-', '-'];
    const rows = [row('direct', l.byTarget.direct), row('breakwater', l.byTarget.breakwater)];
    if (l.byTarget.twemproxy) rows.push(row('twemproxy', l.byTarget.twemproxy));
    if (l.addedMs) rows.push(['added by breakwater', '', '', fmt(l.addedMs.p50), fmt(l.addedMs.p90), fmt(l.addedMs.p99), fmt(l.addedMs.p999), '', '', '', '', '', '']);
    if (l.twemproxyAddedMs) rows.push(['added by twemproxy', '', '', fmt(l.twemproxyAddedMs.p50), fmt(l.twemproxyAddedMs.p90), fmt(l.twemproxyAddedMs.p99), fmt(l.twemproxyAddedMs.p999), '', '', '', '', '', '']);
    out.push(table(['target', 'requests', 'failed', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'svc p99', 'gen lag p99', 'CPU us/req', 'p99 per round', 'other CPU per round'], rows));
    const g = l.byTarget.direct;
    if (g) {
      out.push(
        `gen lag: the generator's lateness (actual minus scheduled send; direct rounds p50 ${fmt(g.sendLagMs.p50)} ms), included in the other columns: it grows with the CPU the target takes on these 2 cores; svc p99: from the actual send (has coordinated omission); generator CPU ~${g.loadgenCpuPct}% of a core; CPU us/req: the proxy's (direct: redis-server's) at this rate`,
      );
    }
    for (const [k, t] of Object.entries(l.byTarget)) if (t?.firstError) out.push(`${k}: first error: ${t.firstError}`);
  }
  if (Object.keys(results.ratios).length) {
    out.push('', 'Ratios (median req/s unless it says CPU per request)');
    out.push(table(['ratio', 'value'], Object.entries(results.ratios).map(([k, v]) => [k, `${v}x`])));
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
      `Profile — breakwater under node --cpu-prof during redis-benchmark -t get -P 1 (${p.reqPerSecUnderProfiler} req/s under the profiler): ${p.durationMs} ms, ${p.samples} samples${p.windowed ? ' inside the run' : ''}`,
      `(${p.copiedTo}: open it in Chrome DevTools or speedscope)`,
    );
    out.push(`self time by area: ${Object.entries(p.areas).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}%`).join(', ')}`);
    const rows = (list: typeof p.topSelf): (string | number)[][] => list.map((f) => [f.function, f.area, `${f.selfPct}%`, `${f.totalPct}%`, f.where]);
    out.push('top self time, all code:');
    out.push(table(['function', 'area', 'self', 'total', 'where'], rows(p.topSelf)));
    out.push('by stage (share of samples with that stage on the stack):');
    out.push(table(['stage', 'share'], p.stages.map((st) => [st.stage, `${st.pct}%`])));
    if (p.breakwaterTotal.length) {
      out.push("breakwater's own functions by total (inclusive) time:");
      out.push(table(['function', 'area', 'self', 'total', 'where'], rows(p.breakwaterTotal.slice(0, 10))));
    }
  }
  if (results.error) out.push('', `ERROR: ${results.error}`);
  return out.join('\n');
}

const exitCode = await runMain(main, results);
if (results.throughput.runs.length > 0 && results.throughput.summary.length === 0) summarizeThroughput();
if (Object.keys(results.verdicts).length === 0) computeRatios();
results.host.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
results.finishedAt = new Date().toISOString();
results.settings.repeatedIntervals = guard.repeated;
saveResults('redis', results, report());
process.exit(exitCode);
