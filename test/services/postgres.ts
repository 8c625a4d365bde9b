// A real PostgreSQL server (Debian `postgresql`, 15 here) for tests: initdb
// into its own temp dir, a free port on 127.0.0.1 only, the unix socket in the
// temp dir, wal_level=logical (Debezium's pgoutput streams from it), no fsync.
// Ready when `SELECT 1` answers over TCP with the test user's password.
//
// postgres and initdb refuse to run as root: as root the harness runs them as
// the `postgres` system user (created when missing) through setpriv, which
// execs, so the managed pid is the postmaster itself. stop() asks for a fast
// shutdown (SIGINT: open connections such as Debezium's walsender do not hold
// it up); kill() and pause() act on the postmaster AND its backends, as a
// crashed or frozen server would.
//
// The detached watchdog of process.ts only kills a pid whose executable is
// the spawned command (setpriv here, postgres after the exec), so this module
// runs one more per started postmaster: once the test process is gone (even
// SIGKILLed) it SIGKILLs the postmaster (its backends follow on their own).
// process.ts's watchdog removes the temp dir.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './ports.js';
import { serviceOf, type ServiceControl, ManagedProcess, ServiceError, delay, findBinary, isAddressInUse, isExecutable, makeTempDir, signalSafe, tailFile } from './process.js';

const execFileP = promisify(execFile);

/** The schema of the original system's social database (tables posts, follows, comments, likes). */
export const SOCIAL_SCHEMA_SQL = `
CREATE TABLE posts (id uuid PRIMARY KEY, user_id uuid NOT NULL, caption text, image_key text, soft_delete boolean NOT NULL DEFAULT false, created_at timestamp NOT NULL DEFAULT now());
CREATE TABLE follows (follower_id uuid NOT NULL, following_id uuid NOT NULL, created_at timestamp NOT NULL DEFAULT now(), PRIMARY KEY (follower_id, following_id));
CREATE TABLE comments (id uuid PRIMARY KEY, post_id uuid NOT NULL, user_id uuid NOT NULL, content text NOT NULL, created_at timestamp NOT NULL DEFAULT now());
CREATE TABLE likes (user_id uuid NOT NULL, post_id uuid NOT NULL, created_at timestamp NOT NULL DEFAULT now(), PRIMARY KEY (user_id, post_id));
`;

export type PostgresRow = Record<string, unknown>;

export interface PostgresServer extends ServiceControl {
  port: number;
  host: '127.0.0.1';
  /** A superuser (so it may also replicate: Debezium connects as it). */
  user: string;
  password: string;
  database: string;
  /** postgres://user:password@127.0.0.1:port/database */
  url: string;
  /** The unix socket directory (the temp dir). */
  socketDir: string;
  /** Major version of the server binaries, e.g. 15. */
  version: number;
  /**
   * Runs `sql` (several statements allowed when `params` is absent) on a
   * pooled connection and resolves to the rows of the last statement. Throws
   * ServiceError E_SERVICE_QUERY with the server's message on error.
   */
  query<R extends PostgresRow = PostgresRow>(sql: string, params?: unknown[]): Promise<R[]>;
  /** A new, not yet connected pg.Client for this server (the caller ends it). */
  client(): pg.Client;
}

export interface StartPostgresOptions {
  /** Fixed port; default a free one. */
  port?: number;
  /** Default 'breakwater'. */
  user?: string;
  /** Default 'breakwater'. */
  password?: string;
  /** Created after start unless it is 'postgres'; default 'breakwater'. */
  database?: string;
  /** Extra or overriding server settings (`-c name=value`). */
  settings?: Record<string, string | number | boolean>;
  /** Readiness timeout, default 60 s. */
  readyTimeoutMs?: number;
}

const INSTALL_HINT = 'install it with `apt-get install postgresql` (npm test does this for you)';

interface Install {
  bin: string;
  version: number;
}

