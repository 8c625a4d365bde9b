// The shape every protocol's probe shares: connect, send one request, read until the answer is
// judged, and give up when the check's deadline aborts.
import { connect } from 'node:net';
import type { Probe } from './check.js';

/**
 * `judge` sees everything read so far: undefined to keep reading, null for a healthy answer,
 * or an Error that says what was wrong with it.
 */
export function requestProbe(
  host: string,
  port: number,
  request: Buffer,
  judge: (received: Buffer) => Error | null | undefined,
  what: string,
): Probe {
  return (signal) =>
    new Promise<void>((resolve, reject) => {
      const s = connect({ host, port });
      let got: Buffer = Buffer.alloc(0);
      const done = (err?: Error | null): void => {
        signal.removeEventListener('abort', onAbort);
        s.destroy();
        if (err) reject(err);
        else resolve();
      };
      const onAbort = (): void => done(Object.assign(new Error('timeout'), { name: 'TimeoutError' }));
      signal.addEventListener('abort', onAbort);
      s.once('connect', () => s.write(request));
      s.on('data', (d: Buffer) => {
        got = got.length === 0 ? d : Buffer.concat([got, d]);
        let verdict: Error | null | undefined;
        try {
          verdict = judge(got);
        } catch (err) {
          verdict = err as Error;
        }
        if (verdict !== undefined) done(verdict);
      });
      s.once('error', (e) => done(e));
      s.once('close', () => done(new Error(`connection closed before ${what} was answered`)));
    });
}
