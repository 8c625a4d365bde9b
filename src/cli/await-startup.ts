// `breakwater await-startup`: wait until a sidecar's startup gate passed (GET /startupz is 200).
// Kubernetes runs it as the postStart hook of a plain (non-native) sidecar container: the
// kubelet starts the next container only when the hook returns, so the application starts after
// breakwater is serving, as a native sidecar's startup probe would ensure.
import { request } from 'node:http';

export interface AwaitStartupOptions {
  /** The admin server, host:port. */
  admin: string;
  timeoutMs: number;
  intervalMs?: number;
}

/** Resolves with '' once /startupz is 200, or with what is wrong when timeoutMs passed. */
export async function awaitStartup(opts: AwaitStartupOptions): Promise<string> {
  const deadline = Date.now() + opts.timeoutMs;
  const url = `http://${opts.admin}/startupz`;
  let last = 'no answer yet';
  const interval = opts.intervalMs ?? 500;
  for (;;) {
    const answer = await probe(url, Math.min(2000, Math.max(100, deadline - Date.now())));
    if (answer.status === 200) return '';
    last = answer.status === 0 ? answer.body : `${answer.status} ${answer.body}`;
    const left = deadline - Date.now();
    if (left <= 0) return `the startup gate at ${url} did not pass within ${opts.timeoutMs} ms; last answer: ${last}`;
    await new Promise((r) => setTimeout(r, Math.min(interval, left)));
  }
}

function probe(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 2000) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
      res.on('error', (e) => resolve({ status: 0, body: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.end();
  });
}
