// Bench-only reference point: the naive undici forwarder, `await pool.request()` then pipe the
// body into the response (a promise and a Readable per request). Not breakwater code.
// usage: node dist/test/bench/forwarders/undici-pool.js <listen port> <upstream origin>
import http, { type OutgoingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';

const [portArg, target] = process.argv.slice(2);
if (portArg === undefined || target === undefined) {
  process.stderr.write('usage: undici-pool.js <listen port> <upstream origin>\n');
  process.exit(2);
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'host']);
function strip<T extends Record<string, unknown>>(headers: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP.has(k) && v !== undefined) out[k] = v;
  return out;
}

const pool = new Pool(target, { connections: 256, pipelining: 1, keepAliveTimeout: 4_000 });

const server = http.createServer({ keepAliveTimeout: 60_000 }, async (req, res) => {
  try {
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    const up = await pool.request({
      path: req.url ?? '/',
      method: (req.method ?? 'GET') as 'GET',
      headers: strip(req.headers) as Record<string, string>,
      body: hasBody ? req : null,
    });
    res.writeHead(up.statusCode, strip(up.headers) as OutgoingHttpHeaders);
    pipeline(up.body, res, () => undefined);
  } catch (err) {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`upstream error: ${(err as Error).message}\n`);
    } else {
      res.destroy();
    }
  }
});
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write(`undici Pool.request forwarder on 127.0.0.1:${portArg} -> ${target}\n`));
process.once('SIGTERM', () => process.exit(0));
