// A managed child process for real-service tests: start and wait until a
// readiness probe passes, pause (SIGSTOP) / resume (SIGCONT), kill (SIGKILL),
// restart on the same arguments (same ports, same data dir), stop (SIGTERM,
// then SIGKILL) and remove its temp dir.
//
// Cleanup never depends on the test being well behaved:
//  - every live process is killed and its dir removed on process 'exit';
//  - a tiny detached watchdog (/bin/sh) per process kills the server and
//    removes the dir once the test process is gone, even after a SIGKILL or a
//    tap timeout, where no 'exit' handler runs;
//  - withClickHouse(t) / withRedis(t) in index.ts register t.teardown(stop).
// This module does not import tap, so benchmarks and scripts can use it too.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type ServiceErrorCode =
  | 'E_SERVICE_NOT_INSTALLED'
  | 'E_SERVICE_START_TIMEOUT'
  | 'E_SERVICE_EXITED'
  | 'E_SERVICE_STATE'
  | 'E_SERVICE_QUERY';

/** An error from the test harness: a code to branch on, a message with the remedy. */
export class ServiceError extends Error {
  readonly code: ServiceErrorCode;
  constructor(code: ServiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServiceError';
    this.code = code;
  }
}

const EXTRA_BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** An executable regular file. */
export function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Absolute path of a server binary: `$<envVar>` if set, else the first match
 * on PATH or in the usual sbin/bin dirs. Throws E_SERVICE_NOT_INSTALLED with
 * the install command when it is missing (tests never skip silently).
 */
export function findBinary(binary: string, debianPackage: string, envVar?: string): string {
  const override = envVar ? process.env[envVar] : undefined;
  if (override) {
    if (isExecutable(override)) return override;
    throw new ServiceError(
      'E_SERVICE_NOT_INSTALLED',
      `${binary} not found at ${envVar}=${override}: unset ${envVar} or point it at an executable ` +
        `(or install it with \`apt-get install ${debianPackage}\`; npm test does this for you)`,
    );
  }
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_BIN_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, binary);
    if (isExecutable(candidate)) return candidate;
  }
  throw new ServiceError(
    'E_SERVICE_NOT_INSTALLED',
    `${binary} not found: install it with \`apt-get install ${debianPackage}\` (npm test does this for you)`,
  );
}

/** A fresh temp dir under os.tmpdir(), e.g. /tmp/breakwater-clickhouse-XXXXXX. */
/** A log4j2 properties file for a JVM service: everything to `logFile`, `loggers` as name → level. */
export function log4j2FileConfig(logFile: string, rootLevel: string, loggers: Record<string, string> = {}): string {
  const extra = Object.entries(loggers)
    .map(([name, level], i) => `logger.l${i}.name = ${name}\nlogger.l${i}.level = ${level}\n`)
    .join('');
  return `status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${logFile}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${rootLevel}
rootLogger.appenderRef.file.ref = file
${extra}`;
}

/** The java binary: $BREAKWATER_JAVA, else $JAVA_HOME/bin/java, else java on PATH. */
export function findJava(): string {
  const javaHome = process.env.JAVA_HOME;
  if (!process.env.BREAKWATER_JAVA && javaHome) {
    const candidate = path.join(javaHome, 'bin', 'java');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // fall back to PATH
    }
  }
  return findBinary('java', 'openjdk-17-jre-headless', 'BREAKWATER_JAVA');
}

export function makeTempDir(service: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `breakwater-${service}-`));
}

/** The last `lines` lines of a file, or a note that it is missing/empty. */
export function tailFile(file: string, lines = 25): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return `(${file}: missing)`;
  }
  const all = text.trimEnd().split('\n');
  if (all.length === 1 && all[0] === '') return `(${file}: empty)`;
  return all.slice(-lines).join('\n');
}

/** What every test server lets a test do to it. */
export interface ServiceControl {
  /** The server's temp dir (config, data, logs); removed by stop(). */
  dir: string;
  /** pid of the running server process, undefined while it is killed/stopped. */
  readonly pid: number | undefined;
  /** SIGSTOP: connections are accepted by the kernel but nothing answers. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** SIGKILL; ports (and data, where the server keeps any) stay for restart(). */
  kill(): Promise<void>;
  /** Same ports and data; stops the server first if it runs; waits until it is ready. */
  restart(): Promise<void>;
  /** SIGTERM then SIGKILL; removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** Tail of the server's logs, for diagnostics in failing tests. */
  logTail(lines?: number): string;
}

