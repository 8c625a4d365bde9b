// The cdc section of the config: the consumer cannot be configured away silently, and every
// mistake is named with its key path.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatProblem } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-cdc-config-'));
let n = 0;
function load(text: string) {
  const p = join(dir, `c${n++}.yaml`);
  writeFileSync(p, text);
  return loadConfig({ file: p, environ: {} }).config;
}
function errorsOf(text: string): string[] {
  try {
    load(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const ch = (extra = '') => `dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:18123
    upstream: http://127.0.0.1:8123
${extra}`;

t.test('the shipped default declares the original topics and feeds ClickHouse', async (t) => {
  const c = loadConfig({ file: 'config/default.yaml', environ: {} }).config;
  t.same(Object.keys(c.cdc!.topics).sort(), ['cdc.comments', 'cdc.follows', 'cdc.likes', 'cdc.posts']);
  t.same(c.cdc!.topics['cdc.follows']!.key, ['follower_id', 'following_id']);
  t.equal(c.cdc!.topics['cdc.posts']!.versionFrom, 'lsn', 'the version is the LSN by default');
  t.equal(c.cdc!.topics['cdc.posts']!.deleted, 'is_deleted');
  t.equal(c.cdc!.batch.rows, 10_000);
  t.equal(c.cdc!.batch.interval, 1000);
  t.equal(c.dependencies.clickhouse!.protocol === 'clickhouse-http' && c.dependencies.clickhouse!.fedByCdc, true);
  t.same(loadConfig({ file: 'config/default.yaml', env: 'production', environ: {} }).config.cdc!.brokers, ['kafka:9092']);
});

t.test('a ClickHouse fed by CDC with no cdc topics is an error', async (t) => {
  const errs = errorsOf(ch('    fedByCdc: true\n'));
  t.equal(errs.length, 1);
  t.match(errs[0], /dependencies\.clickhouse\.fedByCdc: .*declares no cdc\.topics/);
});

t.test('cdc mistakes are named by key path', async (t) => {
  const base = (topics: string, clickhouse = 'clickhouse') => `${ch()}cdc:
  brokers: 127.0.0.1:9092
  clickhouse: ${clickhouse}
  topics:
${topics}`;
  t.match(errorsOf(base('    cdc.posts: { table: posts_cdc, key: [id], version: v }', 'nope')).join('\n'), /cdc\.clickhouse: .*"nope", which is not a clickhouse-http dependency \(clickhouse-http dependencies: clickhouse\)/);
  t.match(errorsOf(base('    {}')).join('\n'), /cdc\.topics: cdc declares no topics/);
  t.match(errorsOf(base('    cdc.posts: { table: posts_cdc, key: [], version: v }')).join('\n'), /cdc\.topics\.cdc\.posts\.key/);
  t.match(errorsOf(base('    cdc.posts: { table: posts_cdc, key: [id], version: id }')).join('\n'), /cannot be both a key column and the version/);
  t.match(errorsOf(base('    cdc.posts: { table: "bad table", key: [id], version: v }')).join('\n'), /cdc\.topics\.cdc\.posts\.table: expected a ClickHouse table name/);
  t.match(errorsOf(base('    cdc.posts: { table: t, key: [id], version: v, versionFrom: xmin }')).join('\n'), /versionFrom/);
  t.match(errorsOf(base('    cdc.posts: { table: t, key: [id], version: v, enabled: false }')).join('\n'), /enabled/, 'there is no switch to turn a topic off');
  const ok = load(base('    cdc.posts: { table: db.t, key: [id], version: v, rename: { content: body }, timestampUnit: ms }'));
  t.same(ok.cdc!.topics['cdc.posts']!.rename, { content: 'body' });
  t.equal(ok.cdc!.deadLetterTopic, 'cdc.dlq', 'default dead-letter topic');
  t.equal(ok.cdc!.maxLag, 0, 'lag does not gate readiness by default');
});
