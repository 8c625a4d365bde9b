// HTTP data-path benchmark of the ClickHouse listener. One command starts everything it needs,
// measures in ONE run (so every ratio is against baselines measured at the same time), prints
// a table and writes JSON to test/bench/results/. It reports; it never asserts timings.
//
//   npx tsc -p tsconfig.json && node dist/test/bench/http.bench.js [--quick] [--rounds N]
//        [--profile | --no-profile] [--no-pin] [--no-haproxy]
//
// 1. Added latency: `GET /?query=SELECT%201` against a real ClickHouse at a fixed rate,
//    open loop (vegeta), direct vs through breakwater (nginx and HAProxy for reference),
//    interleaved rounds, merged.
// 2. Saturation, closed loop (wrk -t1 -c32): a 1 KiB file from nginx, direct vs breakwater vs
//    nginx / HAProxy as keep-alive reverse proxies vs http-proxy and a naive undici forwarder
//    vs a plain TCP pipe (the floor for any Node proxy); and `SELECT 1` to ClickHouse direct vs
//    breakwater vs nginx vs HAProxy. Each row also reports the CPU time per request of the server under test.
//    2c. The 1 KiB file at the fixed rate of (1), open loop, direct vs breakwater vs nginx vs HAProxy.
// 3. RSS of the breakwater processes at idle and after the saturation runs.
// 4. The breaker microbenchmark (dist/test/bench/breaker.bench.js 1).
// With --profile (or automatically when a target is missed) breakwater runs once more under
// `node --cpu-prof` during a wrk run and the hottest functions are summarized.
//
// CPU placement on a 2-core machine. Latency (1): nothing is pinned; at 1000 req/s ClickHouse
// (~0.5 core), vegeta (~0.3) and breakwater (~0.4) fit in two cores only when the scheduler may
// spread them. Saturation (2): pinned with taskset (--no-pin turns it off): the proxy under test
// on cpu 0, the load generator and the upstream share cpu 1; "direct" has no proxy, so there
// the load generator takes cpu 0 and it and the upstream get a core each.
// Other work on the machine ruins such numbers: every measured interval records how much CPU
// processes the benchmark did not start took, and is repeated (after waiting for quiet) when
// that exceeds --max-other-cpu percent of the machine (default 5).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startClickHouse, type ClickHouseServer } from '../services/clickhouse.js';
import { Vegeta, Wrk, type VegetaReport, type WrkResult } from './support/load.js';
import { commandLog, cpuMsOfGroup, cpuMsOfPid, DisturbanceGuard, logCommand, memoryOf, pinGroup, pinPid, pinning, round, run, sleep, stopAll, waitQuiet } from './support/procs.js';
import { summarizeProfile, type ProfileSummary, type Stage } from './support/profile.js';

/** Where a forwarded request's CPU goes, by frames on the stack (see the profile section). */
const STAGES: Stage[] = [
  { stage: 'client bytes in: ClientConnection.onData (head parse, exchange start)', functionName: 'onData', urlIncludes: 'proxy/http/relay.js' },
  { stage: '  of which the request head parse', functionName: 'parseRequestHead', urlIncludes: 'proxy/http/framing.js' },
  { stage: '  of which the guard: ClickHouseListener.begin (kind, breaker, forward)', functionName: 'begin', urlIncludes: 'proxy/clickhouse/listener.js' },
  { stage: 'upstream bytes in: Exchange.onUpstreamData (response head parse, relay)', functionName: 'onUpstreamData', urlIncludes: 'proxy/http/relay.js' },
  { stage: '  of which the response head parse', functionName: 'parseResponseHead', urlIncludes: 'proxy/http/framing.js' },
  { stage: '  of which outcome recording (ClickHouseListener.done: breaker, metrics)', functionName: 'done', urlIncludes: 'proxy/clickhouse/listener.js' },
  { stage: 'socket writes, self (writev + writeLatin1String + writeBuffer)', functionName: 'writev', selfOnly: true },
  { stage: '', functionName: 'writeLatin1String', selfOnly: true },
  { stage: '', functionName: 'writeBuffer', selfOnly: true },
  { stage: 'garbage collector', functionName: '(garbage collector)', selfOnly: true },
  { stage: 'idle', functionName: '(idle)', selfOnly: true },
];
import { STATIC_PATH, startHaproxy, startNginxProxy, startNginxStatic, startNodeForwarder, type Server } from './support/servers.js';
import { ROOT, startSidecar } from './support/sidecar.js';
import { benchCommit, resultFile, runMain, saveResults } from './support/results.js';
import { CACHE_DIR, ensureDeb, ensureVegeta, versionOf, VEGETA_VERSION } from './support/tools.js';
import { heading, table } from './support/report.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    profile: { type: 'boolean' },
    'no-profile': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    'no-haproxy': { type: 'boolean', default: false },
    'max-wait-quiet': { type: 'string', default: '180' },
    'max-other-cpu': { type: 'string', default: '5' },
  },
});

const QUICK = args.quick === true;
const D = {
  rate: 1000,
  latencyWarmSec: 10, // a fresh Node process needs ~9,000 requests to settle (JIT, caches, connection pool)
  latencyRoundSec: QUICK ? 3 : 10,
  latencyRounds: 2, // per target, interleaved direct/breakwater/direct/breakwater
  wrkWarmSec: QUICK ? 1 : 2,
  wrkSec: QUICK ? 3 : 10,
  wrkConnections: 32,
  saturationRounds: Math.max(1, Number(args.rounds) || 1),
  idleSec: 5,
};
const TARGETS = { addedP99Ms: 1, vsNginx: 0.5, idleRssMiB: 80 };
/** A measured interval in which other work used more than this % of all CPUs is repeated. */
const MAX_OTHER_CPU_PCT = Number(args['max-other-cpu']);
const MAX_ATTEMPTS = 3;
/** Processes of ours that are not in a group procs.ts started (ClickHouse). */
const extraPids: number[] = [];
const guard = new DisturbanceGuard({ maxOtherCpuPct: MAX_OTHER_CPU_PCT, maxAttempts: MAX_ATTEMPTS, extraPids });
const measured = guard.measured.bind(guard);


