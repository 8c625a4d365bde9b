// Child processes for the HTTP benchmark: every command is printed (and kept for the results
// file) exactly as run, optionally pinned to CPUs with taskset, and started in its own process
// group so that nothing it forks (nginx workers) survives the benchmark:
//  - stop() / stopAll() send SIGTERM to the group, then SIGKILL after a grace period;
//  - a process 'exit' hook SIGKILLs every group still alive;
//  - a detached watchdog (/bin/sh) SIGKILLs the groups listed in a state file once this
//    process is gone, even after a SIGKILL where no hook runs.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';

/** Every command this run started, in order, as a shell would read it. */
export const commandLog: string[] = [];

/** `--no-pin` turns taskset off everywhere. */
export const pinning = { enabled: true };

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
export function shellQuote(args: readonly string[]): string {
  return args.map((a) => (SAFE.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

export function logCommand(line: string): void {
  commandLog.push(line);
  process.stdout.write(`$ ${line}\n`);
}

/** argv prefixed with `taskset -c <cpus>` when pinning is on and cpus are given. */
export function pinned(argv: readonly string[], cpus: string | undefined): string[] {
  return pinning.enabled && cpus !== undefined ? ['taskset', '-c', cpus, ...argv] : [...argv];
}

export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Last 64 KiB of stdout+stderr. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly running: boolean;
  /** SIGTERM to the process group, SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Map<number, { stop(graceMs?: number): Promise<void> }>();
let stateFile: string | undefined;

function writeState(): void {
  if (stateFile === undefined) return;
  try {
    fs.writeFileSync(stateFile, [...live.keys()].join('\n') + '\n');
  } catch {
    // best effort
  }
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

const WATCHDOG = `
parent="$1"; state="$2"
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
for g in $(cat "$state" 2>/dev/null); do kill -KILL -- "-$g" 2>/dev/null; done
rm -f "$state"
`;

let hooked = false;
function installHooks(): void {
  if (hooked) return;
  hooked = true;
  stateFile = path.join(os.tmpdir(), `breakwater-bench-${process.pid}.pgids`);
  writeState();
  const wd = spawn('/bin/sh', ['-c', WATCHDOG, 'breakwater-bench-watchdog', String(process.pid), stateFile], {
    detached: true,
    stdio: 'ignore',
  });
  wd.on('error', () => undefined);
  wd.unref();
  process.on('exit', () => {
    for (const pgid of live.keys()) killGroup(pgid, 'SIGKILL');
    if (stateFile !== undefined) fs.rmSync(stateFile, { force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}: stopping every process it started\n`);
      void stopAll(2000).finally(() => process.exit(130));
    });
  }
}

export interface StartOptions {
  cpus?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Print the command (default true). */
  log?: boolean;
}

/** Starts a long-running process in its own group; it is stopped by stopAll() at the latest. */
export function startProcess(name: string, argv: readonly string[], opts: StartOptions = {}): Proc {
  installHooks();
  const full = pinned(argv, opts.cpus);
  if (opts.log !== false) logCommand(`${shellQuote(full)} &   # ${name}`);
  const child = spawn(full[0]!, full.slice(1), {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid === undefined) {
    // spawn failed synchronously (ENOENT is reported via 'error' with pid undefined)
    throw new Error(`${name}: could not start ${full[0]}: is it installed?`);
  }
  const pid = child.pid;
  let out = '';
  const keep = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    if (out.length > 65536) out = out.slice(-65536);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
    child.once('error', (err) => {
      running = false;
      keep(Buffer.from(`spawn error: ${err.message}\n`));
      resolve({ code: null, signal: null });
    });
  });
  void exited.then(() => {
    live.delete(pid);
    writeState();
  });
  const proc: Proc = {
    name,
    pid,
    child,
    output: () => out,
    exited,
    get running() {
      return running;
    },
    async stop(graceMs = 5000) {
      if (!running) {
        killGroup(pid, 'SIGKILL'); // stragglers of the group, if any
        return;
      }
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      killGroup(pid, 'SIGKILL');
    },
  };
  live.set(pid, proc);
  writeState();
  return proc;
}

export async function stopAll(graceMs = 5000): Promise<void> {
  await Promise.all([...live.values()].map((p) => p.stop(graceMs).catch(() => undefined)));
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (in its own group, so an abort kills it too). */
export async function run(
  argv: readonly string[],
  opts: StartOptions & { timeoutMs?: number; stdin?: string; stdoutFile?: string } = {},
): Promise<RunResult> {
  installHooks();
  const full = pinned(argv, opts.cpus);
  if (opts.log !== false) logCommand(shellQuote(full) + (opts.stdoutFile ? ` > ${opts.stdoutFile}` : ''));
  const child = spawn(full[0]!, full.slice(1), {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  if (pid !== undefined) {
    live.set(pid, { stop: async () => killGroup(pid, 'SIGKILL') });
    writeState();
  }
  if (opts.stdin !== undefined) child.stdin!.end(opts.stdin);
  const chunks: Buffer[] = [];
  let stderr = '';
  const file = opts.stdoutFile === undefined ? undefined : fs.createWriteStream(opts.stdoutFile);
  child.stdout!.on('data', (c: Buffer) => (file ? file.write(c) : chunks.push(c)));
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    if (stderr.length > 65536) stderr = stderr.slice(-65536);
  });
  const timer =
    opts.timeoutMs === undefined || pid === undefined ? undefined : setTimeout(() => killGroup(pid, 'SIGKILL'), opts.timeoutMs);
  const code = await new Promise<number | null>((resolve) => {
    child.once('close', (c) => resolve(c));
    child.once('error', (err) => {
      stderr += `spawn error: ${err.message}\n`;
      resolve(null);
    });
  });
  if (timer) clearTimeout(timer);
  if (pid !== undefined) {
    live.delete(pid);
    writeState();
  }
  if (file) await new Promise<void>((r) => file.end(() => r()));
  return { code, stdout: Buffer.concat(chunks).toString('utf8'), stderr };
}

/** Like run(), but throws with the output when the exit code is not 0. */
export async function runOk(argv: readonly string[], opts: Parameters<typeof run>[1] = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`command failed (exit ${r.code}): ${shellQuote(argv)}\n${r.stderr.slice(-4000)}${r.stdout.slice(-2000)}`);
  }
  return r;
}