/** The newest /usr/lib/postgresql/<ver>/bin with postgres and initdb, or $BREAKWATER_PG_BIN. */
export function findPostgres(): Install {
  const override = process.env.BREAKWATER_PG_BIN;
  const candidates: string[] = [];
  if (override) {
    candidates.push(override);
  } else {
    let versions: string[] = [];
    try {
      versions = fs.readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v));
    } catch {
      // not installed
    }
    versions.sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => `/usr/lib/postgresql/${v}/bin`));
  }
  for (const bin of candidates) {
    if (['postgres', 'initdb'].every((b) => isExecutable(path.join(bin, b)))) {
      const m = /\/(\d+)\/bin\/?$/.exec(bin);
      return { bin, version: m ? Number(m[1]) : 0 };
    }
  }
  throw new ServiceError(
    'E_SERVICE_NOT_INSTALLED',
    override
      ? `postgres/initdb not found in BREAKWATER_PG_BIN=${override}: unset it or point it at a PostgreSQL bin dir (or ${INSTALL_HINT})`
      : `PostgreSQL not found (no /usr/lib/postgresql/<version>/bin/postgres): ${INSTALL_HINT}`,
  );
}

interface RunAs {
  /** Prefix to run a command as the unprivileged user: [] when not root. */
  prefix: string[];
  uid: number;
  gid: number;
}

let runAsCache: Promise<RunAs> | undefined;

/** As root: run as the `postgres` system user (useradd when missing); otherwise as ourselves. */
function runAs(): Promise<RunAs> {
  runAsCache ??= (async (): Promise<RunAs> => {
    const uid = process.getuid?.() ?? -1;
    if (uid !== 0) return { prefix: [], uid, gid: process.getgid?.() ?? -1 };
    const user = 'postgres';
    const ids = async (): Promise<{ uid: number; gid: number } | undefined> => {
      try {
        const u = (await execFileP('id', ['-u', user])).stdout.trim();
        const g = (await execFileP('id', ['-g', user])).stdout.trim();
        return { uid: Number(u), gid: Number(g) };
      } catch {
        return undefined;
      }
    };
    let found = await ids();
    if (!found) {
      const useradd = findBinary('useradd', 'passwd');
      try {
        await execFileP(useradd, ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', user]);
      } catch (err) {
        // another test file may have created it meanwhile
        if (!(await ids())) throw err;
      }
      found = await ids();
      if (!found) throw new ServiceError('E_SERVICE_STATE', `could not create the system user ${user} to run PostgreSQL as (we run as root)`);
    }
    const setpriv = findBinary('setpriv', 'util-linux');
    return { prefix: [setpriv, `--reuid=${found.uid}`, `--regid=${found.gid}`, '--clear-groups'], uid: found.uid, gid: found.gid };
  })();
  const cached = runAsCache;
  cached.catch(() => {
    if (runAsCache === cached) runAsCache = undefined;
  });
  return cached;
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await fsp.chown(dir, uid, gid);
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(p, uid, gid);
    else await fsp.lchown(p, uid, gid);
  }
}

