// Free TCP ports on the loopback interface for test servers.
import fs from 'node:fs';
import net from 'node:net';

function listenEphemeral(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => resolve(server));
  });
}

function portOf(server: net.Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') {
    throw new Error('freePort: the probe socket has no TCP address');
  }
  return address.port;
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The kernel's range for outgoing connections' source ports (ip_local_port_range). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(lo) && Number.isInteger(hi)) return [lo as number, hi as number];
  } catch {
    // not Linux
  }
  return [32768, 60999];
}

/** A port on 127.0.0.1 that was free a moment ago, outside the ephemeral range. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port as number;
}

/**
 * `count` distinct free ports OUTSIDE the ephemeral range. A port from bind-to-0 is an
 * ephemeral one: while a server is down (kill() then restart()), any outgoing connection on
 * the machine may get it as its source port and the restart fails with "Address already in
 * use". Seen here under load, with thousands of connections in TIME-WAIT.
 */
export async function freePorts(count: number): Promise<number[]> {
  const [lo, hi] = ephemeralRange();
  let range: [number, number] | undefined;
  if (lo - 1 - 20_000 >= 1_000) range = [20_000, lo - 1];
  else if (65_535 - (hi + 1) >= 1_000) range = [hi + 1, 65_535];
  if (range) {
    const [from, to] = range;
    const ports: number[] = [];
    for (let tries = 0; ports.length < count && tries < 500; tries++) {
      const port = from + Math.floor(Math.random() * (to - from + 1));
      if (!ports.includes(port) && (await isPortFree(port))) ports.push(port);
    }
    if (ports.length === count) return ports;
  }
  return ephemeralPorts(count);
}

/** Fallback: ports the kernel hands out for bind-to-0, all held until every one is known. */
async function ephemeralPorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenEphemeral());
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** True when nothing accepts connections on 127.0.0.1:port right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
