// Resilience under a dependency hang: ClickHouse is SIGSTOPped for 30 s while reads arrive at
// 500 req/s, open loop (vegeta). The same run, one target after the other: the application's
// reads sent straight to ClickHouse, through nginx configured to ride out a hung upstream as well
// as nginx can (1 s micro-cache refreshed in the background, proxy_cache_use_stale, 1 s upstream
// timeouts, max_fails/fail_timeout), and through breakwater (1 s timeout, a bulkhead of 32, a
// breaker, health checks every second, the last good answer from its in-process cache, else an
// empty result). For each: the share of requests answered (2xx) within 100 ms, p99 during the
// hang, how many requests reached the hung ClickHouse (counted by a relay in front of it that
// every target goes through), and how long after SIGCONT answers are fresh and fast again.
// Freshness is read from the answer itself, the same way for every target: each query returns
// ClickHouse's clock (toUnixTimestamp(now())), and an answer is fresh when that is at most
// 3 s old (freshSec); a cached, stale or empty (fallback) answer is not.
// It reports; it never asserts timings.
//
//   npx tsc -p tsconfig.json && node dist/test/bench/resilience.bench.js [--quick]
//        [--rate N] [--hang S] [--before S] [--after S] [--targets direct,nginx,breakwater]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startClickHouse, type ClickHouseServer } from '../services/clickhouse.js';
import { startCountingRelay, type CountingRelay } from './support/counting-relay.js';
import { commandLog, httpOk, logCommand, memoryOf, round, runOk, sleep, stopAll, waitQuiet, waitUntil } from './support/procs.js';
import { heading, table } from './support/report.js';
import { benchCommit, runMain, saveResults } from './support/results.js';
import { startNginxStaleCache } from './support/servers.js';
import { startSidecar } from './support/sidecar.js';
import { ensureDeb, ensureVegeta, VEGETA_VERSION, versionOf } from './support/tools.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rate: { type: 'string' },
    hang: { type: 'string' },
    before: { type: 'string' },
    after: { type: 'string' },
    targets: { type: 'string', default: 'direct,nginx,breakwater' },
    'max-wait-quiet': { type: 'string', default: '120' },
  },
});
const QUICK = args.quick === true;
const num = (v: string | undefined, dflt: number): number => (v === undefined ? dflt : Number(v));
const D = {
  rate: num(args.rate, QUICK ? 200 : 500),
  hangSec: num(args.hang, QUICK ? 10 : 30),
  beforeSec: num(args.before, QUICK ? 5 : 10),
  afterSec: num(args.after, QUICK ? 10 : 20),
  /** "answered" = a 2xx within this */
  answeredWithinMs: 100,
  /** vegeta gives up on a request after this (the application's own client timeout) */
  clientTimeoutMs: 5000,
  /** distinct queries (say, one per user): caches hold one answer each */
  keys: 50,
  /** a bucket counts as recovered when this share of its requests is fresh and fast */
  recoveredShare: 0.99,
  /** an answer whose ClickHouse clock is at most this old is fresh: now() has 1 s resolution, and
   * nginx's 1 s micro-cache refreshed in the background serves answers up to 2 s old when all is well */
  freshSec: 3,
};
const TARGET_NAMES = args.targets.split(',').filter(Boolean);

interface Second {
  t: number;
  requests: number;
  withinShare: number;
  okShare: number;
  fallbackShare: number;
  p50Ms: number;
  p99Ms: number;
  upstreamRequests: number;
}

interface TargetResult {
  target: string;
  what: string;
  hang: { startSec: number; endSec: number };
  timeline: Second[];
  steady: { requests: number; p50Ms: number; p99Ms: number; withinShare: number };
  duringHang: { requests: number; withinShare: number; okShare: number; fallbackShare: number; p99Ms: number; upstreamRequests: number; upstreamQueries: number; upstreamHealthChecks: number };
  recoverySec: number | null;
  statusCodes: Record<string, number>;
  errors: string[];
  rssMiB?: { idle: number; peak: number };
}

