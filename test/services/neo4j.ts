// A real Neo4j server for tests: Neo4j Community (the LTS line, 5.26) on the
// jars that test/services/neo4j-install.sh takes from Maven Central into a
// cache outside the repository. Runs
// `java -cp '<cache>/libs/*' org.neo4j.server.CommunityEntryPoint --console-mode`
// (what bin/neo4j console ends up running) with its own temp dir as NEO4J_HOME:
//
//   <dir>/conf/neo4j.conf   written here (see settings below)
//   <dir>/data              databases, transactions, dbms/auth.ini
//   <dir>/logs              debug.log (neo4j.log goes to stdout: neo4j.out.log)
//
// Two listeners only, both on 127.0.0.1 and on free ports: Bolt and HTTP
// (HTTPS off; Community has no backup or cluster listeners; the routing
// connector stays off). Auth is ON with a fixed password: the installer
// writes an auth.ini with `neo4j-admin dbms set-initial-password`, copied into
// the data dir before the first start, so a Bolt client has to HELLO/LOGON as
// neo4j / NEO4J_PASSWORD ({ auth: false } turns auth off).
//
// Ready when the HTTP discovery endpoint (GET /) answers with the server's
// version AND the Bolt port accepts a connection. A start takes about 10-14 s
// on 2 cores (the first creates the system and neo4j databases; a restart
// after SIGKILL recovers them, ~16 s); a graceful stop about 2 s (Bolt's
// netty shutdown quiet periods are set to 0; it was ~10 s).
//
// JVM: -Xmx512m, serial GC, C1 only, page cache 16 MiB, plus the --add-opens
// the neo4j launcher passes (without them the page cache and the transaction
// log fall back to slower paths and warn). AppCDS (appCdsPlan in process.ts):
// the first server that stops gracefully leaves <install dir>/neo4j.jsa
// (~120 MB); later starts map it, about 4 s faster (15 s -> 11 s here).
// BREAKWATER_NEO4J_CDS=0 turns it off.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from './ports.js';
import { serviceOf, type ServiceControl, ManagedProcess, ServiceError, appCdsPlan, findJava, isAddressInUse, makeTempDir } from './process.js';

/** The org.neo4j:neo4j version neo4j-install.sh installs (keep the two in step). */
export const NEO4J_VERSION = '5.26.30';
/** The password of user neo4j in the installer's auth.ini (keep in step with neo4j-install.sh). */
export const NEO4J_PASSWORD = 'breakwater-test';
export const NEO4J_USER = 'neo4j';

export interface StartNeo4jOptions {
  /** Fixed Bolt port; default a free one. */
  boltPort?: number;
  /** Fixed HTTP port; default a free one. */
  httpPort?: number;
  /** Auth on (default) with neo4j / NEO4J_PASSWORD, or off. */
  auth?: boolean;
  /** Readiness timeout on start and restart, default 90 s. */
  readyTimeoutMs?: number;
  /** -Xmx, default '512m'. */
  heap?: string;
  /** Benchmarks: the full JIT (C2) instead of C1 only, so steady-state queries cost what they would in production. */
  fullJit?: boolean;
  /** Extra or overriding neo4j.conf settings, e.g. { 'db.transaction.timeout': '2s' }. */
  extra?: Record<string, string>;
}

