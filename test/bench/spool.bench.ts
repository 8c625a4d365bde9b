// Durable spool throughput: concurrent appenders in a loop, each append
// resolving only after its fdatasync (group commit batches them). Reports
// records/s, appends/s, fsyncs/s and append latency; never asserts.
// Build, then run: node dist/test/bench/spool.bench.js [--seconds 5] [--dir /path/on/the/disk/to/test]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Spool } from '../../src/store/spool/spool.js';
import { benchCommit, runMain, saveResults } from './support/results.js';
import { ROOT } from './support/sidecar.js';
import { table } from './support/report.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    'warm-seconds': { type: 'string', default: '0.5' },
    dir: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const WARM_SECONDS = Number(args['warm-seconds']);
const TARGET_RECORDS_PER_SEC = 50_000;

interface Case {
  name: string;
  concurrency: number;
  /** Records per entry (the entry's count), and payload bytes per entry. */
  records: number;
  payloadBytes: number;
  /** A consumer peeks and acks while the appenders run (the drain after the dependency is back). */
  drain: boolean;
}

const CASES: Case[] = [
  { name: '1 record/100 B x64', concurrency: 64, records: 1, payloadBytes: 100, drain: false },
  { name: '100 records/10 KB x64', concurrency: 64, records: 100, payloadBytes: 10_240, drain: false },
  { name: '1 record/100 B x64 + drain', concurrency: 64, records: 1, payloadBytes: 100, drain: true },
  { name: '1 record/100 B x256', concurrency: 256, records: 1, payloadBytes: 100, drain: false },
  { name: '1 record/100 B x1', concurrency: 1, records: 1, payloadBytes: 100, drain: false },
];

interface CaseResult {
  name: string;
  concurrency: number;
  recordsPerEntry: number;
  payloadBytes: number;
  drain: boolean;
  seconds: number;
  appends: number;
  recordsPerSec: number;
  appendsPerSec: number;
  fsyncsPerSec: number;
  appendsPerFsync: number;
  mbPerSec: number;
  latencyMs: { p50: number; p99: number; max: number };
  acked: number;
  cpuPct: number;
}