const results = {
  name: 'resilience',
  startedAt: new Date().toISOString(),
  commit: benchCommit(),
  host: {} as Record<string, unknown>,
  settings: { ...D, quick: QUICK },
  targets: [] as TargetResult[],
  commands: commandLog,
  error: undefined as string | undefined,
};

/** One vegeta result as `vegeta encode --to json` prints it. */
interface Shot {
  sentAt: number; // ms since the epoch
  latencyMs: number;
  code: number;
  /** a 2xx whose data is not fresh: a cached or empty fallback, a stale cache entry */
  stale: boolean;
  error: string;
}

/** `"data": [[<id>, <unix seconds>]]` in a JSONCompact answer: ClickHouse's clock when it answered. */
const CLOCK = /"data":\s*\[\s*\[\s*\d+\s*,\s*"?(\d+)"?\s*\]/;

function parseShots(jsonLines: string): Shot[] {
  const shots: Shot[] = [];
  for (const line of jsonLines.split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line) as { timestamp: string; latency: number; code: number; error: string; body: string | null };
    const sentAt = Date.parse(r.timestamp) + Number(/\.\d{3}(\d*)/.exec(r.timestamp)?.[1]?.padEnd(6, '0').slice(0, 6) ?? 0) / 1e6;
    const isOk = r.code >= 200 && r.code < 300;
    const clock = CLOCK.exec(r.body ? Buffer.from(r.body, 'base64').toString('utf8') : '')?.[1];
    const fresh = clock !== undefined && sentAt / 1000 - Number(clock) <= D.freshSec;
    shots.push({ sentAt, latencyMs: r.latency / 1e6, code: r.code, stale: isOk && !fresh, error: r.error });
  }
  return shots.sort((a, b) => a.sentAt - b.sentAt);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const ok = (s: Shot): boolean => s.code >= 200 && s.code < 300;
const answered = (s: Shot): boolean => ok(s) && s.latencyMs <= D.answeredWithinMs;
/** fresh from ClickHouse and fast: what "recovered" means */
const good = (s: Shot): boolean => answered(s) && !s.stale;

function summarize(shots: Shot[]): { requests: number; withinShare: number; okShare: number; fallbackShare: number; p50Ms: number; p99Ms: number } {
  const lat = shots.map((s) => s.latencyMs).sort((a, b) => a - b);
  const share = (f: (s: Shot) => boolean): number => (shots.length ? round(shots.filter(f).length / shots.length, 4) : NaN);
  return {
    requests: shots.length,
    withinShare: share(answered),
    okShare: share(ok),
    fallbackShare: share((s) => s.stale),
    p50Ms: round(percentile(lat, 50), 2),
    p99Ms: round(percentile(lat, 99), 2),
  };
}

/**
 * When answers were fresh and fast again: the start of the first 250 ms slice after SIGCONT from
 * which every slice until the end has at least recoveredShare good answers (null: never).
 */
function recovery(shots: Shot[], resumedAt: number, endAt: number): number | null {
  const sliceMs = 250;
  const slices: { n: number; good: number }[] = [];
  for (const s of shots) {
    if (s.sentAt < resumedAt || s.sentAt >= endAt) continue;
    const i = Math.floor((s.sentAt - resumedAt) / sliceMs);
    (slices[i] ??= { n: 0, good: 0 }).n++;
    if (good(s)) slices[i]!.good++;
  }
  let from: number | null = null;
  for (let i = slices.length - 1; i >= 0; i--) {
    const sl = slices[i];
    if (sl && sl.n > 0 && sl.good / sl.n < D.recoveredShare) break;
    from = i;
  }
  return from === null ? null : round((from * sliceMs) / 1000, 2);
}

interface Target {
  target: string;
  what: string;
  origin: string;
  /** wait until it serves fresh answers again (between targets) */
  settle: () => Promise<void>;
  /** a process whose RSS is reported (breakwater) */
  pid?: number;
}

async function measure(vegeta: string, work: string, ch: ClickHouseServer, relay: CountingRelay, t: Target): Promise<TargetResult> {
  heading(`${t.target}: ${t.what}`);
  const targets = path.join(work, `${t.target}.targets`);
  fs.writeFileSync(targets, Array.from({ length: D.keys }, (_, k) => `GET ${t.origin}/?query=SELECT%20${k}%20AS%20id,%20toUnixTimestamp(now())%20AS%20t%20FORMAT%20JSONCompact\n`).join(''));
  const bin = path.join(work, `${t.target}.bin`);
  const total = D.beforeSec + D.hangSec + D.afterSec;
  const idleRss = t.pid ? memoryOf(t.pid).rssMiB : undefined;
  const attack = runOk(
    [vegeta, 'attack', `-rate=${D.rate}/s`, `-duration=${total}s`, `-targets=${targets}`, `-timeout=${D.clientTimeoutMs}ms`, '-max-body=256', `-output=${bin}`],
    { timeoutMs: (total + 60) * 1000 },
  );
  const startedAt = Date.now();
  await sleep(D.beforeSec * 1000);
  const pausedAt = Date.now();
  ch.pause();
  logCommand(`kill -STOP ${ch.pid}   # ClickHouse hangs for ${D.hangSec} s`);
  process.stdout.write(`   ClickHouse SIGSTOPped at +${((pausedAt - startedAt) / 1000).toFixed(1)} s\n`);
  await sleep(D.hangSec * 1000);
  const resumedAt = Date.now();
  ch.resume();
  logCommand(`kill -CONT ${ch.pid}`);
  process.stdout.write(`   SIGCONT at +${((resumedAt - startedAt) / 1000).toFixed(1)} s\n`);
  await attack;
  const peakRss = t.pid ? memoryOf(t.pid).hwmMiB : undefined;

  const encoded = await runOk([vegeta, 'encode', '--to', 'json', bin], { log: false, timeoutMs: 120_000 });
  const shots = parseShots(encoded.stdout);
  const attackStart = shots[0]?.sentAt ?? startedAt;
  const endAt = attackStart + total * 1000;
  const timeline: Second[] = [];
  for (let sec = 0; sec < total; sec++) {
    const from = attackStart + sec * 1000;
    const inSec = shots.filter((s) => s.sentAt >= from && s.sentAt < from + 1000);
    const sum = summarize(inSec);
    timeline.push({
      t: sec,
      requests: sum.requests,
      withinShare: sum.withinShare,
      okShare: sum.okShare,
      fallbackShare: sum.fallbackShare,
      p50Ms: sum.p50Ms,
      p99Ms: sum.p99Ms,
      upstreamRequests: relay.requests.filter((r) => r.at >= from && r.at < from + 1000).length,
    });
  }
  const hangShots = shots.filter((s) => s.sentAt >= pausedAt && s.sentAt < resumedAt);
  const hangRelay = relay.requests.filter((r) => r.at >= pausedAt && r.at < resumedAt);
  const h = summarize(hangShots);
  const steady = summarize(shots.filter((s) => s.sentAt >= attackStart + 2000 && s.sentAt < pausedAt));
  const codes: Record<string, number> = {};
  const errors = new Map<string, number>();
  for (const s of shots) {
    codes[String(s.code)] = (codes[String(s.code)] ?? 0) + 1;
    if (s.error) {
      const e = s.error.replace(/127\.0\.0\.1:\d+/g, 'host:port').replace(/\d+/g, 'N');
      errors.set(e, (errors.get(e) ?? 0) + 1);
    }
  }
  const r: TargetResult = {
    target: t.target,
    what: t.what,
    hang: { startSec: round((pausedAt - attackStart) / 1000, 2), endSec: round((resumedAt - attackStart) / 1000, 2) },
    timeline,
    steady: { requests: steady.requests, p50Ms: steady.p50Ms, p99Ms: steady.p99Ms, withinShare: steady.withinShare },
    duringHang: {
      requests: h.requests,
      withinShare: h.withinShare,
      okShare: h.okShare,
      fallbackShare: h.fallbackShare,
      p99Ms: h.p99Ms,
      upstreamRequests: hangRelay.length,
      upstreamQueries: hangRelay.filter((x) => x.path.startsWith('/?')).length,
      upstreamHealthChecks: hangRelay.filter((x) => !x.path.startsWith('/?')).length,
    },
    recoverySec: recovery(shots, resumedAt, endAt),
    statusCodes: codes,
    errors: [...errors].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([e, n]) => `${n} x ${e}`),
    ...(idleRss !== undefined && peakRss !== undefined ? { rssMiB: { idle: idleRss, peak: peakRss } } : {}),
  };
  process.stdout.write(
    `   during the hang: ${r.duringHang.requests} requests, ${pct(r.duringHang.withinShare)} answered within ${D.answeredWithinMs} ms, ` +
      `p99 ${r.duringHang.p99Ms} ms, ${r.duringHang.upstreamQueries} queries + ${r.duringHang.upstreamHealthChecks} health checks reached ClickHouse; ` +
      `recovered ${r.recoverySec === null ? 'not within the run' : `${r.recoverySec} s after SIGCONT`}\n`,
  );
  fs.rmSync(bin, { force: true });
  return r;
}

