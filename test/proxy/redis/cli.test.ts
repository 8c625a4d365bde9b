// redis-cli (Debian redis-tools) as a second unmodified client, and inline commands (what telnet
// and `printf | nc` send) over a raw socket.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { withRedis, findBinary } from '../../services/index.js';
import { client, direct, RawClient, sidecar, text, TOKEN } from './helpers.js';

const redis = await withRedis(t);
const { bw, port } = await sidecar(t, redis, { timeout: '1s' });
const cliBin = findBinary('redis-cli', 'redis-tools');
const raw = direct(t, redis);

function cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cliBin, ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8', input, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

t.test('redis-cli: a few commands', async (t) => {
  t.equal(cli(['SET', 'cli:k', 'hello world']).stdout, 'OK\n');
  t.equal(cli(['GET', 'cli:k']).stdout, 'hello world\n');
  t.equal(await raw.get('cli:k'), 'hello world', 'on the real Redis');
  t.equal(cli(['--no-raw', 'GET', 'cli:nope']).stdout, '(nil)\n');
  t.equal(cli(['INCRBY', 'cli:n', '5']).stdout, '5\n');
  t.equal(cli(['RPUSH', 'cli:l', 'a', 'b', 'c']).stdout, '3\n');
  t.equal(cli(['--no-raw', 'LRANGE', 'cli:l', '0', '-1']).stdout, '1) "a"\n2) "b"\n3) "c"\n');
  t.match(cli(['--no-raw', 'LPUSH', 'cli:k', 'x']).stdout, /^\(error\) WRONGTYPE/, 'a caller error printed as Redis\'s');
  t.equal(cli(['-n', '4', 'SET', 'cli:db4', 'yes']).stdout, 'OK\n', '-n 4: SELECT 4 first');
  t.equal(await direct(t, redis, { db: 4 }).get('cli:db4'), 'yes');
  t.equal(cli(['PING']).stdout, 'PONG\n');
  t.match(cli(['INFO', 'server']).stdout, /redis_version:7\./, 'INFO from the real Redis');
  // Several commands from stdin on one connection.
  t.equal(cli([], 'SET cli:s1 one\nGET cli:s1\nDEL cli:s1\n').stdout, 'OK\none\n1\n');
});

t.test('redis-cli -3: RESP3, HGETALL returns a map', async (t) => {
  await raw.hset('cli:h', { f: 'v', g: 'w' });
  const r3 = cli(['-3', '--no-raw', 'HGETALL', 'cli:h']);
  t.equal(r3.status, 0, r3.stderr);
  t.equal(r3.stdout, '1# "f" => "v"\n2# "g" => "w"\n', 'printed as a map (RESP3 %)');
  t.equal(cli(['--no-raw', 'HGETALL', 'cli:h']).stdout, '1) "f"\n2) "v"\n3) "g"\n4) "w"\n', 'RESP2: a flat array');
  t.equal(cli(['-3', '--no-raw', 'GET', 'cli:nope']).stdout, '(nil)\n', 'RESP3 null');
  t.match(cli(['-3', '--no-raw', 'SMEMBERS', 'cli:nope']).stdout, /^\(empty (array|set)\)/);
});

t.test('redis-cli --pipe: mass insertion through breakwater', async (t) => {
  let input = '';
  for (let i = 0; i < 20_000; i++) input += `*3\r\n$3\r\nSET\r\n$${`pipe:${i}`.length}\r\npipe:${i}\r\n$${String(i).length}\r\n${i}\r\n`;
  const r = cli(['--pipe'], input);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /errors: 0, replies: 20000/);
  t.equal(await raw.get('pipe:19999'), '19999');
  t.equal(await raw.get('pipe:0'), '0');
});

t.test('redis-cli SUBSCRIBE receives a message published through breakwater', async (t) => {
  const sub = spawn(cliBin, ['-h', '127.0.0.1', '-p', String(port), 'SUBSCRIBE', 'cli:ch'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => sub.kill('SIGKILL'));
  let out = '';
  sub.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  await bw.waitFor(() => out.includes('cli:ch'), 'the subscription', 10_000);
  const pub = await client(t, port);
  t.equal(await pub.publish('cli:ch', 'from-ioredis'), 1);
  await bw.waitFor(() => out.includes('from-ioredis'), 'the message', 10_000);
  t.match(out, /message\ncli:ch\nfrom-ioredis\n/);
});

t.test('inline commands over a raw socket (telnet style)', async (t) => {
  const c = await RawClient.open(t, port);
  c.write('PING\r\n');
  t.same(await c.read(1), ['PONG']);
  c.write('SET inline:k "hello world"\r\nGET inline:k\r\n');
  t.same(text(await c.read(2)), ['OK', 'hello world'], 'quoted argument kept whole; two inline commands in one write');
  t.equal(await raw.get('inline:k'), 'hello world');
  c.write('  SET   inline:n   41  \n'); // bare LF and extra blanks, as Redis accepts
  c.write('INCR inline:n\r\n');
  t.same(text(await c.read(2)), ['OK', 42]);
  // Inline and multibulk mixed in one write, split at awkward places.
  const mixed = Buffer.from('GET inline:k\r\n*2\r\n$3\r\nGET\r\n$8\r\ninline:n\r\nEXISTS inline:k inline:n nope\r\n');
  for (let i = 0; i < mixed.length; i += 5) c.write(mixed.subarray(i, i + 5));
  t.same(text(await c.read(3)), ['hello world', '42', 2]);
  c.write('\r\n\r\nPING\r\n'); // empty lines are ignored, as by Redis
  t.same(await c.read(1), ['PONG']);
  c.write("SET inline:q 'single quoted'\r\nGET inline:q\r\n");
  t.same(text(await c.read(2)), ['OK', 'single quoted']);
  // Unbalanced quotes: a protocol error in Redis's terms, and the connection closes.
  c.write('SET inline:bad "oops\r\n');
  t.match((await c.read(1))[0], { error: /Protocol error: unbalanced quotes/ });
  t.ok(await c.waitClosed(5000));
  // While the breaker is open an inline GET still gets its miss.
  t.equal((await bw.post('/breakers/redis/force-open', TOKEN)).status, 200);
  const c2 = await RawClient.open(t, port);
  c2.write('GET inline:k\r\nSET inline:k x\r\n');
  const [miss, err] = await c2.read(2);
  t.equal(miss, null, 'inline GET → miss');
  t.match(err, { error: /forced open/ });
  t.equal((await bw.post('/breakers/redis/reset', TOKEN)).status, 200);
});
