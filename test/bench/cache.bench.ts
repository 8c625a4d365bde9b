// What storing reads for the `cache` fallback costs on the ClickHouse happy path. One command
// starts a real ClickHouse, a real Redis (the cache) and two `breakwater start` CLIs with the same
// config except that one has `use: [cache, static]` for reads (and `cache.redis`) where the other
// has `use: [static]`; then wrk runs against each, interleaved, several rounds. It reports; it
// never asserts timings. Results go to test/bench/results/cache-<timestamp>.{json,txt}.
//
//   npx tsc -p tsconfig.json && node dist/test/bench/cache.bench.js [--quick] [--rounds N]
//        [--seconds S] [--connections C] [--no-pin] [--max-other-cpu P] [--max-wait-quiet S]
//
// The request: GET /?query=SELECT%20number%20FROM%20system.numbers%20LIMIT%2010 (TabSeparated,
// 20 bytes), `wrk -t1 -c32`. With the cache rule every 200 is captured, keyed (SQL normalized,
// SHA-256), copied into the in-process LRU and SET in Redis in the background.
// Per run: req/s, wrk's p50/p99, and the CPU time per request of the breakwater process under
// test from /proc/<pid>/stat (much less noisy than req/s on a shared machine), plus the cache
// Redis's and ClickHouse's CPU per request and the stores / Redis SETs per request.
// Placement (--no-pin turns it off): both breakwater processes on cpu 0; wrk, ClickHouse and
// the cache Redis on cpu 1. Rounds alternate the order (A B, B A, ...) and the medians are kept.
// Every measured run records how much CPU processes the benchmark did not start took ("other
// CPU"); above --max-other-cpu percent it is repeated after waiting for quiet (3 attempts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startClickHouse, type ClickHouseServer } from '../services/clickhouse.js';
import { freePorts } from '../services/ports.js';
import { startRedis, type RedisServer } from '../services/redis.js';
import { Wrk } from './support/load.js';
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
  startProcess,
  stopAll,
  waitQuiet,
  waitUntil,
  type Proc,
  DisturbanceGuard,
} from './support/procs.js';
import { CLI, ROOT, sidecarConfig } from './support/sidecar.js';
import { benchCommit, runMain, saveResults } from './support/results.js';
import { ensureDeb, versionOf } from './support/tools.js';
import { table } from './support/report.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    connections: { type: 'string', default: '32' },
    'no-pin': { type: 'boolean', default: false },
    'max-other-cpu': { type: 'string', default: '5' },
    'max-wait-quiet': { type: 'string', default: '180' },
  },
});

const QUICK = args.quick === true;
const D = {
  rounds: Math.max(1, Number(args.rounds ?? (QUICK ? 2 : 5))),
  seconds: Math.max(1, Number(args.seconds ?? (QUICK ? 3 : 10))),
  warmSec: QUICK ? 2 : 5,
  connections: Math.max(1, Number(args.connections)),
};
const PATH = '/?query=SELECT%20number%20FROM%20system.numbers%20LIMIT%2010';
/** The target: storing reads costs at most this share of the throughput. */
const MAX_LOSS = 0.05;
const MAX_OTHER_CPU_PCT = Number(args['max-other-cpu']);
const MAX_ATTEMPTS = 3;
pinning.enabled = !args['no-pin'] && os.availableParallelism() >= 2;
const CPU = { proxy: '0', load: '1', upstream: '1' };
const extraPids: number[] = [];
const guard = new DisturbanceGuard({ maxOtherCpuPct: MAX_OTHER_CPU_PCT, maxAttempts: MAX_ATTEMPTS, extraPids });
const measured = guard.measured.bind(guard);

type TargetName = 'no cache' | 'cache';

interface Run {
  target: TargetName;
  round: number;
  reqPerSec: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** CPU time of the breakwater process under test per request */
  bwCpuUsPerReq: number;
  bwCpuPct: number;
  redisCpuUsPerReq: number;
  clickhouseCpuUsPerReq: number;
  /** breakwater_cache_stores_total{result="stored"} and Redis SET calls, per request */
  storesPerReq: number;
  redisSetsPerReq: number;
  otherCpuPct: number;
  attempts: number;
}

