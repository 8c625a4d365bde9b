// A real Prometheus server (Debian prometheus) for tests: own free port, own temp dir for its
// TSDB, scraping the targets the test names every second, with the rule files it is given.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './ports.js';
import { serviceOf, type ServiceControl, ManagedProcess, ServiceError, findBinary, isAddressInUse, makeTempDir } from './process.js';

export interface PrometheusServer extends ServiceControl {
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** GET /api/v1/query?query=...: the result vector (throws on an error answer). */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** GET an API path (e.g. /api/v1/targets) and return its `data`; throws on an error answer. */
  api(pathAndQuery: string): Promise<any>;
}

export interface StartPrometheusOptions {
  /** host:port targets of one job, scraped every scrapeInterval at /metrics. */
  targets: string[];
  job?: string;
  /** Default 1s. */
  scrapeInterval?: string;
  /** Rule file contents (YAML, `groups:`), written into the server's dir. */
  rules?: string[];
  /** Default 1s. */
  evaluationInterval?: string;
  readyTimeoutMs?: number;
}

async function getJson(url: string): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; data?: unknown; error?: string; errorType?: string };
  if (body.status !== 'success') throw new Error(`prometheus ${url}: ${res.status} ${body.errorType}: ${body.error}`);
  return body.data;
}

async function startOnce(binary: string, opts: StartPrometheusOptions): Promise<PrometheusServer> {
  const port = await freePort();
  const dir = await makeTempDir('prometheus');
  const ruleFiles: string[] = [];
  for (const [i, rules] of (opts.rules ?? []).entries()) {
    const file = path.join(dir, `rules-${i}.yaml`);
    await writeFile(file, rules);
    ruleFiles.push(file);
  }
  await writeFile(
    path.join(dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: opts.scrapeInterval ?? '1s', scrape_timeout: '900ms', evaluation_interval: opts.evaluationInterval ?? '1s' },
      rule_files: ruleFiles,
      scrape_configs: [{ job_name: opts.job ?? 'breakwater', static_configs: [{ targets: opts.targets }] }],
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const proc = new ManagedProcess({
    name: 'prometheus',
    command: binary,
    args: [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    dir,
    probe: async (signal) => {
      const res = await fetch(`${url}/-/ready`, { signal });
      return res.status === 200;
    },
    readyTimeoutMs: opts.readyTimeoutMs ?? 60_000,
    stopTimeoutMs: 10_000,
  });
  const server: PrometheusServer = serviceOf(proc, {
    port,
    url,
    query: (promql: string) => getJson(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`).then((d) => d.result),
    api: (p: string) => getJson(url + p),
  });
  await proc.startOrCleanUp();
  return server;
}

/**
 * Starts `prometheus --config.file DIR/prometheus.yml --storage.tsdb.path DIR/data` on a free
 * port, scraping `targets`. Throws E_SERVICE_NOT_INSTALLED when prometheus is missing
 * (PROMETHEUS_BIN overrides the path).
 */
export async function startPrometheus(opts: StartPrometheusOptions): Promise<PrometheusServer> {
  const binary = findBinary('prometheus', 'prometheus', 'PROMETHEUS_BIN');
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(binary, opts);
    } catch (err) {
      if (attempt >= 3 || !isAddressInUse(err)) throw err;
    }
  }
}

export { ServiceError };
