// The CLI as users run it: check-config's output and exit codes, the startup gate's exit status
// and message, and `start` coming up with nothing reachable.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { freePort, withRedis } from '../services/index.js';
import { CLI, startBreakwater } from '../support/breakwater.js';

const dir = mkdtempSync(join(tmpdir(), 'bw-cli-'));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, BREAKWATER_ENV: '', ...env }, timeout: 30_000 });

t.test('check-config prints the effective config and exits 0', async (t) => {
  const r = run(['check-config', '--config', 'config/default.yaml', '--env', 'production'], { CLICKHOUSE_URL: 'http://ch.example:8123' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^# effective configuration from config\/default\.yaml \+ config\/production\.yaml/);
  const cfg = parse(r.stdout);
  t.equal(cfg.startup.onTimeout, 'exit');
  t.same(cfg.dependencies.clickhouse.upstream, ['http://ch.example:8123'], 'variables are interpolated');
  t.equal(cfg.dependencies.clickhouse.breaker.openFor, 30000);
});

t.test('check-config prints every error and exits 1', async (t) => {
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, 'admin:\n  lisen: 1\ndependencies:\n  clickhouse:\n    protocol: clickhouse-http\n    listen: 127.0.0.1:1\n    upstream: ${NOPE}\n');
  const r = run(['check-config', '--config', f]);
  t.equal(r.status, 1);
  t.match(r.stderr, `${f}:7:15: environment variable NOPE is not set`);
  const f2 = join(dir, 'bad2.yaml');
  writeFileSync(f2, 'admin:\n  lisen: 1\n');
  const r2 = run(['check-config', '--config', f2]);
  t.equal(r2.status, 1);
  t.match(r2.stderr, `${f2}:2:3: admin.lisen: unknown key "lisen" (did you mean "listen"?)`);
  t.equal(r2.stdout, '');
});

t.test('usage errors exit 2', async (t) => {
  t.equal(run(['frobnicate']).status, 2);
  t.match(run(['frobnicate']).stderr, /unknown command "frobnicate"/);
  t.equal(run(['start', '--bogus']).status, 2);
  t.equal(run(['--help']).status, 0);
});

t.test('startup gate with onTimeout: exit names what is unreachable and exits non-zero', async (t) => {
  const dead = await freePort();
  const bw = await startBreakwater(
    t,
    `admin: { listen: "{{ADMIN}}" }
startup: { waitFor: [clickhouse], timeout: 1500ms, onTimeout: exit }
dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:${await freePort()}
    upstream: http://127.0.0.1:${dead}
    required: true
    health: { interval: 300ms }
`,
  );
  t.equal((await bw.get('/startupz')).status, 503, 'the startup probe holds while waiting');
  const code = await bw.exited;
  t.equal(code, 1);
  const err = bw.stderr();
  t.match(err, /startup failed: clickhouse not healthy after 1500ms \(startup\.onTimeout: exit\)/);
  t.match(err, `http://127.0.0.1:${dead}/ping (connect ECONNREFUSED 127.0.0.1:${dead})`);
  t.match(err, /Check that the dependency is running and reachable/);
  t.ok(bw.logs.some((l) => l.level === 'fatal'), 'also logged');
});

t.test('serve-unready: comes up with nothing reachable and shows it is protecting', async (t) => {
  const port = await freePort();
  const bw = await startBreakwater(
    t,
    `admin: { listen: "{{ADMIN}}" }
log: { fallbackSummaryInterval: 500ms }
startup: { waitFor: [clickhouse], timeout: 1s, onTimeout: serve-unready }
dependencies:
  clickhouse:
    protocol: clickhouse-http
    listen: 127.0.0.1:${port}
    upstream: http://127.0.0.1:${await freePort()}
    required: true
    breaker: { failures: 3, openFor: 30s, halfOpenSuccesses: 3 }
    health: { interval: 300ms }
    fallback:
      - match: { statement: read }
        use: [static]
`,
  );
  const started = bw.logs.find((l) => /^breakwater started/.test(String(l.msg)));
  t.match(String(started?.msg), new RegExp(`clickhouse \\(clickhouse-http\\) 127\\.0\\.0\\.1:${port} -> http://127\\.0\\.0\\.1:\\d+`), 'the startup log says what listens where and forwards to what');
  await bw.waitFor(async () => (await bw.get('/startupz')).status === 200, 'startup to give up waiting', 5000);
  t.equal((await bw.get('/readyz')).status, 503, 'not ready');
  await bw.waitFor(async () => (await bw.get('/status')).body.dependencies.clickhouse.breaker.state === 'open', 'the breaker to open', 5000);
  const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'SELECT 1 FORMAT JSONCompact' });
  t.equal(res.status, 200);
  t.equal(res.headers.get('x-breakwater-fallback'), 'static');
  t.same(JSON.parse(await res.text()).data, []);
  await bw.waitFor(() => bw.logs.some((l) => /served 1 fallback responses/.test(String(l.msg))), 'the fallback summary', 5000);
  t.ok(bw.logs.some((l) => l.level === 'warn' && /breaker closed -> open/.test(String(l.msg))));
  t.equal(await bw.stop(), 0);
});

t.test('await-startup waits for the startup gate (the plain-container postStart hook)', async (t) => {
  // The gate waits for a Redis that is not there yet, so it cannot pass on its own during the
  // first check however slow the machine is; then a real Redis comes up on that port.
  const redisPort = await freePort();
  const bw = await startBreakwater(
    t,
    `admin: { listen: "{{ADMIN}}" }
startup: { waitFor: [redis], timeout: 120s, onTimeout: exit }
dependencies:
  redis:
    protocol: redis
    listen: 127.0.0.1:${await freePort()}
    upstream: redis://127.0.0.1:${redisPort}
    health: { interval: 200ms }
`,
  );
  const admin = bw.admin.replace('http://', '');
  const early = run(['await-startup', '--admin', admin, '--timeout', '300ms']);
  t.equal(early.status, 1, `gives up while the gate holds: ${early.stderr}`);
  t.match(early.stderr, new RegExp(`the startup gate at http://${admin}/startupz did not pass within 300 ms; last answer: 503 .*"waitingFor":\\["redis"\\]`));
  const redis = await withRedis(t, { port: redisPort });
  const waited = run(['await-startup', '--admin', admin, '--timeout', '30s']);
  t.equal(waited.status, 0, `returns once the gate passed: ${waited.stderr}`);
  t.equal((await bw.get('/startupz')).status, 200, 'the gate has passed');
  const nobody = run(['await-startup', '--admin', `127.0.0.1:${await freePort()}`, '--timeout', '200ms']);
  t.equal(nobody.status, 1);
  t.match(nobody.stderr, /last answer: connect ECONNREFUSED/);
  t.equal(run(['await-startup', '--timeout', 'soon']).status, 2, 'a bad duration is a usage error');
  t.equal(await bw.stop(), 0);
  await redis.stop();
});