/** Pins every thread of a running process (e.g. ClickHouse, started by the test harness). */
export async function pinPid(pid: number, cpus: string): Promise<void> {
  if (!pinning.enabled) return;
  await runOk(['taskset', '-a', '-p', '-c', cpus, String(pid)]);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `pred` is true; throws with `what` (and the process output) after timeoutMs. */
export async function waitUntil(
  pred: () => Promise<boolean>,
  what: string,
  opts: { timeoutMs?: number; proc?: Proc } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    let ok = false;
    try {
      ok = await pred();
    } catch {
      ok = false;
    }
    if (ok) return;
    if (opts.proc && !opts.proc.running) {
      throw new Error(`${opts.proc.name} exited while waiting for ${what}:\n${opts.proc.output().slice(-4000)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${opts.proc ? `\n${opts.proc.name} output:\n${opts.proc.output().slice(-4000)}` : ''}`);
    }
    await sleep(100);
  }
}

/** An HTTP GET answered with `status` (default 200). */
export async function httpOk(url: string, status = 200): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === status;
}

/** A TCP connection to 127.0.0.1:port is accepted (for listeners that do not speak HTTP). */
export function tcpOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(2000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** VmRSS and VmHWM of a process, in MiB. */
export function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) : NaN;
  };
  return { rssMiB: round(kb('VmRSS') / 1024, 1), hwmMiB: round(kb('VmHWM') / 1024, 1) };
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

const CLK_TCK = 100; // USER_HZ on Linux (getconf CLK_TCK)

/** utime+stime in ms of one process (all its threads), from /proc/<pid>/stat. */
export function cpuMsOfPid(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields after "(comm)": state(3) ppid(4) pgrp(5) ... utime(14) stime(15)
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** utime+stime in ms of every live process in a process group (nginx master + worker). */
export function cpuMsOfGroup(pgid: number): number {
  let total = 0;
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[2]) === pgid) total += ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