/** pids whose parent is `pid` (the postmaster's backends and auxiliary processes). */
function childPids(pid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

// Detached, outlives the test process: when the parent pid is gone, SIGKILL
// the postmaster if that pid still runs the postgres binary.
const PG_WATCHDOG = `
parent="$1"; pid="$2"; exe="$3"
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then kill -KILL "$pid" 2>/dev/null; fi
`;

function startPgWatchdog(pid: number, postgresBin: string): ChildProcess | undefined {
  let exe = postgresBin;
  try {
    exe = fs.realpathSync(postgresBin);
  } catch {
    // keep the given path
  }
  try {
    const wd = spawn('/bin/sh', ['-c', PG_WATCHDOG, 'breakwater-pg-watchdog', String(process.pid), String(pid), exe], {
      detached: true,
      stdio: 'ignore',
    });
    wd.on('error', () => undefined);
    wd.unref();
    return wd;
  } catch {
    return undefined; // best effort: the exit hook still kills it on a normal exit
  }
}

function pgError(url: string, sql: string, err: unknown): ServiceError {
  const shown = sql.length > 300 ? `${sql.slice(0, 300)}...` : sql;
  const msg = err instanceof Error ? err.message : String(err);
  return new ServiceError('E_SERVICE_QUERY', `PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')}: ${msg}\nquery: ${shown}`, { cause: err });
}

async function startOnce(install: Install, opts: StartPostgresOptions): Promise<PostgresServer> {
  const as = await runAs();
  const port = opts.port ?? (await freePort());
  const user = opts.user ?? 'breakwater';
  const password = opts.password ?? 'breakwater';
  const database = opts.database ?? 'breakwater';
  const dir = await makeTempDir('postgres');
  const dataDir = path.join(dir, 'data');
  const pwFile = path.join(dir, 'pwfile');
  const initLog = path.join(dir, 'initdb.log');
  try {
    await fsp.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    await fsp.chmod(dir, 0o700);
    await chownTree(dir, as.uid, as.gid);
    const initdb = [...as.prefix, path.join(install.bin, 'initdb')];
    try {
      await execFileP(
        initdb[0] as string,
        [
          ...initdb.slice(1),
          '-D', dataDir,
          '-U', user,
          `--pwfile=${pwFile}`,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
          '--no-sync',
          '--no-instructions',
        ],
        { cwd: dir, env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' }, timeout: 120_000 },
      );
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message?: string };
      await fsp.writeFile(initLog, `${e.stdout ?? ''}\n${e.stderr ?? ''}`).catch(() => undefined);
      throw new ServiceError('E_SERVICE_EXITED', `initdb failed: ${e.message ?? String(err)}\n${tailFile(initLog)}`, { cause: err });
    }
    await fsp.rm(pwFile, { force: true });
    // replication connections over TCP too (initdb's pg_hba.conf already has them; make sure)
    await fsp.appendFile(
      path.join(dataDir, 'pg_hba.conf'),
      '\nhost all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n',
    );
  } catch (err) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }

  const settings: Record<string, string | number | boolean> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: dir,
    wal_level: 'logical',
    max_wal_senders: 10,
    max_replication_slots: 10,
    // a disposable test server: no fsync (a commit is still written to the
    // OS before it returns, so kill() + restart() keeps committed rows), small footprint
    fsync: 'off',
    full_page_writes: 'off',
    shared_buffers: '64MB',
    max_connections: 50,
    TimeZone: 'UTC',
    log_timezone: 'UTC',
    logging_collector: 'off',
    log_min_messages: 'warning',
    log_connections: 'off',
    ...opts.settings,
  };
  const url = `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  const connection = (db: string): pg.ClientConfig => ({
    host: '127.0.0.1',
    port,
    user,
    password,
    database: db,
    connectionTimeoutMillis: 5_000,
  });
  // until the database exists, the probe and setup use the `postgres` database
  const probe = async (signal: AbortSignal): Promise<boolean> => {
    const c = new pg.Client(connection('postgres'));
    const onAbort = (): void => void c.end().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await c.connect();
      const r = await c.query('SELECT 1 AS ok');
      return r.rows[0]?.ok === 1;
    } finally {
      signal.removeEventListener('abort', onAbort);
      await c.end().catch(() => undefined);
    }
  };
  const postgresBin = path.join(install.bin, 'postgres');
  const command = as.prefix.length > 0 ? (as.prefix[0] as string) : postgresBin;
  const args = [...as.prefix.slice(1), ...(as.prefix.length > 0 ? [postgresBin] : []), '-D', dataDir];
  for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${String(v)}`);
  const proc = new ManagedProcess({
    name: 'postgres',
    command,
    args,
    dir,
    env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' },
    probe,
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    stopTimeoutMs: 10_000,
  });

  let watchdog: ChildProcess | undefined;
  const stopWatchdog = (): void => {
    if (watchdog?.pid !== undefined) signalSafe(watchdog.pid, 'SIGKILL');
    watchdog = undefined;
  };
  const armWatchdog = (): void => {
    stopWatchdog();
    const pid = proc.pid;
    if (pid !== undefined && as.prefix.length > 0) watchdog = startPgWatchdog(pid, postgresBin);
  };

  let pool: pg.Pool | undefined;
  const getPool = (): pg.Pool => {
    if (!pool) {
      pool = new pg.Pool({ ...connection(database), max: 4, idleTimeoutMillis: 5_000 });
      // a pooled idle client errors when the server goes away (kill, stop): not the test's problem
      pool.on('error', () => undefined);
    }
    return pool;
  };
  const endPool = async (): Promise<void> => {
    const p = pool;
    pool = undefined;
    if (p) await p.end().catch(() => undefined);
  };

  /** SIGINT = fast shutdown (smart shutdown, SIGTERM, would wait for every client). */
  const fastShutdown = async (): Promise<void> => {
    await endPool();
    const pid = proc.pid;
    if (pid === undefined) return;
    for (const child of childPids(pid)) signalSafe(child, 'SIGCONT');
    if (proc.paused) proc.resume();
    signalSafe(pid, 'SIGINT');
    const deadline = Date.now() + 10_000;
    while (proc.running && Date.now() < deadline) await delay(50);
    // terminate()/stop() SIGTERM then SIGKILL whatever is left
  };

  const server: PostgresServer = serviceOf(proc, {
    port,
    host: '127.0.0.1' as const,
    user,
    password,
    database,
    url,
    socketDir: dir,
    version: install.version,
    pause: () => {
      const pid = proc.pid;
      if (pid === undefined) throw new ServiceError('E_SERVICE_STATE', 'postgres: pause() while not running; call restart() first');
      proc.pause();
      for (const child of childPids(pid)) signalSafe(child, 'SIGSTOP');
    },
    resume: () => {
      const pid = proc.pid;
      if (pid === undefined) throw new ServiceError('E_SERVICE_STATE', 'postgres: resume() while not running; call restart() first');
      for (const child of childPids(pid)) signalSafe(child, 'SIGCONT');
      proc.resume();
    },
    kill: async () => {
      const pid = proc.pid;
      if (pid === undefined) return;
      // freeze the postmaster so it forks nothing new, kill its children, then it
      signalSafe(pid, 'SIGSTOP');
      for (const child of childPids(pid)) signalSafe(child, 'SIGKILL');
      await proc.kill();
      await endPool();
    },
    restart: async () => {
      await fastShutdown();
      await proc.restart();
      armWatchdog();
    },
    stop: async () => {
      await fastShutdown();
      try {
        await proc.stop();
      } finally {
        stopWatchdog();
      }
    },
    query: async <R extends PostgresRow = PostgresRow>(sql: string, params?: unknown[]): Promise<R[]> => {
      try {
        const res = (await getPool().query(sql, params)) as unknown as pg.QueryResult<R> | pg.QueryResult<R>[];
        const last = Array.isArray(res) ? res[res.length - 1] : res;
        return last?.rows ?? [];
      } catch (err) {
        throw pgError(url, sql, err);
      }
    },
    client: () => new pg.Client(connection(database)),
  });
  await proc.startOrCleanUp();
  armWatchdog();
  if (database !== 'postgres') {
    const c = new pg.Client(connection('postgres'));
    try {
      await c.connect();
      await c.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    } catch (err) {
      await server.stop().catch(() => undefined);
      throw pgError(url, `CREATE DATABASE ${database}`, err);
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  return server;
}

/**
 * Starts a PostgreSQL server (initdb into a fresh temp dir, wal_level=logical,
 * 127.0.0.1 only, a free port) and waits until it answers; creates the
 * database (default 'breakwater') owned by the superuser (default
 * 'breakwater'/'breakwater'). Throws E_SERVICE_NOT_INSTALLED when the
 * PostgreSQL binaries are missing (BREAKWATER_PG_BIN overrides the bin dir).
 */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const install = findPostgres();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(install, opts);
    } catch (err) {
      if (opts.port !== undefined || attempt >= 3 || !isAddressInUse(err)) throw err;
    }
  }
}

export { ServiceError };