function pct(x: number): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '-';
}

function render(): string {
  const out: string[] = [];
  out.push(`breakwater resilience bench, ${results.startedAt}, commit ${results.commit}`);
  out.push(
    `ClickHouse SIGSTOPped for ${D.hangSec} s under ${D.rate} req/s of reads (${D.keys} distinct queries), open loop, client timeout ${D.clientTimeoutMs} ms; ` +
      `${D.beforeSec} s before, ${D.afterSec} s after. "Answered" = 2xx within ${D.answeredWithinMs} ms; "not fresh" = a 2xx whose data is more than ${D.freshSec} s old ` +
      `(cached, stale or empty); "recovery" = from SIGCONT until ${D.recoveredShare * 100}% of answers are fresh and within ${D.answeredWithinMs} ms in every 250 ms slice to the end.`,
  );
  out.push('');
  out.push(
    table(
      ['target', 'steady p50/p99 ms', 'hang: requests', 'answered <=100ms', '2xx', 'not fresh', 'p99 ms', 'reached ClickHouse (queries + health)', 'recovery after SIGCONT'],
      results.targets.map((r) => [
        r.target,
        `${r.steady.p50Ms} / ${r.steady.p99Ms}`,
        r.duringHang.requests,
        pct(r.duringHang.withinShare),
        pct(r.duringHang.okShare),
        pct(r.duringHang.fallbackShare),
        r.duringHang.p99Ms,
        `${r.duringHang.upstreamRequests} (${r.duringHang.upstreamQueries} + ${r.duringHang.upstreamHealthChecks})`,
        r.recoverySec === null ? 'not in the run' : `${r.recoverySec} s`,
      ]),
    ),
  );
  out.push('');
  for (const r of results.targets) out.push(`${r.target}: ${r.what}`);
  for (const r of results.targets) if (r.errors.length) out.push(`${r.target} errors: ${r.errors.join('; ')}`);
  for (const r of results.targets) if (r.rssMiB) out.push(`${r.target} RSS: ${r.rssMiB.idle} MiB before, ${r.rssMiB.peak} MiB peak`);
  if (results.error) out.push('', `FAILED: ${results.error}`);
  return out.join('\n');
}

