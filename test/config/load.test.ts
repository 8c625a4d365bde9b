// Config loading: every kind of error names file:line:col, the key path, what was expected
// and what was found; overlays, interpolation and defaults.
import t from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatProblem } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/load.js';
import { parseDuration, parseSize } from '../../src/config/duration.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-config-'));
let n = 0;
function file(text: string, name = `c${n++}.yaml`): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function errorsOf(path: string, env?: string, environ: Record<string, string> = {}): string[] {
  try {
    loadConfig({ file: path, env, environ });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const minimal = `dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:18123
    upstream: http://127.0.0.1:8123
`;

t.test('the shipped configs are valid, with the seed thresholds', async (t) => {
  const base = loadConfig({ file: 'config/default.yaml', environ: {} }).config;
  const ch = base.dependencies.clickhouse!;
  t.equal(ch.breaker.failures, 3);
  t.equal(ch.breaker.openFor, 30_000);
  t.equal(ch.breaker.halfOpenSuccesses, 3);
  t.equal(base.startup.onTimeout, 'serve-unready');
  t.match(base.dependencies.redis!.breaker, { failures: 5, openFor: 15_000, halfOpenSuccesses: 2 });
  t.match(base.dependencies.kafka!.breaker, { failures: 2, openFor: 60_000, halfOpenSuccesses: 3 });
  const prod = loadConfig({ file: 'config/default.yaml', env: 'production', environ: {} }).config;
  t.equal(prod.startup.onTimeout, 'exit', 'production fails fast');
  t.equal(prod.dependencies.clickhouse!.upstream[0], 'http://clickhouse:8123');
  t.equal(prod.dependencies.clickhouse!.breaker.failures, 3, 'overlay keeps what it does not mention');
  const staging = loadConfig({ file: 'config/default.yaml', environ: { BREAKWATER_ENV: 'staging' } });
  t.equal(staging.env, 'staging', 'BREAKWATER_ENV selects the overlay');
  t.equal(staging.config.log.level, 'debug');
  t.ok(Object.isFrozen(base) && Object.isFrozen(ch.breaker), 'the snapshot is immutable');
});

t.test('defaults and durations', async (t) => {
  const c = loadConfig({ file: file(minimal), environ: {} }).config;
  const ch = c.dependencies.clickhouse!;
  t.equal(ch.timeout, 5000);
  t.equal(ch.breaker.policy, 'consecutive');
  t.equal(ch.breaker.halfOpenMaxCalls, 1);
  t.same(ch.upstream, ['http://127.0.0.1:8123'], 'a single upstream becomes a list');
  t.equal(c.admin.listen, '0.0.0.0:9901');
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('2m'), 120_000);
  t.equal(parseDuration('1.5s'), 1500);
  t.equal(parseDuration('30'), undefined, 'a bare number is not a duration');
  t.equal(parseSize('1GiB'), 1024 ** 3);
});

t.test('unknown keys are errors with a suggestion and a position', async (t) => {
  const p = file(minimal + '    breaker: { failurs: 3 }\n');
  const errs = errorsOf(p);
  t.equal(errs.length, 1);
  t.match(errs[0], `${p}:6:16: dependencies.clickhouse.breaker.failurs: unknown key "failurs" (did you mean "failures"?)`);
  t.match(errs[0], '[unknown_key]');
  const top = errorsOf(file('admn: {}\n'));
  t.match(top[0], /:1:1: admn: unknown key "admn" \(did you mean "admin"\?\)/);
});

t.test('wrong types and values say what was expected and what was found', async (t) => {
  const errs = errorsOf(file(minimal + '    timeout: 5 seconds\n    breaker:\n      failures: lots\n      policy: sometimes\n'));
  t.equal(errs.length, 3, errs.join('\n'));
  t.match(errs.join('\n'), /:6:14: dependencies\.clickhouse\.timeout: expected a duration such as 500ms, 30s or 2m, found "5 seconds"/);
  t.match(errs.join('\n'), /:8:17: dependencies\.clickhouse\.breaker\.failures: Invalid input: expected number, received string \(found: lots\)/);
  t.match(errs.join('\n'), /:9:15: dependencies\.clickhouse\.breaker\.policy: .*"consecutive"\|"rate".*\(found: sometimes\)/);
});

t.test('bad upstreams, listen addresses and protocols', async (t) => {
  const errs = errorsOf(
    file(`dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: localhost
    upstream: clickhouse:8123
`),
  );
  t.match(errs.join('\n'), /:4:13: dependencies\.clickhouse\.listen: expected host:port/);
  t.match(errs.join('\n'), /:5:15: dependencies\.clickhouse\.upstream: expected a URL with scheme http:\/\//);
  const tls = errorsOf(file(`dependencies:\n  ch:\n    protocol: clickhouse-http\n    listen: 127.0.0.1:1\n    upstream: https://ch:8443\n`));
  t.match(tls[0], /dependencies\.ch\.upstream: expected a URL with scheme http:\/\//, 'https upstreams are refused, not sent plaintext');
  const proto = errorsOf(file(`dependencies:\n  ch:\n    protocol: clickhouse\n    listen: 127.0.0.1:1\n    upstream: http://x:1\n`));
  t.match(proto.join('\n'), /dependencies\.ch\.protocol/);
  t.match(proto.join('\n'), /clickhouse-http/);
});

t.test('missing required keys point at the parent', async (t) => {
  const errs = errorsOf(file(`dependencies:\n  clickhouse:\n    protocol: clickhouse-http\n    listen: 127.0.0.1:18123\n`));
  t.match(errs[0], /:3:5: dependencies\.clickhouse\.upstream: .*\(found: nothing \(the key is missing\)\)/);
});

t.test('static never answers writes', async (t) => {
  const errs = errorsOf(file(minimal + '    fallback:\n      - match: { statement: write }\n        use: [static]\n'));
  t.match(errs[0], /dependencies\.clickhouse\.fallback\.0\.use: `static` answers reads only/);
});

t.test('cross-references: startup.waitFor and duplicate listen addresses', async (t) => {
  const errs = errorsOf(file(minimal + 'startup:\n  waitFor: [clikhouse]\nadmin:\n  listen: 127.0.0.1:18123\n'));
  t.match(errs.join('\n'), /startup\.waitFor\.0: startup\.waitFor names "clikhouse", which is not a declared dependency \(declared: clickhouse\)/);
  t.match(errs.join('\n'), /dependencies\.clickhouse\.listen: listen address 127\.0\.0\.1:18123 is already used by admin\.listen/);
});

t.test('interpolation', async (t) => {
  const p = file(`admin:\n  listen: \${ADMIN:-127.0.0.1:9999}\n  token: "\${TOKEN}"\ndependencies:\n  clickhouse:\n    protocol: clickhouse-http\n    listen: 127.0.0.1:18123\n    upstream: \${CH_URL}\n    breaker:\n      failures: \${FAILS:-4}\n    health: { path: "/p$\${x}" }\n`);
  const c = loadConfig({ file: p, environ: { TOKEN: 's3cret', CH_URL: 'http://ch:8123' } }).config;
  t.equal(c.admin.listen, '127.0.0.1:9999', 'default used');
  t.equal(c.admin.token, 's3cret');
  t.equal(c.dependencies.clickhouse!.breaker.failures, 4, 'an unquoted number stays a number');
  t.equal((c.dependencies.clickhouse as { health: { path: string } }).health.path, '/p${x}', '$${ escapes');
  const errs = errorsOf(p, undefined, { TOKEN: 'x' });
  t.equal(errs.length, 1);
  t.match(errs[0], /:8:15: environment variable CH_URL is not set and has no default; set it, or write \$\{CH_URL:-default\}/);
});

t.test('YAML syntax errors and unreadable files', async (t) => {
  const errs = errorsOf(file('dependencies:\n  a: [1, 2\n'));
  t.match(errs[0], /:\d+:\d+: YAML syntax: /);
  t.match(errs[0], '[yaml_syntax]');
  const dup = errorsOf(file('admin: {}\nadmin: {}\n'));
  t.match(dup[0], /YAML syntax: Map keys must be unique/);
  const missing = errorsOf(join(dir, 'nope.yaml'));
  t.match(missing[0], /nope\.yaml: cannot read the config file: ENOENT/);
});

t.test('overlays: errors point into the overlay file; a missing overlay is named', async (t) => {
  const base = file(minimal, 'base.yaml');
  file('dependencies:\n  clickhouse:\n    timeout: soon\n', 'broken.yaml');
  const errs = errorsOf(base, 'broken');
  t.match(errs[0], /broken\.yaml:3:14: dependencies\.clickhouse\.timeout: expected a duration/);
  const none = errorsOf(base, 'qa');
  t.match(none[0], /environment "qa" was requested .*\/qa\.yaml does not exist/);
  file('dependencies:\n  clickhouse:\n    upstream: [http://a:1, http://b:2]\n    breaker: { failures: 9 }\n', 'replicas.yaml');
  const c = loadConfig({ file: base, env: 'replicas', environ: {} }).config;
  t.same(c.dependencies.clickhouse!.upstream, ['http://a:1', 'http://b:2']);
  t.equal(c.dependencies.clickhouse!.breaker.failures, 9);
  file('dependencies:\n  clickhouse: null\n', 'drop.yaml');
  t.same(Object.keys(loadConfig({ file: base, env: 'drop', environ: {} }).config.dependencies), [], 'null removes a key');
});

t.test('property: any file content gives a config or a ConfigError, never a crash', async (t) => {
  const fc = (await import('fast-check')).default;
  const fragments = fc.constantFrom('dependencies:', '  clickhouse:', '    protocol: clickhouse-http', '    listen: 127.0.0.1:1', '    upstream: http://a:1', '    breaker: {', '${X}', '${Y:-3}', '[', '- a', 'admin: 1', ': :', '\t', '"', "'", '&a', '*a', '!!binary', '    timeout: 5s', 'startup: { waitFor: [x] }');
  let configs = 0;
  let errors = 0;
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.array(fragments, { maxLength: 12 }).map((l) => l.join('\n'))), (text) => {
      const p = file(text);
      try {
        loadConfig({ file: p, environ: {} });
        configs++;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        for (const problem of err.problems) if (!problem.message) throw new Error('empty message');
        errors++;
      }
    }),
    { numRuns: 300 },
  );
  t.ok(configs > 0 && errors > 0, `${configs} valid, ${errors} rejected with ConfigError`);
});

t.test('an alias to a missing anchor is a positioned YAML error', async (t) => {
  const errs = errorsOf(file('admin:\n  listen: *nowhere\n'));
  t.match(errs[0], /:2:11: YAML: Unresolved alias .*nowhere \[yaml_syntax\]/);
});