const multiCore = os.availableParallelism() >= 2;
pinning.enabled = !args['no-pin'] && multiCore;
const CPU = { proxy: '0', load: '1', upstream: '1', directLoad: '0' };

/** One wrk run plus the CPU time the server under test (proxy, or upstream for "direct") used. */
type SaturationRun = WrkResult & { serverCpuMs: number; serverCpuUsPerReq: number; serverCpuPct: number; otherCpuPct: number; attempts: number };

interface SaturationRow {
  target: string;
  what: string;
  rounds: SaturationRun[];
  /** the best round by req/s (the least disturbed by the machine) */
  best: SaturationRun;
}

interface LatencyDelta {
  p50: number;
  p90: number;
  p99: number;
  p999: number | null;
}

interface Results {
  startedAt: string;
  finishedAt?: string;
  host: Record<string, unknown>;
  settings: Record<string, unknown>;
  targets: typeof TARGETS;
  latency?: {
    direct: VegetaReport;
    breakwater: VegetaReport;
    /** other work on the machine per round, % of all CPUs */
    otherCpuPct: { direct: number[]; breakwater: number[]; nginx: number[]; haproxy?: number[] };
    /** breakwater's CPU time per request at this rate */
    breakwaterCpuUsPerReq: number;
    /** breakwater minus direct */
    addedMs: LatencyDelta;
    /** the same through nginx as a keep-alive reverse proxy, for reference */
    nginx: VegetaReport;
    nginxAddedMs: LatencyDelta;
    nginxCpuUsPerReq: number;
    /** the same through HAProxy (mode http), for reference, when it is installed */
    haproxy?: VegetaReport;
    haproxyAddedMs?: LatencyDelta;
  };
  saturation: { static: SaturationRow[]; clickhouse: SaturationRow[] };
  /** 2c. the 1 KiB file at the fixed rate, open loop, per target; added = target minus direct */
  staticLatency?: { byTarget: Record<string, VegetaReport>; addedMs: Record<string, LatencyDelta> };
  ratios: Record<string, number>;
  /** rssMiB: VmRSS at the end of the moment (for idle: the median of samples every 0.5 s); hwmMiB: VmHWM (peak) */
  rss: Record<string, { rssMiB: number; hwmMiB: number; minMiB?: number; maxMiB?: number; samples?: number }>;
  breaker: unknown[];
  profile?: ProfileResult;
  verdicts: Record<string, string>;
  commands: string[];
  error?: string;
}

const results: Results = {
  startedAt: new Date().toISOString(),
  host: {},
  settings: { ...D, pinning: pinning.enabled ? CPU : 'off', quick: QUICK },
  targets: TARGETS,
  saturation: { static: [], clickhouse: [] },
  ratios: {},
  rss: {},
  breaker: [],
  verdicts: {},
  commands: commandLog,
};

async function hostInfo(tools: { wrk: string; nginx: string; haproxy: string | undefined; vegeta: string }): Promise<Record<string, unknown>> {
  const commit = benchCommit();
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    commit,
    cpu,
    cores: os.availableParallelism(),
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    kernel: os.release(),
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
    node: process.version,
    wrk: await versionOf([tools.wrk, '-v']),
    nginx: await versionOf([tools.nginx, '-v']),
    haproxy: tools.haproxy ? await versionOf([tools.haproxy, '-v']) : 'not installed',
    vegeta: VEGETA_VERSION,
  };
}

/** A target's percentiles minus direct's. */
function latencyDelta(r: VegetaReport, direct: VegetaReport): LatencyDelta {
  return {
    p50: round(r.latencyMs.p50 - direct.latencyMs.p50, 3),
    p90: round(r.latencyMs.p90 - direct.latencyMs.p90, 3),
    p99: round(r.latencyMs.p99 - direct.latencyMs.p99, 3),
    p999: r.latencyMs.p999 !== null && direct.latencyMs.p999 !== null ? round(r.latencyMs.p999 - direct.latencyMs.p999, 3) : null,
  };
}

/** requests, ok, p50, p90, p99, p99.9, max: the columns of a vegeta report in the tables */
function vegetaCells(r: VegetaReport): (string | number)[] {
  return [r.requests, `${round(r.success * 100, 2)}%`, ms(r.latencyMs.p50), ms(r.latencyMs.p90), ms(r.latencyMs.p99), ms(r.latencyMs.p999), ms(r.latencyMs.max)];
}

function ms(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(3);
}

function wrkErrors(r: WrkResult): string {
  const e = r.errors;
  const n = e.connect + e.read + e.write + e.timeout;
  return n === 0 && e.status === 0 ? '0' : `${n} sock, ${e.status} non-2xx`;
}

interface SaturationTarget {
  target: string;
  what: string;
  url: string;
  /** where wrk runs */
  cpus: string;
  /** CPU time (ms) used so far by the server under test */
  cpuMs: () => number;
}