interface Summary {
  target: TargetName;
  medianReqPerSec: number;
  medianBwCpuUsPerReq: number;
  medianP99Ms: number;
  medianRedisCpuUsPerReq: number;
  medianStoresPerReq: number;
}

const results: {
  startedAt: string;
  finishedAt?: string;
  host: Record<string, unknown>;
  settings: Record<string, unknown>;
  configs: Record<string, string>;
  runs: Run[];
  summary: Summary[];
  ratios: Record<string, number>;
  rss: Record<string, { rssMiB: number; hwmMiB: number }>;
  verdict?: string;
  commands: string[];
  error?: string;
} = {
  startedAt: new Date().toISOString(),
  host: {},
  settings: { ...D, path: PATH, maxLoss: MAX_LOSS, pinning: pinning.enabled ? CPU : 'off', quick: QUICK },
  configs: {},
  runs: [],
  summary: [],
  ratios: {},
  rss: {},
  commands: commandLog,
};

interface Sidecar {
  name: TargetName;
  proc: Proc;
  origin: string;
  admin: string;
}

async function startBreakwater(name: TargetName, dir: string, upstream: string, redis: string | undefined): Promise<Sidecar> {
  fs.mkdirSync(dir, { recursive: true });
  const [adminPort, port] = await freePorts(2);
  const admin = `http://127.0.0.1:${adminPort}`;
  const configFile = path.join(dir, 'breakwater.yaml');
  const text = sidecarConfig({ admin: `127.0.0.1:${adminPort}`, listen: `127.0.0.1:${port}`, dependency: 'clickhouse', upstream, healthPath: '/ping', cacheRedis: redis });
  fs.writeFileSync(configFile, text);
  results.configs[name] = text;
  const proc = startProcess(`breakwater (${name})`, [process.execPath, CLI, 'start', '--config', configFile], { env: { ...process.env, BREAKWATER_ENV: '' } });
  await waitUntil(() => httpOk(`${admin}/readyz`), `breakwater (${name}): GET ${admin}/readyz = 200`, { proc, timeoutMs: 30_000 });
  return { name, proc, origin: `http://127.0.0.1:${port}`, admin };
}

