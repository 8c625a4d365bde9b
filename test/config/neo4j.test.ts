// Config of the Neo4j dependencies (`bolt`, `neo4j-http`): defaults, the shipped default.yaml,
// and the mistakes an operator makes, each named with file:line, key and remedy.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatProblem } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-config-neo4j-'));
let n = 0;
function file(text: string): string {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return p;
}
function errorsOf(text: string): string[] {
  try {
    loadConfig({ file: file(text), environ: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected a ConfigError');
}
const bolt = (extra: string): string => `dependencies:
  neo4j:
    protocol: bolt
    listen: 127.0.0.1:17687
    upstream: bolt://127.0.0.1:7687
${extra}`;

t.test('defaults and the shipped config', async (t) => {
  const c = loadConfig({ file: file(bolt('')), environ: {} }).config.dependencies.neo4j!;
  t.equal(c.protocol, 'bolt');
  if (c.protocol !== 'bolt') return;
  t.equal(c.timeout, 5000);
  t.equal(c.connectTimeout, 2000);
  t.equal(c.maxMessageBytes, 64 * 1024 * 1024);
  t.same(c.upstream, ['bolt://127.0.0.1:7687']);
  t.same(c.fallback, []);
  const shipped = loadConfig({ file: 'config/default.yaml', environ: {} }).config.dependencies.neo4j!;
  t.equal(shipped.protocol, 'bolt');
  if (shipped.protocol !== 'bolt') return;
  t.equal(shipped.health.user, undefined, 'an empty NEO4J_USER leaves the health query off');
  t.same(shipped.fallback[0]!.use, ['cache', 'static']);
  t.equal(shipped.fallback[1]!.failWith, 'transient');
  const withUser = loadConfig({ file: 'config/default.yaml', environ: { NEO4J_USER: 'neo4j', NEO4J_PASSWORD: 'pw' } }).config.dependencies.neo4j!;
  t.equal(withUser.protocol === 'bolt' && withUser.health.user, 'neo4j');
});

t.test('mistakes are named with their key and remedy', async (t) => {
  t.match(errorsOf(bolt(`    fallback:\n      - match: { query: "(unclosed" }\n        use: [static]\n`)).join('\n'), /fallback\.0\.match\.query.*not a usable regular expression/);
  t.match(errorsOf(bolt(`    fallback:\n      - use: [static]\n        failWith: retry\n`)).join('\n'), /failWith/);
  t.match(errorsOf(bolt(`    fallback:\n      - use: [spool]\n`)).join('\n'), /use\.0/);
  t.match(errorsOf(bolt(`    health: { database: system }\n`)).join('\n'), /system database/);
  t.match(errorsOf(bolt('').replace('bolt://127.0.0.1:7687', 'http://127.0.0.1:7474')).join('\n'), /bolt:\/\/ or neo4j:\/\//);
  t.match(errorsOf(bolt(`    advertisedAddress: nowhere\n`)).join('\n'), /host:port/);
});