async function saturate(wrk: Wrk, t: SaturationTarget, into: SaturationRow[], roundIndex: number): Promise<void> {
  const { target, what, url, cpus } = t;
  process.stdout.write(`\n-- ${target}: ${what} (round ${roundIndex + 1}/${D.saturationRounds})\n`);
  await wrk.run(url, { seconds: D.wrkWarmSec, connections: D.wrkConnections, cpus }); // warm-up, discarded
  const m = await measured(`${target} wrk run`, async () => {
    const cpu0 = t.cpuMs();
    const w = await wrk.run(url, { seconds: D.wrkSec, connections: D.wrkConnections, cpus });
    return { w, serverCpuMs: t.cpuMs() - cpu0 };
  });
  const { w, serverCpuMs } = m.value;
  const r: SaturationRun = {
    ...w,
    otherCpuPct: m.disturbance.otherCpuPct,
    attempts: m.attempts,
    serverCpuMs,
    serverCpuUsPerReq: w.requests > 0 ? round((serverCpuMs * 1000) / w.requests, 1) : NaN,
    serverCpuPct: round((serverCpuMs / (w.seconds * 1000)) * 100, 0),
  };
  process.stdout.write(`   ${r.reqPerSec} req/s, p99 ${ms(r.latencyMs.p99)} ms, errors ${wrkErrors(r)}, server CPU ${r.serverCpuPct}% = ${r.serverCpuUsPerReq} us/req, other work ${r.otherCpuPct}% of the CPUs\n`);
  let row = into.find((x) => x.target === target);
  if (!row) {
    row = { target, what, rounds: [], best: r };
    into.push(row);
  }
  row.rounds.push(r);
  if (r.reqPerSec > row.best.reqPerSec) row.best = r;
}

