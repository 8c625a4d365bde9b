// A real ClickHouse server (Debian clickhouse-server, 18.16 here) for tests:
// own free ports, own temp dir with config.xml and users.xml (nothing read
// from /etc), modest memory settings, ready when GET /ping answers "Ok.".
import fs from 'node:fs/promises';
import path from 'node:path';
import { freePorts } from './ports.js';
import { serviceOf, type ServiceControl, ManagedProcess, ServiceError, findBinary, isAddressInUse, makeTempDir } from './process.js';

export interface ClickHouseServer extends ServiceControl {
  httpPort: number;
  tcpPort: number;
  /** http://127.0.0.1:<httpPort> */
  url: string;
  /**
   * Plain HTTP POST of `sql` to the server (via fetch); resolves to the body.
   * Throws a ServiceError (code E_SERVICE_QUERY) carrying the server's message
   * on a non-200 answer. Default timeout 60 s; pass `signal` or `timeoutMs`.
   */
  query(sql: string, opts?: QueryOptions): Promise<string>;
}

export interface QueryOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  /** ClickHouse settings as URL parameters, e.g. { max_execution_time: '5' }. */
  settings?: Record<string, string | number>;
}

export interface StartClickHouseOptions {
  /** Fixed HTTP port; default a free one. */
  httpPort?: number;
  /** Fixed native-protocol port; default a free one. */
  tcpPort?: number;
  /** Readiness timeout, default 60 s. */
  readyTimeoutMs?: number;
}

function configXml(dir: string, httpPort: number, tcpPort: number): string {
  return `<?xml version="1.0"?>
<yandex>
  <logger>
    <level>information</level>
    <log>${dir}/log/clickhouse-server.log</log>
    <errorlog>${dir}/log/clickhouse-server.err.log</errorlog>
    <size>50M</size>
    <count>1</count>
    <console>0</console>
  </logger>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <max_connections>1024</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>50</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mlock_executable>false</mlock_executable>
</yandex>
`;
}

// Debian's default users.xml, trimmed: user `default`, no password, local only;
// 2 GB per query so several servers fit on a small machine.
const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
      <use_uncompressed_cache>0</use_uncompressed_cache>
      <load_balancing>random</load_balancing>
    </default>
    <readonly>
      <readonly>1</readonly>
    </readonly>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks>
        <ip>::1</ip>
        <ip>127.0.0.1</ip>
      </networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
    <readonly>
      <password></password>
      <networks>
        <ip>::1</ip>
        <ip>127.0.0.1</ip>
      </networks>
      <profile>readonly</profile>
      <quota>default</quota>
    </readonly>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
`;

async function ping(url: string, signal: AbortSignal): Promise<boolean> {
  const res = await fetch(`${url}/ping`, { signal });
  const body = await res.text();
  return res.status === 200 && body.trim() === 'Ok.';
}

async function startOnce(binary: string, opts: StartClickHouseOptions): Promise<ClickHouseServer> {
  const [autoHttp, autoTcp] = await freePorts(2);
  const httpPort = opts.httpPort ?? (autoHttp as number);
  const tcpPort = opts.tcpPort ?? (autoTcp === httpPort ? (autoHttp as number) : (autoTcp as number));
  const dir = await makeTempDir('clickhouse');
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'log']) {
    await fs.mkdir(path.join(dir, sub), { recursive: true });
  }
  const configFile = path.join(dir, 'config.xml');
  await fs.writeFile(configFile, configXml(dir, httpPort, tcpPort));
  await fs.writeFile(path.join(dir, 'users.xml'), USERS_XML);

  const url = `http://127.0.0.1:${httpPort}`;
  const proc = new ManagedProcess({
    name: 'clickhouse',
    command: binary,
    args: [`--config-file=${configFile}`],
    dir,
    logFiles: [path.join(dir, 'log/clickhouse-server.err.log'), path.join(dir, 'log/clickhouse-server.log')],
    probe: (signal) => ping(url, signal),
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    stopTimeoutMs: 10_000,
  });

  const server: ClickHouseServer = serviceOf(proc, {
    httpPort,
    tcpPort,
    url,
    query: (sql: string, queryOpts?: QueryOptions) => query(url, sql, queryOpts),
  });
  await proc.startOrCleanUp();
  return server;
}

/** POST `sql` to a ClickHouse HTTP endpoint; the body on 200, a ServiceError otherwise. */
export async function query(url: string, sql: string, opts: QueryOptions = {}): Promise<string> {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(opts.settings ?? {})) params.set(k, String(v));
  const qs = params.size > 0 ? `?${params.toString()}` : '';
  const signal = opts.signal ?? AbortSignal.timeout(opts.timeoutMs ?? 60_000);
  const res = await fetch(`${url}/${qs}`, { method: 'POST', body: sql, signal });
  const body = await res.text();
  if (res.status !== 200) {
    const shown = sql.length > 300 ? `${sql.slice(0, 300)}...` : sql;
    throw new ServiceError(
      'E_SERVICE_QUERY',
      `ClickHouse at ${url} answered HTTP ${res.status}: ${body.trim()}\nquery: ${shown}`,
    );
  }
  return body;
}

/**
 * Starts a ClickHouse server on free ports (or the given ones) in its own temp
 * dir and waits until /ping answers. Throws E_SERVICE_NOT_INSTALLED when
 * clickhouse-server is missing (env CLICKHOUSE_SERVER_BIN overrides the path).
 */
export async function startClickHouse(opts: StartClickHouseOptions = {}): Promise<ClickHouseServer> {
  const binary = findBinary('clickhouse-server', 'clickhouse-server', 'CLICKHOUSE_SERVER_BIN');
  const fixedPorts = opts.httpPort !== undefined || opts.tcpPort !== undefined;
  // A free port can be taken by a parallel test between probe and bind: retry on fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binary, opts);
    } catch (err) {
      if (fixedPorts || attempt >= 3 || !isAddressInUse(err)) throw err;
    }
  }
}

export { ServiceError };