async function main(): Promise<void> {
  heading('tools');
  const nginxBin = (await ensureDeb('nginx', 'nginx'))!;
  const vegeta = await ensureVegeta();
  results.host = {
    cpu: /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    nginx: await versionOf([nginxBin, '-v']),
    vegeta: VEGETA_VERSION,
  };
  const quiet = await waitQuiet(15, Number(args['max-wait-quiet']) * 1000);
  results.host.otherCpuBusyPctAtStart = quiet.busyPct;

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'breakwater-resilience-'));
  fs.chmodSync(work, 0o755); // nginx workers run as an unprivileged user when started as root
  let ch: ClickHouseServer | undefined;
  let relay: CountingRelay | undefined;
  try {
    heading('services');
    ch = await startClickHouse();
    const chServer = ch;
    logCommand(`clickhouse-server --config-file=${ch.dir}/config.xml &   # clickhouse (test/services startClickHouse), http ${ch.url}`);
    results.host.clickhouse = (await ch.query('SELECT version()')).trim();
    relay = await startCountingRelay(ch.httpPort);
    const relayOrigin = `http://127.0.0.1:${relay.port}`;
    process.stdout.write(`counting relay ${relayOrigin} -> ClickHouse ${ch.url}\n`);
    const nginx = await startNginxStaleCache(nginxBin, path.join(work, 'nginx'), relay.port, '/ping');
    const bw = await startSidecar({
      name: 'breakwater',
      dir: path.join(work, 'breakwater'),
      dependency: 'clickhouse',
      upstream: relayOrigin,
      healthPath: '/ping',
      config: ({ admin, listen }) => `# written by test/bench/resilience.bench.ts
admin: { listen: ${admin} }
log: { level: warn }
cache: { ttl: 10m, memoryMaxBytes: 16MiB }   # no Redis: the in-process copy holds the last good answers
dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: ${listen}
    upstream: ${relayOrigin}
    timeout: 1s
    maxConcurrent: 32
    required: true
    breaker: { failures: 3, openFor: 5s, halfOpenSuccesses: 3 }
    health: { interval: 1s, timeout: 500ms, unhealthyThreshold: 2, path: /ping }
    fallback:
      - match: { statement: read }
        use: [cache, static]
      - match: { statement: any }
        use: [fail]
`,
    });
    const freshQuery = (origin: string) => async (): Promise<void> => {
      await waitUntil(() => httpOk(`${origin}/?query=SELECT%201`), `${origin} answering`, { timeoutMs: 60_000 });
    };
    const all: Target[] = [
      {
        target: 'direct',
        what: 'ClickHouse HTTP, no proxy (the application as it is)',
        origin: relayOrigin,
        settle: freshQuery(relayOrigin),
      },
      {
        target: 'nginx',
        what: 'nginx: 1 s micro-cache refreshed in the background, proxy_cache_use_stale error timeout updating http_5xx, 1 s upstream timeouts, max_fails=1 fail_timeout=10s',
        origin: nginx.origin,
        settle: freshQuery(nginx.origin),
      },
      {
        target: 'breakwater',
        what: 'breakwater: timeout 1s, maxConcurrent 32, breaker 3 failures / 5 s open / 3 trials, health every 1 s, reads: [cache, static] (in-process cache)',
        origin: bw.origin,
        settle: async () => {
          await waitUntil(() => httpOk(`${bw.admin}/readyz`), 'breakwater ready (breaker closed)', { timeoutMs: 60_000 });
        },
        pid: bw.proc.pid,
      },
    ];
    for (const name of TARGET_NAMES) {
      const t = all.find((x) => x.target === name);
      if (!t) throw new Error(`unknown target "${name}" in --targets (known: ${all.map((x) => x.target).join(', ')})`);
      await t.settle();
      // ClickHouse's backlog from the previous target has drained and nothing else runs
      await waitQuiet(15, 30_000);
      results.targets.push(await measure(vegeta, work, chServer, relay, t));
    }
  } finally {
    ch?.resume();
    await relay?.close();
    await ch?.stop();
    await stopAll();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const code = await runMain(main, results);
saveResults('resilience', results, render());
process.exitCode = code;