async function main(): Promise<void> {
  heading('tools');
  const wrkBin = (await ensureDeb('wrk', 'wrk'))!;
  const nginxBin = (await ensureDeb('nginx', 'nginx'))!;
  const haproxyBin = args['no-haproxy'] ? undefined : await ensureDeb('haproxy', 'haproxy', { optional: true });
  const vegetaBin = await ensureVegeta();
  if (!fs.existsSync(path.join(ROOT, 'dist/test/bench/breaker.bench.js'))) {
    throw new Error('dist/test/bench/breaker.bench.js is missing: build first with `npx tsc -p tsconfig.json`');
  }
  results.host = await hostInfo({ wrk: wrkBin, nginx: nginxBin, haproxy: haproxyBin, vegeta: vegetaBin });
  process.stdout.write(`host: ${JSON.stringify(results.host)}\n`);
  process.stdout.write(`pinning (saturation runs only): ${pinning.enabled ? `proxy cpu ${CPU.proxy}, load generator + upstream cpu ${CPU.load} (direct: load generator cpu ${CPU.directLoad})` : 'off'}\n`);
  const quiet = await waitQuiet(15, Number(args['max-wait-quiet']) * 1000);
  results.host.otherCpuBusyPctAtStart = quiet.busyPct;
  results.host.waitedForQuietSec = Math.round(quiet.waitedMs / 1000);
  if (quiet.busyPct >= 15) {
    process.stdout.write(`bench: WARNING: ${quiet.busyPct}% of the CPUs are busy with other work: the numbers will be noisy (the CPU us/req columns less so)\n`);
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'breakwater-bench-'));
  fs.chmodSync(work, 0o755); // nginx workers run as an unprivileged user when started as root
  let clickhouse: ClickHouseServer | undefined;
  try {
    heading('services');
    clickhouse = await startClickHouse();
    logCommand(`clickhouse-server --config-file=${clickhouse.dir}/config.xml &   # clickhouse (test/services startClickHouse), http ${clickhouse.url}`);
    if (clickhouse.pid !== undefined) extraPids.push(clickhouse.pid);
    results.host.clickhouse = (await clickhouse.query('SELECT version()')).trim();
    // Unpinned until the saturation runs: see the latency section.
    const upstream = await startNginxStatic(nginxBin, path.join(work, 'nginx-static'), undefined);

    const bwClickHouse = await startSidecar({
      name: 'breakwater-clickhouse',
      dir: path.join(work, 'bw-clickhouse'),
      dependency: 'clickhouse',
      upstream: clickhouse.url,
      healthPath: '/ping',
    });
    const bwStatic = await startSidecar({
      name: 'breakwater-static',
      dir: path.join(work, 'bw-static'),
      dependency: 'static1k',
      upstream: upstream.origin,
      healthPath: STATIC_PATH,
    });
    process.stdout.write(`bench: breakwater ready (clickhouse pid ${bwClickHouse.proc.pid}, static pid ${bwStatic.proc.pid}); idling ${D.idleSec} s with health checks on\n`);
    // RSS moves with every GC: sample it through the idle period, report the median (and max).
    const idleSamples = { clickhouse: [] as number[], static: [] as number[] };
    for (let i = 0; i < D.idleSec * 2; i++) {
      await sleep(500);
      idleSamples.clickhouse.push(memoryOf(bwClickHouse.proc.pid).rssMiB);
      idleSamples.static.push(memoryOf(bwStatic.proc.pid).rssMiB);
    }
    results.rss['breakwater-clickhouse idle'] = { ...memoryOf(bwClickHouse.proc.pid), ...spread(idleSamples.clickhouse) };
    results.rss['breakwater-static idle'] = { ...memoryOf(bwStatic.proc.pid), ...spread(idleSamples.static) };
    process.stdout.write(`bench: idle RSS ${JSON.stringify(results.rss)}\n`);

    // 1. Added latency, open loop
    heading(`1. added latency: SELECT 1 at ${D.rate} req/s, open loop (vegeta), ${D.latencyRounds} x ${D.latencyRoundSec} s per target (direct, breakwater, nginx and HAProxy for reference), interleaved`);
    const vegeta = new Vegeta(vegetaBin, work);
    const select1 = '/?query=SELECT%201';
    const lat = { direct: [] as string[], breakwater: [] as string[], nginx: [] as string[], haproxy: [] as string[] };
    const latOther = { direct: [] as number[], breakwater: [] as number[], nginx: [] as number[], haproxy: [] as number[] };
    const bwCpuMs: number[] = [];
    const nginxCpuMs: number[] = [];
    // nginx as a reference: what any proxy hop costs on this machine at this rate
    const nginxProxyCh = await startNginxProxy(nginxBin, 'nginx-proxy-clickhouse', path.join(work, 'nginx-proxy-ch'), clickhouse.httpPort, '/ping', undefined);
    const haproxyCh = haproxyBin
      ? await startHaproxy(haproxyBin, path.join(work, 'haproxy-ch'), clickhouse.httpPort, { http: '/ping' }, undefined).catch((err: Error) => {
          process.stdout.write(`bench: HAProxy in front of ClickHouse did not start, leaving it out: ${err.message}\n`);
          return undefined;
        })
      : undefined;
    const targets: Record<string, string> = { direct: clickhouse.url + select1, breakwater: bwClickHouse.origin + select1, nginx: nginxProxyCh.origin + select1 };
    if (haproxyCh) targets.haproxy = haproxyCh.origin + select1;
    const latencyTargets = Object.keys(targets) as Array<keyof typeof lat>;
    for (const [name, url] of Object.entries(targets)) {
      await vegeta.attack(`warm-${name}`, url, { rate: D.rate, seconds: D.latencyWarmSec });
    }
    for (let i = 0; i < D.latencyRounds; i++) {
      for (const name of latencyTargets) {
        const m = await measured(`${name} vegeta round ${i + 1}`, async () => {
          const bw0 = cpuMsOfGroup(bwClickHouse.proc.pid);
          const ngx0 = cpuMsOfGroup(nginxProxyCh.proc.pid);
          const file = await vegeta.attack(name, targets[name]!, { rate: D.rate, seconds: D.latencyRoundSec });
          return { file, bwCpuMs: cpuMsOfGroup(bwClickHouse.proc.pid) - bw0, nginxCpuMs: cpuMsOfGroup(nginxProxyCh.proc.pid) - ngx0 };
        });
        process.stdout.write(`   other work during the round: ${m.disturbance.otherCpuPct}% of the CPUs\n`);
        lat[name].push(m.value.file);
        if (name === 'breakwater') bwCpuMs.push(m.value.bwCpuMs);
        if (name === 'nginx') nginxCpuMs.push(m.value.nginxCpuMs);
        latOther[name].push(m.disturbance.otherCpuPct);
      }
    }
    const direct = await vegeta.report(lat.direct);
    const viaBw = await vegeta.report(lat.breakwater);
    const viaNginx = await vegeta.report(lat.nginx);
    const viaHaproxy = haproxyCh ? await vegeta.report(lat.haproxy) : undefined;
    const added = (r: VegetaReport): LatencyDelta => latencyDelta(r, direct);
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    results.latency = {
      direct,
      breakwater: viaBw,
      nginx: viaNginx,
      otherCpuPct: latOther,
      breakwaterCpuUsPerReq: round((sum(bwCpuMs) * 1000) / Math.max(1, viaBw.requests), 1),
      nginxCpuUsPerReq: round((sum(nginxCpuMs) * 1000) / Math.max(1, viaNginx.requests), 1),
      addedMs: added(viaBw),
      nginxAddedMs: added(viaNginx),
      ...(viaHaproxy ? { haproxy: viaHaproxy, haproxyAddedMs: added(viaHaproxy) } : {}),
    };

    // 2. Saturation, closed loop. From here on the processes are pinned (see the top of the file).
    heading('pinning for the saturation runs');
    if (clickhouse.pid !== undefined) await pinPid(clickhouse.pid, CPU.upstream);
    await pinGroup(upstream.proc.pid, CPU.upstream);
    await pinGroup(bwClickHouse.proc.pid, CPU.proxy);
    await pinGroup(bwStatic.proc.pid, CPU.proxy);
    const nginxProxyStatic = await startNginxProxy(nginxBin, 'nginx-proxy-static', path.join(work, 'nginx-proxy-static'), upstream.port, STATIC_PATH, CPU.proxy);
    await pinGroup(nginxProxyCh.proc.pid, CPU.proxy);
    if (haproxyCh) await pinGroup(haproxyCh.proc.pid, CPU.proxy);
    const haproxy = haproxyBin
      ? await startHaproxy(haproxyBin, path.join(work, 'haproxy'), upstream.port, { http: STATIC_PATH }, CPU.proxy).catch((err: Error) => {
          process.stdout.write(`bench: HAProxy did not start, leaving it out: ${err.message}\n`);
          return undefined;
        })
      : undefined;
    const httpProxy = await startNodeForwarder('http-proxy', upstream.origin, { http: STATIC_PATH }, CPU.proxy);
    const undiciPool = await startNodeForwarder('undici-pool', upstream.origin, { http: STATIC_PATH }, CPU.proxy);
    const tcpPipe = await startNodeForwarder('tcp-pipe', upstream.origin, { http: STATIC_PATH }, CPU.proxy);

    const wrk = new Wrk(wrkBin, work);
    heading(`2a. saturation: 1 KiB static file, wrk -t1 -c${D.wrkConnections} -d${D.wrkSec}s (after a ${D.wrkWarmSec} s warm-up)`);
    const group = (pgid: number) => () => cpuMsOfGroup(pgid);
    const staticTargets: SaturationTarget[] = [
      { target: 'direct', what: 'nginx serving the file, no proxy', url: upstream.origin + STATIC_PATH, cpus: CPU.directLoad, cpuMs: group(upstream.proc.pid) },
      { target: 'breakwater', what: 'clickhouse-http listener -> nginx', url: bwStatic.origin + STATIC_PATH, cpus: CPU.load, cpuMs: group(bwStatic.proc.pid) },
      { target: 'nginx', what: 'nginx reverse proxy, keepalive 64', url: nginxProxyStatic.origin + STATIC_PATH, cpus: CPU.load, cpuMs: group(nginxProxyStatic.proc.pid) },
      ...(haproxy
        ? [{ target: 'haproxy', what: 'HAProxy mode http, nbthread 1, http-reuse always', url: haproxy.origin + STATIC_PATH, cpus: CPU.load, cpuMs: group(haproxy.proc.pid) }]
        : []),
      { target: 'http-proxy', what: 'npm http-proxy 1.18.1, keep-alive Agent', url: httpProxy.origin + STATIC_PATH, cpus: CPU.load, cpuMs: group(httpProxy.proc.pid) },
      { target: 'undici-pool', what: 'naive undici Pool.request + pipe', url: undiciPool.origin + STATIC_PATH, cpus: CPU.load, cpuMs: group(undiciPool.proc.pid) },
      { target: 'tcp-pipe', what: 'Node net.Socket pipe, no HTTP parsing: the floor for Node', url: tcpPipe.origin + STATIC_PATH, cpus: CPU.load, cpuMs: group(tcpPipe.proc.pid) },
    ];
    for (let r = 0; r < D.saturationRounds; r++) {
      for (const t of staticTargets) await saturate(wrk, t, results.saturation.static, r);
    }
    heading(`2b. saturation: SELECT 1 to ClickHouse, wrk -t1 -c${D.wrkConnections} -d${D.wrkSec}s`);
    const chPid = clickhouse.pid ?? 0;
    const chTargets: SaturationTarget[] = [
      { target: 'direct', what: 'ClickHouse HTTP, no proxy', url: clickhouse.url + select1, cpus: CPU.directLoad, cpuMs: () => cpuMsOfPid(chPid) },
      { target: 'breakwater', what: 'clickhouse-http listener -> ClickHouse', url: bwClickHouse.origin + select1, cpus: CPU.load, cpuMs: group(bwClickHouse.proc.pid) },
      { target: 'nginx', what: 'nginx reverse proxy, keepalive 64', url: nginxProxyCh.origin + select1, cpus: CPU.load, cpuMs: group(nginxProxyCh.proc.pid) },
      ...(haproxyCh
        ? [{ target: 'haproxy', what: 'HAProxy mode http, nbthread 1, http-reuse always', url: haproxyCh.origin + select1, cpus: CPU.load, cpuMs: group(haproxyCh.proc.pid) }]
        : []),
    ];
    for (let r = 0; r < D.saturationRounds; r++) {
      for (const t of chTargets) await saturate(wrk, t, results.saturation.clickhouse, r);
    }

    // 2c. The 1 KiB file at the fixed rate (pinned as in 2a: the proxy on cpu 0, vegeta and nginx on cpu 1)
    heading(`2c. fixed rate: 1 KiB file at ${D.rate} req/s, open loop (vegeta), ${D.latencyRounds} x ${D.latencyRoundSec} s per target, interleaved`);
    const staticRate: Record<string, { url: string; cpus: string }> = {
      direct: { url: upstream.origin + STATIC_PATH, cpus: CPU.directLoad },
      breakwater: { url: bwStatic.origin + STATIC_PATH, cpus: CPU.load },
      nginx: { url: nginxProxyStatic.origin + STATIC_PATH, cpus: CPU.load },
      ...(haproxy ? { haproxy: { url: haproxy.origin + STATIC_PATH, cpus: CPU.load } } : {}),
    };
    const staticFiles: Record<string, string[]> = {};
    // already warm from the saturation runs: a short warm-up at the rate is enough
    for (const [name, x] of Object.entries(staticRate)) await vegeta.attack(`warm-static-${name}`, x.url, { rate: D.rate, seconds: D.wrkWarmSec, cpus: x.cpus });
    for (let i = 0; i < D.latencyRounds; i++) {
      for (const [name, x] of Object.entries(staticRate)) {
        const m = await measured(`static ${name} vegeta round ${i + 1}`, () => vegeta.attack(`static-${name}`, x.url, { rate: D.rate, seconds: D.latencyRoundSec, cpus: x.cpus }));
        (staticFiles[name] ??= []).push(m.value);
      }
    }
    const byTarget: Record<string, VegetaReport> = {};
    for (const [name, files] of Object.entries(staticFiles)) byTarget[name] = await vegeta.report(files);
    const staticAdded: Record<string, LatencyDelta> = {};
    for (const [name, r] of Object.entries(byTarget)) if (name !== 'direct') staticAdded[name] = latencyDelta(r, byTarget.direct!);
    results.staticLatency = { byTarget, addedMs: staticAdded };

    // 3. RSS after saturation
    results.rss['breakwater-clickhouse after saturation'] = memoryOf(bwClickHouse.proc.pid);
    results.rss['breakwater-static after saturation'] = memoryOf(bwStatic.proc.pid);

    computeRatios();

    // Profile: on request, or when breakwater missed a target.
    const missed = Object.values(results.verdicts).some((v) => v.startsWith('MISSED'));
    const doProfile = args.profile === true || (missed && !args['no-profile']);
    for (const p of [nginxProxyStatic, nginxProxyCh, haproxy, httpProxy, undiciPool, tcpPipe].filter((x): x is Server => x !== undefined)) await p.proc.stop();
    if (doProfile) {
      heading(`profile: breakwater under node --cpu-prof during wrk -c${D.wrkConnections} -d${D.wrkSec}s on the 1 KiB file`);
      await bwStatic.proc.stop();
      await bwClickHouse.proc.stop();
      results.profile = await profileRun(wrk, work, upstream.origin);
    }
    await stopAll();
    await clickhouse.stop();
    clickhouse = undefined;

    // 4. Breaker microbenchmark (machine otherwise idle now)
    heading('4. breaker microbenchmark');
    const b = await run([process.execPath, path.join(ROOT, 'dist/test/bench/breaker.bench.js'), '1'], { cpus: CPU.proxy, timeoutMs: 120_000 });
    if (b.code !== 0) throw new Error(`breaker.bench.js failed (exit ${b.code}): ${b.stderr}`);
    for (const line of b.stdout.split('\n')) {
      if (line.trim().startsWith('{')) results.breaker.push(JSON.parse(line));
    }
  } finally {
    await stopAll();
    await clickhouse?.stop().catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** median, min and max of RSS samples */
function spread(xs: number[]): { rssMiB: number; minMiB: number; maxMiB: number; samples: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { rssMiB: s[Math.floor(s.length / 2)] ?? NaN, minMiB: s[0] ?? NaN, maxMiB: s[s.length - 1] ?? NaN, samples: s.length };
}

function rowOf(rows: SaturationRow[], target: string): SaturationRun | undefined {
  return rows.find((r) => r.target === target)?.best;
}

function computeRatios(): void {
  const s = results.saturation.static;
  const bw = rowOf(s, 'breakwater');
  const ratio = (a: WrkResult | undefined, b: WrkResult | undefined): number | undefined =>
    a && b && b.reqPerSec > 0 ? round(a.reqPerSec / b.reqPerSec, 2) : undefined;
  const put = (k: string, v: number | undefined): void => {
    if (v !== undefined) results.ratios[k] = v;
  };
  put('static: breakwater/nginx', ratio(bw, rowOf(s, 'nginx')));
  put('static: breakwater/direct', ratio(bw, rowOf(s, 'direct')));
  put('static: breakwater/http-proxy', ratio(bw, rowOf(s, 'http-proxy')));
  put('static: breakwater/haproxy', ratio(bw, rowOf(s, 'haproxy')));
  put('static: breakwater/undici-pool', ratio(bw, rowOf(s, 'undici-pool')));
  put('static: breakwater/tcp-pipe', ratio(bw, rowOf(s, 'tcp-pipe')));
  put('static: tcp-pipe/nginx', ratio(rowOf(s, 'tcp-pipe'), rowOf(s, 'nginx')));
  put('static: nginx/direct', ratio(rowOf(s, 'nginx'), rowOf(s, 'direct')));
  const cpu = (a: SaturationRun | undefined, b: SaturationRun | undefined): number | undefined =>
    a && b && b.serverCpuUsPerReq > 0 ? round(a.serverCpuUsPerReq / b.serverCpuUsPerReq, 2) : undefined;
  put('static CPU per request: breakwater/nginx', cpu(bw, rowOf(s, 'nginx')));
  put('static CPU per request: breakwater/haproxy', cpu(bw, rowOf(s, 'haproxy')));
  put('static CPU per request: breakwater/http-proxy', cpu(bw, rowOf(s, 'http-proxy')));
  put('static CPU per request: breakwater/undici-pool', cpu(bw, rowOf(s, 'undici-pool')));
  const c = results.saturation.clickhouse;
  put('clickhouse: breakwater/nginx', ratio(rowOf(c, 'breakwater'), rowOf(c, 'nginx')));
  put('clickhouse: breakwater/direct', ratio(rowOf(c, 'breakwater'), rowOf(c, 'direct')));
  put('clickhouse: nginx/direct', ratio(rowOf(c, 'nginx'), rowOf(c, 'direct')));

  const v = results.verdicts;
  if (results.latency) {
    const { addedMs, direct, breakwater } = results.latency;
    const invalid = direct.success < 0.999 || breakwater.success < 0.999;
    v['added p99 <= 1 ms'] = invalid
      ? `NOT MEASURED: failed requests (direct ${round(direct.success * 100, 2)}% ok, breakwater ${round(breakwater.success * 100, 2)}% ok)`
      : `${addedMs.p99 <= TARGETS.addedP99Ms ? 'met' : 'MISSED'} (${addedMs.p99} ms)`;
  }
  const vsNginx = results.ratios['static: breakwater/nginx'];
  if (vsNginx !== undefined) v['breakwater >= 0.5x nginx'] = `${vsNginx >= TARGETS.vsNginx ? 'met' : 'MISSED'} (${vsNginx}x)`;
  const idle = results.rss['breakwater-clickhouse idle'];
  if (idle) v['idle RSS <= 80 MB'] = `${idle.rssMiB <= TARGETS.idleRssMiB ? 'met' : 'MISSED'} (${idle.rssMiB} MiB)`;
}

type ProfileResult = ProfileSummary & { copiedTo: string; reqPerSecUnderProfiler: number; window: [number, number] };

async function profileRun(wrk: Wrk, work: string, upstream: string): Promise<ProfileResult> {
  const profDir = path.join(work, 'cpuprofile');
  fs.mkdirSync(profDir, { recursive: true });
  const bw = await startSidecar({
    name: 'breakwater-profiled',
    dir: path.join(work, 'bw-profiled'),
    dependency: 'static1k',
    upstream,
    healthPath: STATIC_PATH,
    cpus: CPU.proxy,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
  });
  const url = bw.origin + STATIC_PATH;
  await wrk.run(url, { seconds: D.wrkWarmSec, connections: D.wrkConnections, cpus: CPU.load });
  const t0 = Number(process.hrtime.bigint() / 1000n);
  const r = await wrk.run(url, { seconds: D.wrkSec, connections: D.wrkConnections, cpus: CPU.load });
  const t1 = Number(process.hrtime.bigint() / 1000n);
  process.stdout.write(`   under the profiler: ${r.reqPerSec} req/s\n`);
  await bw.proc.stop(30_000); // SIGTERM: graceful exit writes the profile
  const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`node --cpu-prof wrote no profile into ${profDir}`);
  const copiedTo = resultFile('http', results.startedAt, 'cpuprofile');
  fs.copyFileSync(path.join(profDir, file), copiedTo);
  const summary = summarizeProfile(copiedTo, { root: ROOT, top: 15, window: [t0, t1], stages: STAGES });
  // the three socket-write natives are one stage
  const stages: ProfileSummary['stages'] = [];
  for (const st of summary.stages) {
    if (st.stage === '') stages[stages.length - 1]!.pct = round(stages[stages.length - 1]!.pct + st.pct, 1);
    else stages.push(st);
  }
  return { ...summary, stages, window: [t0, t1], reqPerSecUnderProfiler: r.reqPerSec, copiedTo: path.relative(ROOT, copiedTo) };
}


