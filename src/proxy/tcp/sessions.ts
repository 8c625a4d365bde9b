// What the connection-per-session listeners (Redis, Bolt) share: one timer that sweeps every
// session for overdue answers (no per-request timers on the data path), and a shutdown that
// closes idle sessions at once and busy ones when their answers are in, or at the deadline.
import type { Server } from 'node:net';
import type { HealthCheck } from '../../health/check.js';

export interface DrainableSession {
  closeIfIdle(): void;
  destroy(): void;
}

/** A sweep every quarter of the timeout (10-250 ms); it does not keep the process alive. */
export function sweepEvery(timeout: number, sweep: () => void): NodeJS.Timeout {
  const timer = setInterval(sweep, Math.max(10, Math.min(250, timeout / 4)));
  timer.unref();
  return timer;
}

export async function closeSessions(server: Server, sessions: ReadonlySet<DrainableSession>, checks: readonly HealthCheck[], sweep: NodeJS.Timeout | undefined, deadline: number): Promise<void> {
  for (const c of checks) c.stop();
  clearInterval(sweep);
  const closed = new Promise<void>((r) => server.close(() => r()));
  while (sessions.size > 0 && Date.now() < deadline) {
    for (const s of sessions) s.closeIfIdle();
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const s of sessions) s.destroy();
  await closed;
}
