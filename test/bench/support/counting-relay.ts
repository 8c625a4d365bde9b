// A TCP relay in front of an upstream that notes when each HTTP request passed through it: the
// resilience bench counts the requests that reached a hung ClickHouse, whichever proxy sent them.
// It relays bytes untouched and recognises request lines at the start of a read or right after
// a blank line (GET requests without bodies, as the bench sends; a request line split across
// reads would be missed, which small GETs on loopback do not do).
import net from 'node:net';

export interface RelayedRequest {
  /** Date.now() when its bytes arrived */
  at: number;
  /** the request target, e.g. /ping or /?query=... */
  path: string;
}

export interface CountingRelay {
  port: number;
  requests: RelayedRequest[];
  close(): Promise<void>;
}

const REQUEST_LINE = /(?:^|\r\n\r\n)(?:GET|POST|HEAD) (\S+) HTTP\/1\.[01]\r\n/g;

export async function startCountingRelay(upstreamPort: number): Promise<CountingRelay> {
  const requests: RelayedRequest[] = [];
  const sockets = new Set<net.Socket>();
  // noDelay: Nagle plus delayed ACKs would add 40 ms to answers written in two pieces
  const server = net.createServer({ noDelay: true }, (client) => {
    const upstream = net.connect({ port: upstreamPort, host: '127.0.0.1', noDelay: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      const at = Date.now();
      for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) requests.push({ at, path: m[1]! });
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
