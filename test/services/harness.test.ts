// Self-test of the real-service harness: ClickHouse and Redis start, answer,
// pause/resume, kill/restart on the same port (ClickHouse keeps its data),
// stop frees the port, and a test process that dies never leaves a server.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ServiceError, findBinary, isPortFree, withClickHouse, withRedis } from './index.js';

function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('clickhouse: query, pause/resume, kill/restart keeps data, stop frees the port', async (t) => {
  const ch = await withClickHouse(t);
  t.match(ch.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.not(ch.httpPort, ch.tcpPort, 'distinct ports');
  t.equal(await ch.query('SELECT 1'), '1\n', 'SELECT 1');
  await t.rejects(ch.query('SELEC 1'), { name: 'ServiceError', code: 'E_SERVICE_QUERY', message: /Syntax error/ }, 'server message on non-200');

  ch.pause();
  const outcome = await ch.query('SELECT 1', { signal: AbortSignal.timeout(1_000) }).then(
    (body) => `answered ${JSON.stringify(body)}`,
    (err: Error) => `${err.name}: ${err.message}`,
  );
  t.match(outcome, /^(TimeoutError|AbortError)/, 'paused server does not answer');
  ch.resume();
  t.equal(await ch.query('SELECT 2'), '2\n', 'answers again after resume');

  await ch.query('CREATE TABLE harness_kv (id UInt32, v String) ENGINE = MergeTree ORDER BY id');
  await ch.query("INSERT INTO harness_kv VALUES (1, 'a'), (2, 'b'), (3, 'c')");
  const { httpPort, tcpPort } = ch;
  const oldPid = ch.pid;
  await ch.kill();
  t.equal(ch.pid, undefined, 'no pid after kill');
  await t.rejects(ch.query('SELECT 1', { timeoutMs: 2_000 }), 'killed server refuses');
  await ch.restart();
  t.equal(ch.httpPort, httpPort, 'same http port');
  t.equal(ch.tcpPort, tcpPort, 'same tcp port');
  t.not(ch.pid, oldPid, 'new process');
  t.equal(await ch.query('SELECT count(), groupArray(v) FROM harness_kv'), "3\t['a','b','c']\n", 'data survives kill+restart');

  await ch.stop();
  t.ok(await isPortFree(httpPort), 'http port free after stop');
  t.ok(await isPortFree(tcpPort), 'tcp port free after stop');
  t.notOk(fs.existsSync(ch.dir), 'temp dir removed');
  await ch.stop(); // idempotent (teardown calls it again too)
});

t.test('redis: ping, pause/resume, kill/restart on the same port, stop frees the port', async (t) => {
  const redis = await withRedis(t);
  t.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
  t.equal(await redis.ping(), '+PONG');

  redis.pause();
  await t.rejects(redis.ping({ timeoutMs: 1_000 }), { name: 'TimeoutError' }, 'paused server does not answer');
  redis.resume();
  t.equal(await redis.ping(), '+PONG', 'answers again after resume');

  const oldPid = redis.pid;
  await redis.kill();
  await t.rejects(redis.ping({ timeoutMs: 2_000 }), { code: 'ECONNREFUSED' }, 'killed server refuses');
  await redis.restart();
  t.not(redis.pid, oldPid, 'new process');
  t.equal(await redis.ping(), '+PONG', 'back on the same port');

  // restart() of a running server stops it first
  const runningPid = redis.pid;
  await redis.restart();
  t.not(redis.pid, runningPid);
  t.equal(await redis.ping(), '+PONG');

  await redis.stop();
  t.ok(await isPortFree(redis.port), 'port free after stop');
  t.notOk(fs.existsSync(redis.dir), 'temp dir removed');
});

t.test('a missing binary is an error with the install command, never a skip', async (t) => {
  t.throws(() => findBinary('breakwater-no-such-server', 'breakwater-no-such-package'), {
    name: 'ServiceError',
    code: 'E_SERVICE_NOT_INSTALLED',
    message: 'breakwater-no-such-server not found: install it with `apt-get install breakwater-no-such-package` (npm test does this for you)',
  });
  t.type(new ServiceError('E_SERVICE_STATE', 'x'), Error);
});

// A test process that ends without stop(), or is SIGKILLed, leaves no server behind.
const redisModule = fileURLToPath(new URL('./redis.js', import.meta.url));
for (const how of ['exits without stop()', 'is SIGKILLed'] as const) {
  t.test(`no server survives a test process that ${how}`, async (t) => {
    const script =
      `import { startRedis } from ${JSON.stringify(redisModule)};\n` +
      `const r = await startRedis();\n` +
      `console.log(JSON.stringify({ pid: r.pid, dir: r.dir, port: r.port }));\n` +
      (how === 'is SIGKILLed' ? 'setInterval(() => {}, 1000);\n' : '');
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    const info = await new Promise<{ pid: number; dir: string; port: number }>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
      });
      child.once('exit', (code) => reject(new Error(`child exited (${code}) before starting redis: ${out}`)));
    });
    if (how === 'is SIGKILLed') {
      t.ok(isAlive(info.pid), 'server runs while the test process lives');
      child.kill('SIGKILL');
    }
    await waitFor('the server to die', () => !isAlive(info.pid), 10_000);
    await waitFor('the temp dir to go', () => !fs.existsSync(info.dir), 10_000);
    t.ok(await isPortFree(info.port), 'port free');
  });
}
