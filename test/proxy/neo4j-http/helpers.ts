// Shared by the Neo4j HTTP proxy tests: raw requests to the HTTP API (node:http, so that
// nothing is added to or taken from what is sent and received), and a sidecar config.
import { request, type IncomingHttpHeaders } from 'node:http';
import { freePort, NEO4J_PASSWORD, NEO4J_USER } from '../../services/index.js';
import { startBreakwater, type Breakwater, type TeardownHost } from '../../support/breakwater.js';

export const AUTH = `Basic ${Buffer.from(`${NEO4J_USER}:${NEO4J_PASSWORD}`).toString('base64')}`;

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
  ms: number;
}

export interface Req {
  method?: string;
  path?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  chunked?: boolean;
  timeoutMs?: number;
}

export function send(base: string, r: Req): Promise<Answer> {
  const u = new URL(base);
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: AUTH, 'content-type': 'application/json', accept: 'application/json', ...r.headers };
    const body = r.body === undefined ? undefined : Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
    if (body !== undefined && !r.chunked) headers['content-length'] = String(body.length);
    if (r.chunked) headers['transfer-encoding'] = 'chunked';
    const req = request({ host: u.hostname, port: u.port, method: r.method ?? 'POST', path: r.path ?? '/db/neo4j/tx/commit', headers, timeout: r.timeoutMs ?? 15_000 }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json: any;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json, ms: performance.now() - start });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('test request timed out')));
    req.on('error', reject);
    if (body !== undefined) {
      if (r.chunked) {
        // Several chunks, to exercise the relay's decoding.
        const step = Math.max(1, Math.ceil(body.length / 3));
        for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
      } else req.write(body);
    }
    req.end();
  });
}

export interface Statement {
  statement: string;
  parameters?: Record<string, unknown>;
  includeStats?: boolean;
}

/** POST /db/<db>/tx/commit with these statements. */
export function commit(base: string, statements: Statement[], r: Omit<Req, 'body'> = {}): Promise<Answer> {
  return send(base, { ...r, body: JSON.stringify({ statements }) });
}

export interface SidecarOptions {
  upstream: string;
  fallback?: string;
  timeout?: string;
  breaker?: string;
  health?: string;
  cacheRedis?: string;
  required?: boolean;
}

export async function sidecar(t: TeardownHost, o: SidecarOptions): Promise<{ bw: Breakwater; url: string }> {
  const port = await freePort();
  const bw = await startBreakwater(
    t,
    `admin: { listen: "{{ADMIN}}" }
log: { level: info }
${o.cacheRedis ? `cache: { redis: ${o.cacheRedis}, ttl: 10m, timeout: 100ms }` : ''}
dependencies:
  neo4j:
    protocol: neo4j-http
    listen: 127.0.0.1:${port}
    upstream: ${o.upstream}
    timeout: ${o.timeout ?? '5s'}
    required: ${o.required ?? true}
    breaker: ${o.breaker ?? '{ failures: 3, openFor: 2s, halfOpenSuccesses: 1 }'}
    health: ${o.health ?? '{ interval: 500ms, timeout: 400ms, unhealthyThreshold: 1000 }'}
    fallback: ${o.fallback ?? '[]'}
`,
  );
  return { bw, url: `http://127.0.0.1:${port}` };
}

export const metricOf = (bw: Breakwater, series: string): Promise<number> =>
  bw.metric(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} `)).then((v) => v ?? 0);

export const depStatus = async (bw: Breakwater): Promise<any> => (await bw.get('/status')).body.dependencies.neo4j;

/** A body without what differs between two runs of the same read (the bookmark). */
export function comparable(json: any): any {
  if (json === undefined || json === null) return json;
  const { lastBookmarks: _b, ...rest } = json;
  return rest;
}
