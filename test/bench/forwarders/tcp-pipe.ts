// Bench-only reference point: the floor for any Node proxy on this machine. Each client
// connection gets its own upstream connection and bytes are piped both ways with no HTTP
// parsing at all (no breaker, no classification, no pooling; any protocol: HTTP, Bolt). Not breakwater code.
// usage: node dist/test/bench/forwarders/tcp-pipe.js <listen port> <upstream origin>
import net from 'node:net';

const [portArg, target] = process.argv.slice(2);
if (portArg === undefined || target === undefined) {
  process.stderr.write('usage: tcp-pipe.js <listen port> <upstream origin>\n');
  process.exit(2);
}
const up = new URL(target);

const server = net.createServer({ noDelay: true }, (client) => {
  const upstream = net.connect({ host: up.hostname, port: Number(up.port), noDelay: true });
  client.pipe(upstream);
  upstream.pipe(client);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close).on('close', close);
  upstream.on('error', close).on('close', close);
});
server.listen(Number(portArg), '127.0.0.1', () => process.stdout.write(`tcp pipe on 127.0.0.1:${portArg} -> ${target}\n`));
process.once('SIGTERM', () => process.exit(0));