export interface ManagedProcessOptions {
  /** Short name for messages and file names: 'clickhouse', 'redis'. */
  name: string;
  /** Absolute path of the executable. */
  command: string;
  args: string[];
  /** The process's own temp dir; stop() removes it. stdout+stderr go to <dir>/<name>.out.log. */
  dir: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** The server's own log files, tailed in error messages. */
  logFiles?: string[];
  /** Resolves true when the server is ready. Called repeatedly; must honour the signal. */
  probe: (signal: AbortSignal) => Promise<boolean>;
  /** Max wait for readiness on start()/restart(). Default 60 s. */
  readyTimeoutMs?: number;
  /** Grace period between SIGTERM and SIGKILL in stop()/restart(). Default 10 s. */
  stopTimeoutMs?: number;
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.killNowSync();
  });
}

// Runs detached, outlives the test process: when the parent pid is gone,
// SIGKILL the pid in the pid file (only if it is still the expected binary)
// and remove the temp dir.
const WATCHDOG = `
parent="$1"; pidfile="$2"; dir="$3"; exe="$4"
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
pid=$(cat "$pidfile" 2>/dev/null)
if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then
  kill -KILL "$pid" 2>/dev/null
  sleep 0.2
fi
rm -rf "$dir"
`;

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** process.kill that ignores a process already gone. */
export function signalSafe(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export class ManagedProcess implements ServiceControl {
  readonly name: string;
  readonly dir: string;
  readonly outLog: string;
  readonly #opts: ManagedProcessOptions;
  readonly #pidFile: string;
  #child: ChildProcess | undefined;
  #exited: Promise<ExitInfo> | undefined;
  #lastExit: ExitInfo | undefined;
  #spawnError: Error | undefined;
  #paused = false;
  #stopped = false;
  #watchdog: ChildProcess | undefined;

  constructor(opts: ManagedProcessOptions) {
    this.#opts = opts;
    this.name = opts.name;
    this.dir = opts.dir;
    this.outLog = path.join(opts.dir, `${opts.name}.out.log`);
    this.#pidFile = path.join(opts.dir, `.${opts.name}.pid`);
  }

  /** pid of the running server, undefined when it is not running. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Spawns the server and waits until the probe passes (or throws with the log tail). */
  /** start(); when it fails, stop what did start (temp dir included) and rethrow. */
  async startOrCleanUp(annotate: (err: unknown) => unknown = (e) => e): Promise<void> {
    try {
      await this.start();
    } catch (err) {
      const annotated = annotate(err);
      await this.stop().catch(() => undefined);
      throw annotated;
    }
  }

  async start(): Promise<void> {
    if (this.#stopped) {
      throw new ServiceError('E_SERVICE_STATE', `${this.name}: start() after stop(); start a new server instead`);
    }
    if (this.#child) {
      throw new ServiceError('E_SERVICE_STATE', `${this.name}: start() while already running (pid ${this.#child.pid})`);
    }
    installExitHook();
    live.add(this);

    const out = fs.openSync(this.outLog, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.#opts.command, this.#opts.args, {
        cwd: this.#opts.cwd ?? this.dir,
        env: this.#opts.env ?? process.env,
        stdio: ['ignore', out, out],
      });
    } finally {
      fs.closeSync(out);
    }
    // Never keep a test process alive just because a server is running:
    // the exit hook and the watchdog clean it up.
    child.unref();
    this.#spawnError = undefined;
    this.#lastExit = undefined;
    this.#paused = false;
    this.#child = child;
    this.#exited = new Promise<ExitInfo>((resolve) => {
      child.once('error', (err) => {
        this.#spawnError = err;
        // 'exit' may not follow a spawn error
        if (child.pid === undefined) finish({ code: null, signal: null });
      });
      child.once('exit', (code, signal) => finish({ code, signal }));
      const finish = (info: ExitInfo): void => {
        if (this.#child === child) {
          this.#child = undefined;
          this.#paused = false;
          this.#lastExit = info;
          try {
            fs.rmSync(this.#pidFile, { force: true });
          } catch {
            // dir already removed
          }
        }
        resolve(info);
      };
    });
    if (child.pid !== undefined) {
      fs.writeFileSync(this.#pidFile, `${child.pid}\n`);
      this.#startWatchdog();
    }
    await this.#waitReady(child);
  }

  /** SIGSTOP: the server keeps its sockets but answers nothing. */
  pause(): void {
    const pid = this.#requirePid('pause');
    process.kill(pid, 'SIGSTOP');
    this.#paused = true;
    waitAllThreadsStopped(pid);
  }

  /** SIGCONT after pause(). */
  resume(): void {
    const pid = this.#requirePid('resume');
    process.kill(pid, 'SIGCONT');
    this.#paused = false;
  }

  /** SIGKILL and wait for the exit; the data dir stays for restart(). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.pid === undefined) return;
    const exited = this.#exited;
    child.ref(); // an unref'd child's 'exit' alone would not keep the event loop alive
    signalSafe(child.pid, 'SIGKILL');
    await exited;
  }

  /** SIGTERM (plus SIGCONT if paused), SIGKILL after the grace period; the data dir stays. */
  async terminate(): Promise<void> {
    const child = this.#child;
    if (!child || child.pid === undefined) return;
    const exited = this.#exited as Promise<ExitInfo>;
    child.ref(); // an unref'd child's 'exit' alone would not keep the event loop alive
    signalSafe(child.pid, 'SIGTERM');
    // a stopped process only acts on SIGTERM once continued
    signalSafe(child.pid, 'SIGCONT');
    const grace = this.#opts.stopTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), grace);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      signalSafe(child.pid, 'SIGKILL');
      await exited;
    }
  }

  /** Stops the server if it runs (SIGTERM, then SIGKILL) and starts it again: same args, same data. */
  async restart(): Promise<void> {
    await this.terminate();
    await this.start();
  }

  /** Terminates the server and removes its temp dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      await this.terminate();
    } finally {
      live.delete(this);
      if (this.#watchdog?.pid !== undefined) signalSafe(this.#watchdog.pid, 'SIGKILL');
      this.#watchdog = undefined;
      await fsp.rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
    }
  }

  /** Used by the process 'exit' hook: synchronous, best effort. */
  killNowSync(): void {
    const pid = this.#child?.pid;
    if (pid !== undefined) signalSafe(pid, 'SIGKILL');
    try {
      fs.rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // the watchdog removes it once this process is gone
    }
  }

  /** Tail of every log this process writes, for error messages. */
  logTail(lines = 25): string {
    const files = [this.outLog, ...(this.#opts.logFiles ?? [])];
    return files.map((f) => `--- last lines of ${f} ---\n${tailFile(f, lines)}`).join('\n');
  }

  #requirePid(what: string): number {
    const pid = this.#child?.pid;
    if (pid === undefined) {
      throw new ServiceError('E_SERVICE_STATE', `${this.name}: ${what}() while not running; call restart() first`);
    }
    return pid;
  }

  #startWatchdog(): void {
    if (this.#watchdog) return;
    let exe = this.#opts.command;
    try {
      exe = fs.realpathSync(exe);
    } catch {
      // keep the given path
    }
    const wd = spawn('/bin/sh', ['-c', WATCHDOG, 'breakwater-watchdog', String(process.pid), this.#pidFile, this.dir, exe], {
      detached: true,
      stdio: 'ignore',
    });
    wd.on('error', () => {
      // best effort only; the exit hook still cleans up
    });
    wd.unref();
    this.#watchdog = wd;
  }

  async #waitReady(child: ChildProcess): Promise<void> {
    const timeoutMs = this.#opts.readyTimeoutMs ?? 60_000;
    const started = Date.now();
    const deadline = started + timeoutMs;
    const cmdline = [this.#opts.command, ...this.#opts.args].join(' ');
    for (;;) {
      if (this.#child !== child) {
        const how = this.#spawnError
          ? `failed to spawn: ${this.#spawnError.message}`
          : `exited (code ${this.#lastExit?.code ?? 'none'}, signal ${this.#lastExit?.signal ?? 'none'})`;
        throw new ServiceError(
          'E_SERVICE_EXITED',
          `${this.name} ${how} before it was ready after ${Date.now() - started} ms\n` +
            `command: ${cmdline}\n${this.logTail()}`,
        );
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      let ok = false;
      try {
        ok = await this.#opts.probe(AbortSignal.timeout(Math.min(2_000, Math.max(remaining, 50))));
      } catch {
        ok = false;
      }
      if (ok && this.#child === child) return;
      await delay(100);
    }
    const pid = child.pid;
    child.ref();
    if (pid !== undefined) signalSafe(pid, 'SIGKILL');
    await this.#exited;
    throw new ServiceError(
      'E_SERVICE_START_TIMEOUT',
      `${this.name} was not ready within ${Math.round(timeoutMs / 1000)} s (pid ${pid}); ` +
        `the machine may be overloaded, or the server is misconfigured\ncommand: ${cmdline}\n${this.logTail()}`,
    );
  }
}

/** True when an error message from a failed start says a port was taken (retry on fresh ports). */
export function isAddressInUse(err: unknown): boolean {
  return err instanceof ServiceError && err.code === 'E_SERVICE_EXITED' && /address already in use|EADDRINUSE|bind\b.*failed|Net Exception: Address already/i.test(err.message);
}

/** A started server as tests see it: the process's controls plus the service's own fields. */
export function serviceOf<T extends object>(proc: ManagedProcess, own: T): ServiceControl & T {
  const control: ServiceControl = {
    dir: proc.dir,
    get pid() {
      return proc.pid;
    },
    pause: () => proc.pause(),
    resume: () => proc.resume(),
    kill: () => proc.kill(),
    restart: () => proc.restart(),
    stop: () => proc.stop(),
    logTail: (lines?: number) => proc.logTail(lines),
  };
  return Object.assign(control, own);
}

/**
 * SIGSTOP takes effect thread by thread: a server thread already running on the other core can
 * still answer a request sent right after kill() returns (seen here with ClickHouse). Wait, up to
 * a second, until every thread of the process is in state T.
 */
function waitAllThreadsStopped(pid: number): void {
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline) {
    let running = false;
    try {
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
        const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        if (state !== 'T' && state !== 't' && state !== 'Z' && state !== 'X') running = true;
      }
    } catch {
      return; // not Linux, or the process is gone
    }
    if (!running) return;
  }
}