function cpuTimes(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** Share of all CPUs busy over `ms` (0..100), from /proc/stat. */
export async function machineBusyPct(ms: number): Promise<number> {
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  return b.total > a.total ? round(((b.busy - a.busy) / (b.total - a.total)) * 100, 1) : 0;
}

/**
 * Waits until the machine is quiet (less than `maxBusyPct` of all CPUs busy over 3 s) or
 * `maxWaitMs` passed; returns the last measurement. Other work on a 2-core machine ruins the
 * numbers, so the benchmark waits a while for it rather than measure it.
 */
export async function waitQuiet(maxBusyPct: number, maxWaitMs: number): Promise<{ busyPct: number; waitedMs: number }> {
  const start = Date.now();
  for (;;) {
    const busyPct = await machineBusyPct(3000);
    const waitedMs = Date.now() - start;
    if (busyPct < maxBusyPct || waitedMs >= maxWaitMs) return { busyPct, waitedMs };
    process.stdout.write(`bench: machine ${busyPct}% busy with other work; waiting for it to calm down (${Math.round(waitedMs / 1000)} s of at most ${Math.round(maxWaitMs / 1000)} s)\n`);
  }
}

/** Ticks (USER_HZ) of the whole machine from /proc/stat: busy (user..softirq) and steal. */
function machineTicks(): { busy: number; steal: number } {
  const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return { busy: v[0]! + v[1]! + v[2]! + v[5]! + v[6]!, steal: v[7] ?? 0 };
}

/**
 * CPU ms used by this benchmark: this process and the children it reaped (wrk, vegeta), every
 * process in the groups it started (proxies, upstreams, nginx workers), and `extraPids`
 * (ClickHouse, started by the test harness).
 */
function ownCpuMs(extraPids: readonly number[]): number {
  const self = fs.readFileSync('/proc/self/stat', 'utf8');
  const s = self.slice(self.lastIndexOf(')') + 2).split(' ');
  let ticks = Number(s[11]) + Number(s[12]) + Number(s[13]) + Number(s[14]);
  const groups = new Set(live.keys());
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (groups.has(Number(f[2])) || extraPids.includes(Number(name))) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // gone meanwhile
    }
  }
  return (ticks * 1000) / CLK_TCK;
}

export interface Disturbance {
  /** CPU used by processes this benchmark did not start, as % of all CPUs over the interval */
  otherCpuPct: number;
  /** time the hypervisor ran something else, as % of all CPUs */
  stealPct: number;
}

/**
 * Measured intervals that are repeated when other work on the machine disturbed them: when it
 * took more than maxOtherCpuPct of the CPUs, wait for quiet and measure again (at most
 * maxAttempts times), keeping the least disturbed attempt.
 */
export class DisturbanceGuard {
  /** Intervals measured again because other work disturbed them. */
  repeated = 0;

  constructor(private readonly opts: { maxOtherCpuPct: number; maxAttempts: number; extraPids: readonly number[] }) {}

  async measured<T>(label: string, fn: () => Promise<T>): Promise<{ value: T; disturbance: Disturbance; attempts: number }> {
    const { maxOtherCpuPct, maxAttempts, extraPids } = this.opts;
    let best: { value: T; disturbance: Disturbance } | undefined;
    for (let attempt = 1; ; attempt++) {
      const stop = measureDisturbance(extraPids);
      const value = await fn();
      const disturbance = stop();
      if (best === undefined || disturbance.otherCpuPct < best.disturbance.otherCpuPct) best = { value, disturbance };
      if (disturbance.otherCpuPct <= maxOtherCpuPct || attempt >= maxAttempts) {
        if (disturbance.otherCpuPct > maxOtherCpuPct && maxAttempts > 1) {
          process.stdout.write(`bench: ${label}: still disturbed after ${attempt} attempts; keeping the least disturbed one (${best.disturbance.otherCpuPct}% other CPU)\n`);
        }
        return { ...best, attempts: attempt };
      }
      this.repeated++;
      process.stdout.write(`bench: ${label}: other work took ${disturbance.otherCpuPct}% of the CPUs (steal ${disturbance.stealPct}%): waiting for quiet, then repeating\n`);
      await waitQuiet(15, 120_000);
    }
  }
}

/** Starts measuring how much CPU other work took; call the result when the interval ends. */
export function measureDisturbance(extraPids: readonly number[]): () => Disturbance {
  const m0 = machineTicks();
  const own0 = ownCpuMs(extraPids);
  const t0 = performance.now();
  return () => {
    const m1 = machineTicks();
    const own1 = ownCpuMs(extraPids);
    const capacityMs = (performance.now() - t0) * os.availableParallelism();
    const busyMs = ((m1.busy - m0.busy) * 1000) / CLK_TCK;
    return {
      otherCpuPct: round((Math.max(0, busyMs - (own1 - own0)) / capacityMs) * 100, 1),
      stealPct: round((((m1.steal - m0.steal) * 1000) / CLK_TCK / capacityMs) * 100, 1),
    };
  };
}

/** Pids of the live processes in a process group. */
function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) pids.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Pins every thread of every process in a group (a server started unpinned). */
export async function pinGroup(pgid: number, cpus: string): Promise<void> {
  if (!pinning.enabled) return;
  for (const pid of groupPids(pgid)) await runOk(['taskset', '-a', '-p', '-c', cpus, String(pid)]);
}