export interface Neo4jQueryOptions {
  /** Database, default 'neo4j'. */
  database?: string;
  /** Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** An error Neo4j reported inside an HTTP API response (HTTP 200 with `errors`). */
export interface Neo4jHttpError {
  code: string;
  message: string;
}

export interface Neo4jServer extends ServiceControl {
  boltPort: number;
  httpPort: number;
  /** bolt://127.0.0.1:<boltPort> (direct; no routing) */
  boltUrl: string;
  /** http://127.0.0.1:<httpPort> */
  httpUrl: string;
  user: string;
  password: string;
  /** Whether auth is on (then Bolt HELLO/LOGON and HTTP need user/password). */
  auth: boolean;
  /** neo4j_version from the discovery endpoint, e.g. '5.26.30'. */
  version: string;
  /**
   * One auto-commit statement through the HTTP API (POST /db/<db>/tx/commit);
   * resolves the rows as objects keyed by column name. Throws
   * E_SERVICE_QUERY with Neo4j's error code in the message on failure.
   */
  query<T = Record<string, unknown>>(cypher: string, params?: Record<string, unknown>, opts?: Neo4jQueryOptions): Promise<T[]>;
}

/** Where neo4j-install.sh puts the jars: $BREAKWATER_NEO4J_HOME, else <XDG cache>/breakwater/neo4j-<version>. */
export function neo4jHome(): string {
  const override = process.env.BREAKWATER_NEO4J_HOME;
  if (override) return override;
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(cache, 'breakwater', `neo4j-${NEO4J_VERSION}`);
}

const INSTALL_HINT = 'run `bash test/services/neo4j-install.sh` (it needs java 17+ and mvn, and Maven Central)';

function findHome(): string {
  const home = neo4jHome();
  const missing = [
    path.join(home, '.installed'),
    path.join(home, 'auth.ini'),
    path.join(home, 'libs', `neo4j-${NEO4J_VERSION}.jar`),
    path.join(home, 'libs', `neo4j-server-${NEO4J_VERSION}.jar`),
  ].filter((f) => !fs.existsSync(f));
  if (missing.length > 0) {
    throw new ServiceError(
      'E_SERVICE_NOT_INSTALLED',
      `Neo4j ${NEO4J_VERSION} is not installed in ${home} (missing ${missing.join(', ')}): ${INSTALL_HINT}`,
    );
  }
  return home;
}

function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

interface TxCommitResponse {
  results?: { columns: string[]; data: { row: unknown[] }[] }[];
  errors?: Neo4jHttpError[];
}

/** One statement through POST /db/<db>/tx/commit on `httpUrl`; rows keyed by column. */
export async function neo4jHttpQuery<T = Record<string, unknown>>(
  httpUrl: string,
  credentials: { user: string; password: string } | undefined,
  cypher: string,
  params: Record<string, unknown> = {},
  opts: Neo4jQueryOptions = {},
): Promise<T[]> {
  const db = opts.database ?? 'neo4j';
  const signals = [AbortSignal.timeout(opts.timeoutMs ?? 30_000)];
  if (opts.signal) signals.push(opts.signal);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (credentials) headers.authorization = basicAuth(credentials.user, credentials.password);
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${httpUrl}/db/${encodeURIComponent(db)}/tx/commit`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ statements: [{ statement: cypher, parameters: params }] }),
      signal: AbortSignal.any(signals),
    });
    text = await res.text();
  } catch (err) {
    throw new ServiceError('E_SERVICE_QUERY', `neo4j query failed (${(err as Error).message}): ${cypher}`, { cause: err });
  }
  let body: TxCommitResponse;
  try {
    body = JSON.parse(text) as TxCommitResponse;
  } catch {
    throw new ServiceError('E_SERVICE_QUERY', `neo4j query: HTTP ${res.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (body.errors && body.errors.length > 0) {
    const e = body.errors[0] as Neo4jHttpError;
    throw new ServiceError('E_SERVICE_QUERY', `neo4j query failed: ${e.code}: ${e.message} (HTTP ${res.status}): ${cypher}`);
  }
  if (res.status !== 200 || !body.results || body.results.length === 0) {
    throw new ServiceError('E_SERVICE_QUERY', `neo4j query: HTTP ${res.status}: ${text.slice(0, 300)}`);
  }
  const result = body.results[0] as NonNullable<TxCommitResponse['results']>[number];
  return result.data.map(({ row }) => Object.fromEntries(result.columns.map((c, i) => [c, row[i]])) as T);
}

function tcpAccepts(port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      signal.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    signal.addEventListener('abort', onAbort, { once: true });
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

function formatConf(conf: Record<string, string>): string {
  return `${Object.entries(conf)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n')}\n`;
}

async function startOnce(java: string, home: string, opts: StartNeo4jOptions): Promise<Neo4jServer> {
  const [freeBolt, freeHttp] = await freePorts(2);
  const boltPort = opts.boltPort ?? (freeBolt as number);
  const httpPort = opts.httpPort ?? (freeHttp as number);
  const auth = opts.auth ?? true;
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const dir = await makeTempDir('neo4j');
  const confDir = path.join(dir, 'conf');
  const dataDir = path.join(dir, 'data');
  const logDir = path.join(dir, 'logs');
  const conf: Record<string, string> = {
    'server.directories.data': dataDir,
    'server.directories.logs': logDir,
    'server.directories.import': path.join(dir, 'import'),
    'server.directories.plugins': path.join(dir, 'plugins'),
    'server.default_listen_address': '127.0.0.1',
    'server.default_advertised_address': '127.0.0.1',
    'server.bolt.enabled': 'true',
    'server.bolt.listen_address': `127.0.0.1:${boltPort}`,
    'server.bolt.advertised_address': `127.0.0.1:${boltPort}`,
    'server.bolt.tls_level': 'DISABLED',
    'server.http.enabled': 'true',
    'server.http.listen_address': `127.0.0.1:${httpPort}`,
    'server.http.advertised_address': `127.0.0.1:${httpPort}`,
    'server.https.enabled': 'false',
    // no neo4j:// routing connector (its own port); breakwater proxies bolt://
    'dbms.routing.enabled': 'false',
    'dbms.security.auth_enabled': String(auth),
    'dbms.usage_report.enabled': 'false',
    'server.memory.pagecache.size': '16m',
    'db.logs.query.enabled': 'OFF',
    // a graceful stop in ~0.5 s instead of ~10 s (netty's quiet periods)
    'internal.dbms.bolt.netty_server_shutdown_quiet_period': '0',
    'internal.server.bolt.thread_pool_shutdown_wait_time': '0s',
    'internal.server.bolt.connection_shutdown_wait_time': '0s',
    ...opts.extra,
  };
  try {
    await fsp.mkdir(confDir);
    await fsp.mkdir(path.join(dataDir, 'dbms'), { recursive: true });
    await fsp.mkdir(logDir);
    await fsp.writeFile(path.join(confDir, 'neo4j.conf'), formatConf(conf));
    // the initial password, read when the system database is created
    if (auth) await fsp.copyFile(path.join(home, 'auth.ini'), path.join(dataDir, 'dbms', 'auth.ini'));
  } catch (err) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw err;
  }

  let version = '';
  const probe = async (signal: AbortSignal): Promise<boolean> => {
    const res = await fetch(`${httpUrl}/`, { headers: { accept: 'application/json' }, signal });
    const text = await res.text();
    if (res.status !== 200) return false;
    const disc = JSON.parse(text) as { neo4j_version?: string };
    if (!disc.neo4j_version) return false;
    if (!(await tcpAccepts(boltPort, signal))) return false;
    version = disc.neo4j_version;
    return true;
  };

  const jvm = [
    '-Xms64m',
    `-Xmx${opts.heap ?? '512m'}`,
    '-XX:+UseSerialGC',
    // C1 only: faster start, less CPU; plenty for tests (benchmarks ask for the full JIT).
    ...(opts.fullJit ? [] : ['-XX:TieredStopAtLevel=1']),
    '-XX:-UsePerfData',
    '-XX:+ExitOnOutOfMemoryError',
    '-XX:-OmitStackTraceInFastThrow',
    '-Djava.awt.headless=true',
    '-Dlog4j2.disable.jmx=true',
    '-Djdk.nio.maxCachedBufferSize=1024',
    '-Dio.netty.tryReflectionSetAccessible=true',
    '--add-opens=java.base/java.nio=ALL-UNNAMED',
    '--add-opens=java.base/java.io=ALL-UNNAMED',
    '--add-opens=java.base/sun.nio.ch=ALL-UNNAMED',
  ];
  const cds = appCdsPlan(home, 'neo4j.jsa', process.env.BREAKWATER_NEO4J_CDS === '0');
  jvm.push(...cds.flags);
  // dumping the archive at exit writes ~90 MB: give that run's stop more time before SIGKILL
  const dumping = cds.flags.some((f) => f.startsWith('-XX:ArchiveClassesAtExit'));
  const managed = new ManagedProcess({
    name: 'neo4j',
    command: java,
    args: [...jvm, '-cp', `${path.join(home, 'libs')}/*`, 'org.neo4j.server.CommunityEntryPoint', `--home-dir=${dir}`, `--config-dir=${confDir}`, '--console-mode'],
    dir,
    env: { ...process.env, NEO4J_HOME: dir, NEO4J_CONF: confDir },
    logFiles: [path.join(logDir, 'debug.log')],
    probe,
    readyTimeoutMs: opts.readyTimeoutMs ?? 90_000,
    stopTimeoutMs: dumping ? 60_000 : 15_000,
  });
  const credentials = auth ? { user: NEO4J_USER, password: NEO4J_PASSWORD } : undefined;
  const server: Neo4jServer = serviceOf(managed, {
    boltPort,
    httpPort,
    boltUrl: `bolt://127.0.0.1:${boltPort}`,
    httpUrl,
    user: NEO4J_USER,
    password: NEO4J_PASSWORD,
    auth,
    version: '',
    query: <T = Record<string, unknown>>(cypher: string, params?: Record<string, unknown>, qOpts?: Neo4jQueryOptions) =>
      neo4jHttpQuery<T>(httpUrl, credentials, cypher, params, qOpts),
    stop: async () => {
      try {
        await managed.stop();
      } finally {
        cds.finish();
      }
    },
  });
  try {
    await managed.startOrCleanUp();
  } catch (err) {
    cds.finish();
    throw err;
  }
  server.version = version;
  return server;
}

/**
 * Starts Neo4j Community on free Bolt and HTTP ports in its own temp dir and
 * waits until both answer (see the top of this file). Throws
 * E_SERVICE_NOT_INSTALLED when the jars (`bash test/services/neo4j-install.sh`)
 * or java are missing.
 */
export async function startNeo4j(opts: StartNeo4jOptions = {}): Promise<Neo4jServer> {
  const home = findHome();
  const java = findJava();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(java, home, opts);
    } catch (err) {
      if (attempt >= 3 || !isAddressInUse(err) || opts.boltPort !== undefined || opts.httpPort !== undefined) throw err;
    }
  }
}

export { ServiceError };