function report(): string {
  const out: string[] = [];
  const h = results.host;
  out.push(`breakwater HTTP data-path benchmark — ${results.startedAt}`);
  out.push(`commit ${h.commit}; ${h.cpu}, ${h.cores} cores; node ${h.node}; ${QUICK ? 'QUICK run (short durations)' : 'full run'}`);
  out.push(`CPUs busy with other work before the start: ${h.otherCpuBusyPctAtStart}% (waited ${h.waitedForQuietSec} s for quiet); measured intervals repeated because other work disturbed them: ${guard.repeated}`);
  out.push(
    `pinning: latency runs unpinned; saturation runs ${pinning.enabled ? `pinned: proxy under test on cpu ${CPU.proxy}, load generator + upstream on cpu ${CPU.load}; "direct": load generator on cpu ${CPU.directLoad}, upstream on cpu ${CPU.upstream}` : 'unpinned (--no-pin)'}`,
  );
  if (results.latency) {
    const { direct, breakwater, nginx, addedMs, nginxAddedMs } = results.latency;
    out.push('', `1. Added latency — GET /?query=SELECT%201 to ClickHouse, ${D.rate} req/s open loop (vegeta ${VEGETA_VERSION}), ${D.latencyRounds}x${D.latencyRoundSec} s per target after a ${D.latencyWarmSec} s warm-up, interleaved, merged; unpinned`);
    const other = results.latency.otherCpuPct;
    const row = (name: 'direct' | 'breakwater' | 'nginx (reference)' | 'haproxy (reference)', r: VegetaReport): (string | number)[] => [
      name,
      ...vegetaCells(r),
      (other[name === 'nginx (reference)' ? 'nginx' : name === 'haproxy (reference)' ? 'haproxy' : name] ?? []).map((x) => `${x}%`).join(' '),
    ];
    out.push(
      table(
        ['target', 'requests', 'ok', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'other CPU per round'],
        [
          row('direct', direct),
          row('breakwater', breakwater),
          row('nginx (reference)', nginx),
          ['added by breakwater', '', '', ms(addedMs.p50), ms(addedMs.p90), ms(addedMs.p99), ms(addedMs.p999), ms(breakwater.latencyMs.max - direct.latencyMs.max), ''],
          ['added by nginx', '', '', ms(nginxAddedMs.p50), ms(nginxAddedMs.p90), ms(nginxAddedMs.p99), ms(nginxAddedMs.p999), ms(nginx.latencyMs.max - direct.latencyMs.max), ''],
          ...(results.latency.haproxy && results.latency.haproxyAddedMs
            ? [
                row('haproxy (reference)', results.latency.haproxy),
                ['added by HAProxy', '', '', ms(results.latency.haproxyAddedMs.p50), ms(results.latency.haproxyAddedMs.p90), ms(results.latency.haproxyAddedMs.p99), ms(results.latency.haproxyAddedMs.p999), ms(results.latency.haproxy.latencyMs.max - direct.latencyMs.max), ''],
              ]
            : []),
        ],
      ),
    );
    const l = results.latency;
    out.push(
      `proxy CPU at ${D.rate} req/s: breakwater ${l.breakwaterCpuUsPerReq} us/req (${round((l.breakwaterCpuUsPerReq * D.rate) / 1e4, 1)}% of a core), nginx ${l.nginxCpuUsPerReq} us/req (${round((l.nginxCpuUsPerReq * D.rate) / 1e4, 1)}% of a core)`,
    );
  }
  const sat = (title: string, rows: SaturationRow[]): void => {
    if (rows.length === 0) return;
    out.push('', title);
    const bw = rowOf(rows, 'breakwater');
    out.push(
      table(
        ['target', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'bw / this', 'srv CPU', 'CPU us/req', 'other CPU', ...(D.saturationRounds > 1 ? ['all rounds req/s'] : []), 'what'],
        rows.map((r) => [
          r.target,
          r.best.reqPerSec,
          ms(r.best.latencyMs.p50),
          ms(r.best.latencyMs.p99),
          ms(r.best.latencyMs.max),
          wrkErrors(r.best),
          r.target === 'breakwater' || !bw ? '' : `${round(bw.reqPerSec / r.best.reqPerSec, 2)}x`,
          `${r.best.serverCpuPct}%`,
          r.best.serverCpuUsPerReq,
          `${r.best.otherCpuPct}%`,
          ...(D.saturationRounds > 1 ? [r.rounds.map((x) => x.reqPerSec).join(' / ')] : []),
          r.what,
        ]),
      ),
    );
  };
  const satNote =
    `srv CPU: CPU time of the server under test (the proxy; for "direct" the upstream) over the run, 100% = one core; CPU us/req: that CPU time per request (less sensitive to a noisy machine than req/s); other CPU: CPU taken by processes the benchmark did not start, % of all CPUs (intervals above ${MAX_OTHER_CPU_PCT}% are repeated, up to ${MAX_ATTEMPTS} attempts)`;
  sat(`2a. Saturation — 1 KiB file from nginx, wrk -t1 -c${D.wrkConnections} -d${D.wrkSec}s (closed loop)${D.saturationRounds > 1 ? `, best of ${D.saturationRounds} rounds` : ''}`, results.saturation.static);
  sat(`2b. Saturation — SELECT 1 to ClickHouse, wrk -t1 -c${D.wrkConnections} -d${D.wrkSec}s`, results.saturation.clickhouse);
  if (results.saturation.static.length) out.push(satNote);
  if (results.staticLatency) {
    const { byTarget, addedMs } = results.staticLatency;
    out.push('', `2c. Fixed rate — 1 KiB file, ${D.rate} req/s open loop (vegeta), ${D.latencyRounds}x${D.latencyRoundSec} s per target, interleaved, merged; pinned as in 2a`);
    out.push(
      table(
        ['target', 'requests', 'ok', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'added p50 ms', 'added p99 ms'],
        Object.entries(byTarget).map(([name, r]) => [
          name,
          ...vegetaCells(r),
          addedMs[name] ? ms(addedMs[name]!.p50) : '',
          addedMs[name] ? ms(addedMs[name]!.p99) : '',
        ]),
      ),
    );
  }
  if (Object.keys(results.ratios).length) {
    out.push('', 'Ratios (req/s unless it says CPU per request)');
    out.push(table(['ratio', 'value'], Object.entries(results.ratios).map(([k, v]) => [k, `${v}x`])));
  }
  if (Object.keys(results.rss).length) {
    out.push('', '3. Memory of the breakwater processes (/proc/<pid>/status)');
    out.push(
      table(
        ['process / moment', 'VmRSS MiB', '= MB', 'min-max MiB', 'VmHWM MiB'],
        Object.entries(results.rss).map(([k, v]) => [k, v.rssMiB, round((v.rssMiB * 1048576) / 1e6, 1), v.minMiB === undefined ? '' : `${v.minMiB}-${v.maxMiB}`, v.hwmMiB]),
      ),
    );
    out.push(`idle = median of ${D.idleSec * 2} samples every 0.5 s over ${D.idleSec} s after /readyz, health checks running; VmHWM = peak (start-up included)`);
  }
  if (results.breaker.length) {
    out.push('', '4. Breaker microbenchmark — node dist/test/bench/breaker.bench.js 1 (acquire()+success(), closed state)');
    out.push(
      table(
        ['policy', 'ops/s', 'ns/op'],
        (results.breaker as { policy: string; opsPerSec: number }[]).map((b) => [b.policy, b.opsPerSec.toLocaleString('en-US'), round(1e9 / b.opsPerSec, 1)]),
      ),
    );
  }
  if (Object.keys(results.verdicts).length) {
    out.push('', 'Targets (reported, not asserted)');
    out.push(table(['target', 'result'], Object.entries(results.verdicts)));
  }
  if (results.profile) {
    const p = results.profile;
    out.push(
      '',
      `Profile — breakwater under node --cpu-prof during wrk (${p.reqPerSecUnderProfiler} req/s under the profiler): ${p.durationMs} ms, ${p.samples} samples${p.windowed ? ' inside the wrk run' : ''}`,
      `(${p.copiedTo}: open it in Chrome DevTools or speedscope)`,
    );
    out.push(`self time by area: ${Object.entries(p.areas).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}%`).join(', ')}`);
    const rows = (list: typeof p.topSelf): (string | number)[][] => list.map((f) => [f.function, f.area, `${f.selfPct}%`, `${f.totalPct}%`, f.where]);
    out.push('top self time, all code:');
    out.push(table(['function', 'area', 'self', 'total', 'where'], rows(p.topSelf)));
    out.push('where the CPU goes, by stage (share of samples with that stage on the stack):');
    out.push(table(['stage', 'share'], p.stages.map((st) => [st.stage, `${st.pct}%`])));
    out.push("breakwater's own functions by total (inclusive) time:");
    out.push(table(['function', 'area', 'self', 'total', 'where'], rows(p.breakwaterTotal.slice(0, 10))));
  }
  if (results.error) out.push('', `ERROR: ${results.error}`);
  return out.join('\n');
}

const exitCode = await runMain(main, results);
if (results.saturation.static.length > 0 && Object.keys(results.verdicts).length === 0) computeRatios();
results.finishedAt = new Date().toISOString();
results.settings.repeatedIntervals = guard.repeated;
saveResults('http', results, report());
process.stdout.write(`cache: ${CACHE_DIR}\n`);
process.exit(exitCode);
