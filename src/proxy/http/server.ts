// The HTTP server side of an HTTP listener: settings fit for a proxy (no overall request
// deadline, so a multi-GB INSERT may take its time), malformed requests answered and counted,
// and a graceful close that drains in-flight requests.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export const MAX_HEADER_BYTES = 64 * 1024;

export interface HttpListenerOptions {
  host: string;
  port: number;
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** A client sent bytes that are not HTTP, or timed out sending its headers. */
  onClientError: (code: string) => void;
}

export function createHttpServer(opts: HttpListenerOptions): Server {
  const server = createServer(
    {
      requestTimeout: 0,
      headersTimeout: 60_000,
      keepAliveTimeout: 30_000,
      maxHeaderSize: MAX_HEADER_BYTES,
      noDelay: true,
    },
    opts.handle,
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? 'ERR_UNKNOWN';
    opts.onClientError(code);
    if (socket.writable && code !== 'ECONNRESET') {
      const tooLarge = code === 'HPE_HEADER_OVERFLOW';
      const body = JSON.stringify({
        error: tooLarge
          ? `breakwater: request headers larger than ${MAX_HEADER_BYTES} bytes`
          : `breakwater: malformed HTTP request (${code}): ${err.message}`,
      });
      const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(
        `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    } else {
      socket.destroy();
    }
  });
  return server;
}

export function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Stops accepting, lets in-flight requests finish until the deadline, then cuts what is left. */
export async function closeGracefully(server: Server, inFlight: () => number, deadline: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  while (inFlight() > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    server.closeIdleConnections();
  }
  server.closeAllConnections();
  await closed;
}

export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  let host = listen.slice(0, i);
  if (host.startsWith('[')) host = host.slice(1, -1);
  return { host, port: Number(listen.slice(i + 1)) };
}