const results = {
  startedAt: new Date().toISOString(),
  finishedAt: '',
  host: {} as Record<string, unknown>,
  settings: { seconds: SECONDS, warmSeconds: WARM_SECONDS, dir: '', segmentBytes: 64 << 20, targetRecordsPerSec: TARGET_RECORDS_PER_SEC },
  command: `npm run bench:spool${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  cases: [] as CaseResult[],
  verdict: '',
  error: undefined as string | undefined,
};

const round = (x: number, digits = 0): number => Math.round(x * 10 ** digits) / 10 ** digits;

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function runCase(c: Case, root: string): Promise<CaseResult> {
  const dir = fs.mkdtempSync(path.join(root, 'spool-'));
  const spool = await Spool.open({ dir, maxBytes: 64 * 2 ** 30 });
  const payload = Buffer.alloc(c.payloadBytes, 0x61);
  const inputs = [{ stream: 'bench-topic/0', payload, count: c.records }];
  let latencies = new Float64Array(1 << 20);
  let n = 0;
  let measuring = false;
  let stop = false;
  let acked = 0;

  const appender = async (): Promise<void> => {
    while (!stop) {
      const t0 = performance.now();
      await spool.append(inputs);
      if (measuring) {
        if (n === latencies.length) {
          const grown = new Float64Array(n * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[n++] = performance.now() - t0;
      }
    }
  };
  const drainer = async (): Promise<void> => {
    while (!stop) {
      const entries = await spool.peek(1 << 20, 1000);
      if (entries.length === 0) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      await spool.ack(entries[entries.length - 1]!.seq);
      if (measuring) acked += entries.length;
    }
  };

  const workers = Array.from({ length: c.concurrency }, appender);
  if (c.drain) workers.push(drainer());
  await new Promise((r) => setTimeout(r, WARM_SECONDS * 1000));
  const fsyncs0 = spool.stats.fsyncs;
  const cpu0 = process.cpuUsage();
  measuring = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const fsyncs = spool.stats.fsyncs - fsyncs0;
  stop = true;
  await Promise.all(workers);
  await spool.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const sorted = latencies.subarray(0, n).sort();
  return {
    name: c.name,
    concurrency: c.concurrency,
    recordsPerEntry: c.records,
    payloadBytes: c.payloadBytes,
    drain: c.drain,
    seconds: round(seconds, 2),
    appends: n,
    recordsPerSec: Math.round((n * c.records) / seconds),
    appendsPerSec: Math.round(n / seconds),
    fsyncsPerSec: Math.round(fsyncs / seconds),
    appendsPerFsync: round(n / Math.max(1, fsyncs), 1),
    mbPerSec: round((n * c.payloadBytes) / seconds / 1e6, 1),
    latencyMs: { p50: round(percentile(sorted, 50), 3), p99: round(percentile(sorted, 99), 3), max: round(sorted[sorted.length - 1] ?? NaN, 3) },
    acked,
    cpuPct: round(((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100, 0),
  };
}

function report(): string {
  const out = [`spool bench ${results.startedAt}: ${SECONDS} s per case after ${WARM_SECONDS} s warm-up, dir ${results.settings.dir}`, `host: ${JSON.stringify(results.host)}`, ''];
  out.push(
    table(
      ['case', 'records/s', 'appends/s', 'fsyncs/s', 'appends/fsync', 'MB/s', 'p50 ms', 'p99 ms', 'max ms', 'acked', 'CPU %'],
      results.cases.map((r) => [r.name, r.recordsPerSec, r.appendsPerSec, r.fsyncsPerSec, r.appendsPerFsync, r.mbPerSec, r.latencyMs.p50, r.latencyMs.p99, r.latencyMs.max, r.drain ? r.acked : '-', r.cpuPct]),
    ),
  );
  if (results.verdict) out.push('', results.verdict);
  if (results.error) out.push('', `ERROR: ${results.error}`);
  return out.join('\n');
}

async function main(): Promise<void> {
  const root = args.dir ?? os.tmpdir();
  fs.mkdirSync(root, { recursive: true });
  results.settings.dir = root;
  const commit = benchCommit();
  let filesystem = 'unknown';
  try {
    filesystem = execFileSync('df', ['-PT', root], { encoding: 'utf8' }).trim().split('\n')[1]!.split(/\s+/).slice(0, 2).join(' ');
  } catch {
    // no df
  }
  results.host = {
    commit,
    cpu: /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    filesystem,
    loadAverageAtStart: os.loadavg().map((l) => round(l, 2)),
  };
  process.stdout.write(`host: ${JSON.stringify(results.host)}\n`);
  for (const c of CASES) {
    const r = await runCase(c, root);
    results.cases.push(r);
    process.stdout.write(`${r.name}: ${r.recordsPerSec} records/s, ${r.appendsPerSec} appends/s, ${r.fsyncsPerSec} fsyncs/s, p50 ${r.latencyMs.p50} ms, p99 ${r.latencyMs.p99} ms\n`);
  }
  const main100 = results.cases[0]!;
  results.verdict =
    `${main100.recordsPerSec >= TARGET_RECORDS_PER_SEC ? 'MET' : 'MISSED'}: ${main100.recordsPerSec} records/s appended durably ` +
    `(${main100.name}, target >= ${TARGET_RECORDS_PER_SEC}); ${results.cases[1]!.recordsPerSec} records/s with ${results.cases[1]!.name}`;
}

const exitCode = await runMain(main, results);
results.finishedAt = new Date().toISOString();
results.host.loadAverageAtEnd = os.loadavg().map((l) => round(l, 2));
saveResults('spool', results, report());
process.exit(exitCode);
