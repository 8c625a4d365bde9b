// The benchmark's upstream and reference proxies, each on a free port with its own temp
// config: nginx serving a 1 KiB file, nginx as a keep-alive reverse proxy, HAProxy, and the
// bench-only Node forwarders (http-proxy, naive undici Pool.request).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../services/ports.js';
import { httpOk, startProcess, tcpOk, waitUntil, type Proc } from './procs.js';

export interface Server {
  name: string;
  port: number;
  /** http://127.0.0.1:<port> */
  origin: string;
  proc: Proc;
}

const STATIC_BODY = Buffer.alloc(1024, 'x');
export const STATIC_PATH = '/1k';

// Keep-alive connections are never closed for their request count during a run
// (nginx closes after 1000 requests by default), so every target sees the same
// long-lived connections.
const KEEPALIVE_REQUESTS = 10_000_000;

function nginxConf(dir: string, body: string): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  keepalive_requests ${KEEPALIVE_REQUESTS};
  keepalive_timeout 60s;
${body}
}
`;
}

async function startNginx(nginx: string, name: string, dir: string, body: (port: number) => string, readyPath: string, cpus: string | undefined): Promise<Server> {
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConf(dir, body(port)));
  const proc = startProcess(name, [nginx, '-p', dir, '-e', path.join(dir, 'error.log'), '-c', conf], { cpus });
  const origin = `http://127.0.0.1:${port}`;
  await waitUntil(() => httpOk(origin + readyPath), `${name} on ${origin}${readyPath}`, { timeoutMs: 15_000 }).catch((err: Error) => {
    let log = '';
    try {
      log = fs.readFileSync(path.join(dir, 'error.log'), 'utf8').slice(-1500);
    } catch {
      // none
    }
    throw new Error(`${err.message}\nnginx output: ${proc.output().slice(-1000)}\nerror.log: ${log}`);
  });
  return { name, port, origin, proc };
}

/** nginx serving a fixed 1 KiB file at /1k (worker_processes 1, access_log off). */
export function startNginxStatic(nginx: string, dir: string, cpus: string | undefined): Promise<Server> {
  const www = path.join(dir, 'www');
  fs.mkdirSync(www, { recursive: true });
  fs.writeFileSync(path.join(www, '1k'), STATIC_BODY);
  return startNginx(
    nginx,
    'nginx-static',
    dir,
    (port) => `  server {
    listen 127.0.0.1:${port};
    location = ${STATIC_PATH} { root ${www}; default_type application/octet-stream; }
  }`,
    STATIC_PATH,
    cpus,
  );
}

/**
 * The http block of nginx as a keep-alive reverse proxy to upstreamPort: `server` adds parameters
 * to the upstream's server line, `before` directives before the upstream, `location` directives
 * inside `location /`.
 */
function reverseProxy(port: number, upstreamPort: number, extra: { server?: string; before?: string; location?: string[] } = {}): string {
  return `${extra.before ? `  ${extra.before}\n` : ''}  upstream up {
    server 127.0.0.1:${upstreamPort}${extra.server ? ` ${extra.server}` : ''};
    keepalive 64;
    keepalive_requests ${KEEPALIVE_REQUESTS};
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
${(extra.location ?? []).map((d) => `      ${d};\n`).join('')}    }
  }`;
}

/** nginx as a keep-alive reverse proxy to `upstreamPort` (worker_processes 1, keepalive 64). */
export function startNginxProxy(nginx: string, name: string, dir: string, upstreamPort: number, readyPath: string, cpus: string | undefined): Promise<Server> {
  return startNginx(nginx, name, dir, (port) => reverseProxy(port, upstreamPort), readyPath, cpus);
}

/**
 * nginx as a caching reverse proxy set up to ride out a hung upstream as well as nginx can:
 * answers cached for 1 s (micro-caching) and refreshed in the background, a stale answer served
 * while refreshing and when the upstream errs or times out (proxy_cache_use_stale), the
 * upstream given up after 1 s, and max_fails/fail_timeout on the server (which nginx ignores
 * when a group has a single server, as here: there is no other server to fail over to).
 * X-Cache-Status says whether an answer was fresh (MISS, EXPIRED, HIT) or not (STALE, UPDATING).
 */
export function startNginxStaleCache(nginx: string, dir: string, upstreamPort: number, readyPath: string): Promise<Server> {
  fs.mkdirSync(path.join(dir, 'cache'), { recursive: true, mode: 0o777 });
  return startNginx(
    nginx,
    'nginx-stale-cache',
    dir,
    (port) =>
      reverseProxy(port, upstreamPort, {
        before: `proxy_cache_path ${dir}/cache levels=1:2 keys_zone=ch:10m max_size=100m inactive=10m use_temp_path=off;`,
        server: 'max_fails=1 fail_timeout=10s',
        location: [
          'proxy_connect_timeout 1s',
          'proxy_send_timeout 1s',
          'proxy_read_timeout 1s',
          'proxy_next_upstream error timeout',
          'proxy_cache ch',
          'proxy_cache_key $request_uri',
          'proxy_cache_valid 200 1s',
          'proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504',
          'proxy_cache_background_update on',
          'proxy_cache_lock on',
          'proxy_cache_lock_timeout 1s',
          'add_header X-Cache-Status $upstream_cache_status always',
        ],
      }),
    readyPath,
    undefined,
  );
}

/**
 * HAProxy 2.x, one thread. `http`: mode http with server-side connection reuse always, ready when
 * readyPath answers 200. `tcp`: mode tcp (bytes relayed, one upstream connection per client
 * connection, nothing parsed), ready when it accepts a connection.
 */
export async function startHaproxy(
  haproxy: string,
  dir: string,
  upstreamPort: number,
  ready: { http: string } | 'tcp',
  cpus: string | undefined,
): Promise<Server> {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const conf = path.join(dir, 'haproxy.cfg');
  const http = ready !== 'tcp';
  fs.writeFileSync(
    conf,
    `global
  nbthread 1
  maxconn 4096
defaults
  mode ${http ? 'http' : 'tcp'}
  timeout connect 5s
  timeout client 60s
  timeout server 60s
${http ? '  timeout http-keep-alive 60s\n  http-reuse always\n' : ''}frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server s1 127.0.0.1:${upstreamPort} maxconn 256
`,
  );
  // -db: foreground, no daemon, no master-worker
  const proc = startProcess('haproxy', [haproxy, '-db', '-f', conf], { cpus });
  const origin = `http://127.0.0.1:${port}`;
  await waitUntil(() => (http ? httpOk(origin + ready.http) : tcpOk(port)), `haproxy on ${origin}`, { proc, timeoutMs: 15_000 });
  return { name: 'haproxy', port, origin, proc };
}

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** A bench-only Node forwarder from test/bench/forwarders/ (compiled), listening on a free port. */
export async function startNodeForwarder(
  which: 'http-proxy' | 'undici-pool' | 'tcp-pipe',
  upstream: string,
  ready: { http: string } | 'tcp',
  cpus: string | undefined,
): Promise<Server> {
  const script = path.resolve(HERE, '..', 'forwarders', `${which}.js`);
  const port = await freePort();
  const proc = startProcess(which, [process.execPath, script, String(port), upstream], { cpus });
  const origin = `http://127.0.0.1:${port}`;
  await waitUntil(() => (ready === 'tcp' ? tcpOk(port) : httpOk(origin + ready.http)), `${which} on ${origin}`, { proc, timeoutMs: 15_000 });
  return { name: which, port, origin, proc };
}
