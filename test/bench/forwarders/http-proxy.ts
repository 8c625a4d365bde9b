// Bench-only reference point: an http-proxy (1.18.1) forwarder with a keep-alive http.Agent,
// the way many Node sidecars are written. Not breakwater code.
// usage: node dist/test/bench/forwarders/http-proxy.js <listen port> <upstream origin>
import http from 'node:http';
import httpProxy from 'http-proxy';

const [portArg, target] = process.argv.slice(2);
if (portArg === undefined || target === undefined) {
  process.stderr.write('usage: http-proxy.js <listen port> <upstream origin>\n');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });
const proxy = httpProxy.createProxyServer({ target, agent });
proxy.on('error', (err, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`upstream error: ${err.message}\n`);
  } else {
    res.destroy();
  }
});

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => proxy.web(req, res));
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write(`http-proxy forwarder on 127.0.0.1:${portArg} -> ${target}\n`));
process.once('SIGTERM', () => process.exit(0));