/** Polls `check` every 200 ms until it returns a value (not undefined); fails after timeoutMs with the last error. */
export async function poll<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// --- AppCDS: a faster JVM start for the Java services -----------------------------
// The first start that finds no archive in the install dir (and wins the lock)
// runs with -XX:ArchiveClassesAtExit; its graceful stop() dumps the classes it
// loaded and the archive is moved into place. Later starts map it
// (-XX:SharedArchiveFile, -Xshare:auto: the JVM silently ignores a stale or
// mismatching one). A killed run leaves nothing behind but its lock, which the
// next start takes over once that pid is gone.

export interface CdsPlan {
  flags: string[];
  /** After the JVM exited gracefully: move the dumped archive into place, release the lock. */
  finish(): void;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The AppCDS flags for a JVM service whose jars live in `home`; the archive is `<home>/<archiveName>`. */
export function appCdsPlan(home: string, archiveName: string, disabled = false): CdsPlan {
  const archive = path.join(home, archiveName);
  const none: CdsPlan = { flags: [], finish: () => undefined };
  if (disabled) return none;
  if (fs.existsSync(archive)) return { flags: [`-XX:SharedArchiveFile=${archive}`, '-Xshare:auto'], finish: () => undefined };
  const lock = path.join(home, `${archiveName}.lock`);
  const tmp = path.join(home, `${archiveName}.tmp.${process.pid}.${randomBytes(3).toString('hex')}`);
  const take = (): boolean => {
    try {
      fs.writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      return true;
    } catch {
      return false;
    }
  };
  if (!take()) {
    let owner = NaN;
    try {
      owner = Number(fs.readFileSync(lock, 'utf8').trim());
    } catch {
      // just released
    }
    if (Number.isInteger(owner) && pidAlive(owner)) return none; // another test file makes it now
    fs.rmSync(lock, { force: true });
    if (!take()) return none;
  }
  let done = false;
  return {
    flags: [`-XX:ArchiveClassesAtExit=${tmp}`],
    finish: () => {
      if (done) return;
      done = true;
      try {
        if (fs.existsSync(tmp) && fs.statSync(tmp).size > 0 && !fs.existsSync(archive)) fs.renameSync(tmp, archive);
      } catch {
        // best effort: the next start tries again
      } finally {
        fs.rmSync(tmp, { force: true });
        fs.rmSync(lock, { force: true });
      }
    },
  };
}
