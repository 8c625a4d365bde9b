// Runs the real `breakwater start` CLI as a child process (as test/support/breakwater.ts does),
// pinned with taskset and optionally with node flags (--cpu-prof), and waits for /readyz.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../services/ports.js';
import { httpOk, startProcess, waitUntil, type Proc } from './procs.js';

/** The repository root (this file runs from dist/test/bench/support/). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
/** The compiled CLI, as in test/support/breakwater.ts but independent of the cwd. */
export const CLI = path.join(ROOT, 'dist/src/cli/main.js');

export interface SidecarRun {
  name: string;
  proc: Proc;
  /** the data listener, http://127.0.0.1:<port> */
  origin: string;
  admin: string;
  configFile: string;
}

export interface SidecarOptions {
  name: string;
  dir: string;
  /** the dependency's name in the config */
  dependency: string;
  upstream: string;
  healthPath: string;
  cpus?: string;
  nodeArgs?: string[];
  /** The whole config instead of sidecarConfig's, given the admin and listen addresses. */
  config?: (addresses: { admin: string; listen: string }) => string;
}

/** The config: one clickhouse-http dependency, health checks on, logs at warn. */
/** With `cacheRedis`, reads are stored for the `cache` fallback (bench:cache compares both). */
export function sidecarConfig(o: { admin: string; listen: string; dependency: string; upstream: string; healthPath: string; cacheRedis?: string }): string {
  return `# written by test/bench
admin:
  listen: ${o.admin}
log:
  level: warn
${o.cacheRedis ? `cache:\n  redis: ${o.cacheRedis}\n  ttl: 10m\n` : ''}dependencies:
  ${o.dependency}:
    protocol: clickhouse-http
    listen: ${o.listen}
    upstream: ${o.upstream}
    timeout: 5s
    required: true
    breaker: { failures: 3, openFor: 30s, halfOpenSuccesses: 3 }
    health: { enabled: true, interval: 5s, timeout: 2s, healthyThreshold: 1, unhealthyThreshold: 2, path: ${o.healthPath} }
    fallback:
      - match: { statement: read }
        use: ${o.cacheRedis ? '[cache, static]' : '[static]'}
      - match: { statement: any }
        use: [fail]
`;
}

export async function startSidecar(o: SidecarOptions): Promise<SidecarRun> {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: build first with \`npx tsc -p tsconfig.json\``);
  fs.mkdirSync(o.dir, { recursive: true });
  const [adminPort, port] = await freePorts(2);
  const admin = `http://127.0.0.1:${adminPort}`;
  const origin = `http://127.0.0.1:${port}`;
  const configFile = path.join(o.dir, 'breakwater.yaml');
  const addresses = { admin: `127.0.0.1:${adminPort}`, listen: `127.0.0.1:${port}` };
  fs.writeFileSync(
    configFile,
    o.config ? o.config(addresses) : sidecarConfig({ ...addresses, dependency: o.dependency, upstream: o.upstream, healthPath: o.healthPath }),
  );
  const proc = startProcess(o.name, [process.execPath, ...(o.nodeArgs ?? []), CLI, 'start', '--config', configFile], {
    cpus: o.cpus,
    env: { ...process.env, BREAKWATER_ENV: '' },
  });
  // ready = listening, health check passed, breaker closed
  await waitUntil(() => httpOk(`${admin}/readyz`), `${o.name}: GET ${admin}/readyz = 200`, { proc, timeoutMs: 30_000 });
  return { name: o.name, proc, origin, admin, configFile };
}
