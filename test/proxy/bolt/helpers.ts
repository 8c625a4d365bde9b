// Shared pieces of the Bolt tests: a sidecar in front of a real Neo4j, the neo4j-driver (6.x,
// and 5.x for the other driver generation) as the unmodified application, and the friends-of-
// friends graph the original service's suggestion query ran on.
import neo4j, { type Driver } from 'neo4j-driver';
import neo4j5 from 'neo4j-driver-5';
import { freePort, type Neo4jServer } from '../../services/index.js';
import { startBreakwater, type Breakwater, type TeardownHost } from '../../support/breakwater.js';
import { connectBolt, type BoltWire } from '../../support/bolt-wire.js';

export const TOKEN = 'bolt-test-token';

export interface BoltSidecarOptions {
  /** YAML lines under the dependency (indented by 4), e.g. fallback rules. */
  extra?: string;
  breaker?: string;
  timeout?: string;
  health?: string;
  cacheRedis?: string;
  required?: boolean;
  upstream?: string;
  /** The listen port; default a free one. */
  port?: number;
  maxMessageBytes?: string;
}

export interface BoltSidecar {
  bw: Breakwater;
  port: number;
  url: string;
}

export async function boltSidecar(t: TeardownHost, neo: Neo4jServer, opts: BoltSidecarOptions = {}): Promise<BoltSidecar> {
  const port = opts.port ?? (await freePort());
  const yaml = `
admin: { listen: "{{ADMIN}}", token: ${TOKEN} }
log: { level: debug }
${opts.cacheRedis ? `cache: { redis: ${opts.cacheRedis}, ttl: 10m }` : ''}
startup: { waitFor: [], onTimeout: serve-unready }
dependencies:
  neo4j:
    protocol: bolt
    listen: 127.0.0.1:${port}
    upstream: ${opts.upstream ?? neo.boltUrl}
    timeout: ${opts.timeout ?? '2s'}
    connectTimeout: 1s
${opts.maxMessageBytes ? `    maxMessageBytes: ${opts.maxMessageBytes}` : ''}
    required: ${opts.required ?? false}
    breaker: ${opts.breaker ?? '{ failures: 3, openFor: 2s, halfOpenSuccesses: 1 }'}
    health: ${opts.health ?? '{ enabled: false }'}
${opts.extra ?? ''}
`;
  const bw = await startBreakwater(t, yaml);
  return { bw, port, url: `bolt://127.0.0.1:${port}` };
}

export type DriverGeneration = 5 | 6;

/** A driver as the application would make it; closed in teardown. */
export function driverFor(t: TeardownHost, url: string, neo: Neo4jServer, generation: DriverGeneration = 6, config: Record<string, unknown> = {}): Driver {
  const lib = (generation === 6 ? neo4j : neo4j5) as typeof neo4j;
  const d = lib.driver(url, lib.auth.basic(neo.user, neo.password), { disableLosslessIntegers: true, logging: { level: 'error', logger: () => undefined }, ...config });
  t.teardown(() => d.close());
  return d;
}

/** The suggestion query of the original service: people my friends follow whom I do not, by how many friends follow them. */
export const SUGGESTIONS = `MATCH (me:User {id: $userId})-[:FOLLOWS]->(:User)-[:FOLLOWS]->(s:User)
WHERE s <> me AND NOT (me)-[:FOLLOWS]->(s)
RETURN s.id AS id, s.name AS name, count(*) AS mutual
ORDER BY mutual DESC, id
LIMIT toInteger($limit)`;

/** A small social graph: users u1..u{n}, each following the next `fanout` users (mod n). */
export async function seedGraph(neo: Neo4jServer, n = 50, fanout = 4): Promise<void> {
  await neo.query('MATCH (u:User) DETACH DELETE u');
  await neo.query('UNWIND range(1, $n) AS i CREATE (:User {id: "u" + i, name: "User " + i})', { n });
  await neo.query(
    'MATCH (a:User) WITH a, toInteger(substring(a.id, 1)) AS i UNWIND range(1, $fanout) AS k MATCH (b:User {id: "u" + (((i - 1 + k) % $n) + 1)}) CREATE (a)-[:FOLLOWS]->(b)',
    { n, fanout },
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function breakerState(bw: Breakwater, dep = 'neo4j'): Promise<string> {
  return (await bw.get('/status')).body.dependencies[dep].breaker.state as string;
}

export async function counts(bw: Breakwater, dep = 'neo4j'): Promise<Record<string, number>> {
  return (await bw.get('/status')).body.dependencies[dep].counts as Record<string, number>;
}

/** A byte-level client on `port`, logged in as the test user (Bolt 5.1+: HELLO then LOGON). */
export async function loggedInWire(port: number, neo: Neo4jServer): Promise<BoltWire> {
  const c = await connectBolt(port);
  c.hello();
  await c.success();
  c.logon(neo.user, neo.password);
  await c.success();
  return c;
}

/** A test that SIGSTOPs Neo4j leaves it running for the next one, even when it fails midway. */
export function resumeOnTeardown(t: TeardownHost, neo: Neo4jServer): void {
  t.teardown(() => {
    try {
      neo.resume();
    } catch {
      // not running
    }
  });
}
