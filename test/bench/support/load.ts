// Load generators: wrk (closed loop, saturation) and vegeta (open loop, fixed rate).
import fs from 'node:fs';
import path from 'node:path';
import { run, runOk } from './procs.js';

export interface WrkResult {
  url: string;
  connections: number;
  seconds: number;
  requests: number;
  reqPerSec: number;
  /** latencies in ms (wrk measures them closed-loop: coordinated omission applies) */
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  mbPerSec: number;
}

// wrk's done() hook prints one JSON line; parsing wrk's text output is fragile.
const WRK_LUA = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
    '"latency_us":{"mean":%.2f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f}}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

export class Wrk {
  private readonly lua: string;
  constructor(
    private readonly wrk: string,
    dir: string,
  ) {
    this.lua = path.join(dir, 'report.lua');
    fs.writeFileSync(this.lua, WRK_LUA);
  }

  async run(url: string, opts: { seconds: number; connections: number; threads?: number; cpus?: string; log?: boolean }): Promise<WrkResult> {
    const argv = [this.wrk, `-t${opts.threads ?? 1}`, `-c${opts.connections}`, `-d${opts.seconds}s`, '--timeout', '5s', '-s', this.lua, url];
    const r = await runOk(argv, { cpus: opts.cpus, timeoutMs: (opts.seconds + 30) * 1000, log: opts.log });
    const line = r.stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
    if (line === undefined) throw new Error(`wrk printed no result for ${url}:\n${r.stdout}\n${r.stderr}`);
    const j = JSON.parse(line.slice(8)) as {
      requests: number;
      duration_us: number;
      bytes: number;
      errors: WrkResult['errors'];
      latency_us: { mean: number; p50: number; p90: number; p99: number; max: number };
    };
    const secs = j.duration_us / 1e6;
    const ms = (us: number): number => Math.round(us) / 1000;
    return {
      url,
      connections: opts.connections,
      seconds: Math.round(secs * 100) / 100,
      requests: j.requests,
      reqPerSec: Math.round(j.requests / secs),
      latencyMs: { mean: ms(j.latency_us.mean), p50: ms(j.latency_us.p50), p90: ms(j.latency_us.p90), p99: ms(j.latency_us.p99), max: ms(j.latency_us.max) },
      errors: j.errors,
      mbPerSec: Math.round((j.bytes / secs / 1e6) * 10) / 10,
    };
  }
}

export interface VegetaReport {
  requests: number;
  rate: number;
  throughput: number;
  success: number;
  statusCodes: Record<string, number>;
  errors: string[];
  latencyMs: { mean: number; p50: number; p90: number; p95: number; p99: number; p999: number | null; max: number; min: number };
}

export class Vegeta {
  constructor(
    private readonly vegeta: string,
    private readonly dir: string,
  ) {}

  /** One open-loop attack; the binary results go to a file, to be merged by report(). */
  async attack(name: string, url: string, opts: { rate: number; seconds: number; cpus?: string }): Promise<string> {
    const targets = path.join(this.dir, `${name}.targets`);
    fs.writeFileSync(targets, `GET ${url}\n`);
    const out = path.join(this.dir, `${name}-${Date.now()}.bin`);
    await runOk(
      [this.vegeta, 'attack', `-rate=${opts.rate}/s`, `-duration=${opts.seconds}s`, `-targets=${targets}`, '-max-body=0', `-output=${out}`],
      { cpus: opts.cpus, timeoutMs: (opts.seconds + 60) * 1000 },
    );
    return out;
  }

  /** `vegeta report -type=json` over one or more result files (merged), plus p99.9 from hdrplot. */
  async report(files: string[]): Promise<VegetaReport> {
    const r = await runOk([this.vegeta, 'report', '-type=json', ...files]);
    const j = JSON.parse(r.stdout) as {
      requests: number;
      rate: number;
      throughput: number;
      success: number;
      status_codes: Record<string, number>;
      errors: string[] | null;
      latencies: Record<string, number>;
    };
    const hdr = await run([this.vegeta, 'report', '-type=hdrplot', ...files]);
    const ms = (ns: number | undefined): number => Math.round((ns ?? NaN) / 1000) / 1000;
    return {
      requests: j.requests,
      rate: Math.round(j.rate * 10) / 10,
      throughput: Math.round(j.throughput * 10) / 10,
      success: j.success,
      statusCodes: j.status_codes,
      errors: j.errors ?? [],
      latencyMs: {
        mean: ms(j.latencies.mean),
        p50: ms(j.latencies['50th']),
        p90: ms(j.latencies['90th']),
        p95: ms(j.latencies['95th']),
        p99: ms(j.latencies['99th']),
        p999: hdr.code === 0 ? hdrPercentile(hdr.stdout, 99.9) : null,
        max: ms(j.latencies.max),
        min: ms(j.latencies.min),
      },
    };
  }
}

/** The value (ms) at a percentile from `vegeta report -type=hdrplot` ("Value(ms) Percentile ..."). */
function hdrPercentile(text: string, pct: number): number | null {
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 2) continue;
    const value = Number(cols[0]);
    const p = Number(cols[1]);
    if (Number.isFinite(value) && Number.isFinite(p) && p * 100 >= pct - 1e-9) return Math.round(value * 1000) / 1000;
  }
  return null;
}