async function metric(bw: Sidecar, series: RegExp): Promise<number> {
  const text = await (await fetch(`${bw.admin}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const line = text.split('\n').find((l) => series.test(l));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}
const STORED = /^breakwater_cache_stores_total\{result="stored"\} /;

async function redisSets(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  return Number(/cmdstat_set:calls=(\d+)/.exec(info)?.[1] ?? 0);
}


const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const wrkBin = (await ensureDeb('wrk', 'wrk'))!;
  const commit = benchCommit();
  results.host = {
    commit,
    cpu: /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    wrk: await versionOf([wrkBin, '-v']),
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
  };
  process.stdout.write(`host: ${JSON.stringify(results.host)}\n`);
  const quiet = await waitQuiet(15, Number(args['max-wait-quiet']) * 1000);
  results.host.otherCpuBusyPctAtStart = quiet.busyPct;

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'breakwater-cache-bench-'));
  let clickhouse: ClickHouseServer | undefined;
  let redis: RedisServer | undefined;
  let inspector: Redis | undefined;
  try {
    clickhouse = await startClickHouse();
    logCommand(`clickhouse-server --config-file=${clickhouse.dir}/config.xml &   # clickhouse (test/services startClickHouse), http ${clickhouse.url}`);
    redis = await startRedis();
    logCommand(`redis-server --port ${redis.port} --save '' --appendonly no ... &   # cache redis (test/services startRedis)`);
    for (const pid of [clickhouse.pid, redis.pid]) if (pid !== undefined) extraPids.push(pid);
    results.host.clickhouse = (await clickhouse.query('SELECT version()')).trim();
    inspector = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    inspector.on('error', () => undefined);
    results.host.redis = /redis_version:(\S+)/.exec(await inspector.info('server'))?.[1] ?? 'unknown';

    const plain = await startBreakwater('no cache', path.join(work, 'bw-plain'), clickhouse.url, undefined);
    const cached = await startBreakwater('cache', path.join(work, 'bw-cache'), clickhouse.url, redis.url);
    await waitUntil(async () => ((await (await fetch(`${cached.admin}/status`)).json()) as { cache?: { redis?: string } }).cache?.redis === 'ready', 'the cache Redis connection');

    // Same answer through both, and the cache one really stores it.
    const direct = await (await fetch(clickhouse.url + PATH)).text();
    for (const bw of [plain, cached]) {
      const body = await (await fetch(bw.origin + PATH)).text();
      if (body !== direct) throw new Error(`${bw.name}: answered ${JSON.stringify(body)}, ClickHouse ${JSON.stringify(direct)}`);
    }
    await waitUntil(async () => (await metric(cached, STORED)) >= 1, 'the first store');
    await waitUntil(async () => (await inspector!.keys('breakwater:cache:*')).length === 1, 'one key in the cache Redis');
    process.stdout.write(`bench: both answer ${JSON.stringify(direct)}; the cache sidecar stored it (1 Redis key)\n`);

    if (pinning.enabled) {
      if (clickhouse.pid !== undefined) await pinPid(clickhouse.pid, CPU.upstream);
      if (redis.pid !== undefined) await pinPid(redis.pid, CPU.upstream);
      await pinGroup(plain.proc.pid, CPU.proxy);
      await pinGroup(cached.proc.pid, CPU.proxy);
    }
    const wrk = new Wrk(wrkBin, work);
    for (const bw of [plain, cached]) await wrk.run(bw.origin + PATH, { seconds: D.warmSec, connections: D.connections, cpus: CPU.load }); // warm-up, discarded

    for (let round_ = 0; round_ < D.rounds; round_++) {
      const order = round_ % 2 === 0 ? [plain, cached] : [cached, plain];
      for (const bw of order) {
        const m = await measured(`${bw.name} round ${round_ + 1}`, async () => {
          const bw0 = cpuMsOfGroup(bw.proc.pid);
          const redis0 = redis!.pid !== undefined ? cpuMsOfPid(redis!.pid) : 0;
          const ch0 = clickhouse!.pid !== undefined ? cpuMsOfPid(clickhouse!.pid) : 0;
          const stores0 = await metric(bw, STORED);
          const sets0 = await redisSets(inspector!);
          const w = await wrk.run(bw.origin + PATH, { seconds: D.seconds, connections: D.connections, cpus: CPU.load });
          return {
            w,
            bwCpuMs: cpuMsOfGroup(bw.proc.pid) - bw0,
            redisCpuMs: (redis!.pid !== undefined ? cpuMsOfPid(redis!.pid) : 0) - redis0,
            chCpuMs: (clickhouse!.pid !== undefined ? cpuMsOfPid(clickhouse!.pid) : 0) - ch0,
            stores: (await metric(bw, STORED)) - stores0,
            sets: (await redisSets(inspector!)) - sets0,
          };
        });
        const { w, bwCpuMs, redisCpuMs, chCpuMs, stores, sets } = m.value;
        const n = Math.max(1, w.requests);
        const run: Run = {
          target: bw.name,
          round: round_ + 1,
          reqPerSec: w.reqPerSec,
          requests: w.requests,
          p50Ms: w.latencyMs.p50,
          p99Ms: w.latencyMs.p99,
          errors: w.errors.connect + w.errors.read + w.errors.write + w.errors.timeout + w.errors.status,
          bwCpuUsPerReq: round((bwCpuMs * 1000) / n, 1),
          bwCpuPct: round((bwCpuMs / (w.seconds * 1000)) * 100, 0),
          redisCpuUsPerReq: round((redisCpuMs * 1000) / n, 1),
          clickhouseCpuUsPerReq: round((chCpuMs * 1000) / n, 1),
          storesPerReq: round(stores / n, 3),
          redisSetsPerReq: round(sets / n, 3),
          otherCpuPct: m.disturbance.otherCpuPct,
          attempts: m.attempts,
        };
        results.runs.push(run);
        process.stdout.write(
          `   round ${run.round} ${run.target}: ${run.reqPerSec} req/s, p99 ${run.p99Ms} ms, errors ${run.errors}, breakwater CPU ${run.bwCpuPct}% = ${run.bwCpuUsPerReq} us/req, ` +
            `redis ${run.redisCpuUsPerReq} us/req, stores/req ${run.storesPerReq}, other work ${run.otherCpuPct}%\n`,
        );
      }
    }
    results.rss['breakwater (no cache) after'] = memoryOf(plain.proc.pid);
    results.rss['breakwater (cache) after'] = memoryOf(cached.proc.pid);
  } finally {
    inspector?.disconnect();
    await stopAll();
    await redis?.stop().catch(() => undefined);
    await clickhouse?.stop().catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function summarize(): void {
  for (const target of ['no cache', 'cache'] as const) {
    const runs = results.runs.filter((r) => r.target === target);
    if (runs.length === 0) continue;
    results.summary.push({
      target,
      medianReqPerSec: Math.round(median(runs.map((r) => r.reqPerSec))),
      medianBwCpuUsPerReq: round(median(runs.map((r) => r.bwCpuUsPerReq)), 1),
      medianP99Ms: round(median(runs.map((r) => r.p99Ms)), 3),
      medianRedisCpuUsPerReq: round(median(runs.map((r) => r.redisCpuUsPerReq)), 1),
      medianStoresPerReq: round(median(runs.map((r) => r.storesPerReq)), 3),
    });
  }
  const [a, b] = [results.summary.find((s) => s.target === 'no cache'), results.summary.find((s) => s.target === 'cache')];
  if (a === undefined || b === undefined) return;
  results.ratios['req/s cache / no cache'] = round(b.medianReqPerSec / a.medianReqPerSec, 3);
  results.ratios['breakwater CPU us/req cache / no cache'] = round(b.medianBwCpuUsPerReq / a.medianBwCpuUsPerReq, 3);
  results.ratios['breakwater CPU us/req added by the cache'] = round(b.medianBwCpuUsPerReq - a.medianBwCpuUsPerReq, 1);
  const loss = 1 - b.medianReqPerSec / a.medianReqPerSec;
  const disturbed = results.runs.some((r) => r.otherCpuPct > MAX_OTHER_CPU_PCT);
  results.verdict =
    `${loss <= MAX_LOSS ? 'MET' : 'MISSED'}: median throughput with reads stored is ${round(100 * (1 - loss), 1)}% of without ` +
    `(target >= ${100 * (1 - MAX_LOSS)}%)` +
    (disturbed ? `; UNRELIABLE: some runs had more than ${MAX_OTHER_CPU_PCT}% other CPU` : '');
}

function report(): string {
  const out: string[] = [];
  out.push(`cache bench ${results.startedAt}: GET ${PATH}, wrk -t1 -c${D.connections} -d${D.seconds}s, ${D.rounds} rounds interleaved`);
  out.push(`host: ${JSON.stringify(results.host)}`);
  out.push(`pinning: ${pinning.enabled ? `breakwater cpu ${CPU.proxy}; wrk, ClickHouse, cache Redis cpu ${CPU.load}` : 'off'}`);
  out.push('');
  out.push(
    table(
      ['round', 'target', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'bw CPU us/req', 'bw CPU %', 'redis us/req', 'CH us/req', 'stores/req', 'SETs/req', 'other CPU %'],
      results.runs.map((r) => [r.round, r.target, r.reqPerSec, r.p50Ms, r.p99Ms, r.errors, r.bwCpuUsPerReq, r.bwCpuPct, r.redisCpuUsPerReq, r.clickhouseCpuUsPerReq, r.storesPerReq, r.redisSetsPerReq, r.otherCpuPct]),
    ),
  );
  out.push('');
  out.push(
    table(
      ['median', 'req/s', 'bw CPU us/req', 'p99 ms', 'redis us/req', 'stores/req'],
      results.summary.map((s) => [s.target, s.medianReqPerSec, s.medianBwCpuUsPerReq, s.medianP99Ms, s.medianRedisCpuUsPerReq, s.medianStoresPerReq]),
    ),
  );
  out.push('');
  for (const [k, v] of Object.entries(results.ratios)) out.push(`${k}: ${v}`);
  for (const [k, v] of Object.entries(results.rss)) out.push(`RSS ${k}: ${v.rssMiB} MiB (peak ${v.hwmMiB} MiB)`);
  if (results.verdict) out.push('', results.verdict);
  if (results.error) out.push('', `ERROR: ${results.error}`);
  return out.join('\n');
}

const exitCode = await runMain(main, results);
summarize();
results.finishedAt = new Date().toISOString();
results.settings.repeatedIntervals = guard.repeated;
results.host.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
saveResults('cache', results, report());
process.exit(exitCode);
