// The admin server, on its own port: probes, status, metrics and token-protected breaker control.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { Dependency } from '../dependency/dependency.js';
import type { Metrics } from '../metrics/metrics.js';

export interface AdminState {
  dependencies: ReadonlyMap<string, Dependency>;
  metrics: Metrics;
  token: string;
  /** The startup gate passed (or gave up with onTimeout: serve-unready). */
  started(): boolean;
  startupStatus(): Record<string, unknown>;
  /** Ready: started, and every required dependency ready. */
  ready(): { ready: boolean; reasons: string[] };
  /** The CDC consumer, when configured: `/status` shows it as `cdc`. */
  cdcStatus?: () => unknown;
  /** The response cache, when the sidecar has one: `/status` shows it as `cache`. */
  cacheStatus?: () => unknown;
}

const BREAKER_ACTIONS = new Set(['force-open', 'disable', 'reset', 'trip']);

export function createAdminServer(state: AdminState): Server {
  return createServer({ requestTimeout: 10_000 }, (req, res) => {
    route(state, req, res).catch((err: unknown) => json(res, 500, { error: `admin: ${(err as Error).message}` }));
  });
}

async function route(state: AdminState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]!;
  if (req.method === 'GET' || req.method === 'HEAD') {
    switch (path) {
      case '/livez':
        return json(res, 200, { live: true });
      case '/readyz': {
        const r = state.ready();
        state.metrics.ready.set(r.ready ? 1 : 0);
        return json(res, r.ready ? 200 : 503, r);
      }
      case '/startupz': {
        const started = state.started();
        return json(res, started ? 200 : 503, { started, ...state.startupStatus() });
      }
      case '/status': {
        const r = state.ready();
        const deps: Record<string, unknown> = {};
        for (const [name, d] of state.dependencies) deps[name] = d.status();
        return json(res, 200, {
          ready: r.ready,
          reasons: r.reasons,
          startup: { started: state.started(), ...state.startupStatus() },
          dependencies: deps,
          ...(state.cdcStatus ? { cdc: state.cdcStatus() } : {}),
          ...(state.cacheStatus ? { cache: state.cacheStatus() } : {}),
        });
      }
      case '/metrics': {
        state.metrics.ready.set(state.ready().ready ? 1 : 0);
        const body = await state.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': state.metrics.registry.contentType });
        res.end(body);
        return;
      }
    }
  }
  const m = /^\/breakers\/([^/]+)\/([a-z-]+)$/.exec(path);
  if (m && req.method === 'POST') return breakerControl(state, req, res, decodeURIComponent(m[1]!), m[2]!);
  json(res, 404, {
    error: `no such admin endpoint: ${req.method} ${path}`,
    endpoints: ['GET /livez', 'GET /readyz', 'GET /startupz', 'GET /status', 'GET /metrics', 'POST /breakers/{dependency}/{force-open|disable|reset|trip}'],
  });
}

function breakerControl(state: AdminState, req: IncomingMessage, res: ServerResponse, name: string, action: string): void {
  req.resume();
  if (state.token === '') {
    return json(res, 403, { error: 'breaker control is disabled: set admin.token (e.g. BREAKWATER_ADMIN_TOKEN) to enable it' });
  }
  if (!tokenMatches(req.headers.authorization, state.token)) {
    return json(res, 401, { error: 'breaker control needs the header Authorization: Bearer <admin.token>' });
  }
  const dep = state.dependencies.get(name);
  if (!dep) return json(res, 404, { error: `no dependency named "${name}" (known: ${[...state.dependencies.keys()].join(', ')})` });
  if (!BREAKER_ACTIONS.has(action)) return json(res, 404, { error: `unknown breaker action "${action}": use force-open, disable, reset or trip` });
  const reason = `admin API: ${action}`;
  const from = dep.breaker.state;
  if (action === 'force-open') dep.breaker.forceOpen(reason);
  else if (action === 'disable') dep.breaker.disable(reason);
  else if (action === 'reset') dep.breaker.reset(reason);
  else dep.breaker.trip(reason);
  json(res, 200, { dependency: name, from, to: dep.breaker.state });
}

function tokenMatches(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  const given = Buffer.from(header.slice(7));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
