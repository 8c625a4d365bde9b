// kcat (formerly kafkacat), the librdkafka command-line client, for tests that
// want a second, non-kafkajs Kafka client (librdkafka negotiates the newest
// api versions, flexible ones included). Debian package `kcat`; test/run.sh
// (npm test) installs it.
import { spawn } from 'node:child_process';
import { ServiceError, findBinary } from './process.js';

/** Absolute path of kcat: $BREAKWATER_KCAT, else PATH; throws E_SERVICE_NOT_INSTALLED with the apt-get command. */
export function findKcat(): string {
  return findBinary('kcat', 'kcat', 'BREAKWATER_KCAT');
}

export interface KcatOptions {
  /** Written to kcat's stdin, which is then closed (producer mode: one message per line). */
  input?: string | Buffer;
  /** Killed (SIGKILL) after this long and the promise rejects; default 30 s. */
  timeoutMs?: number;
}

export interface KcatResult {
  stdout: string;
  stderr: string;
  /** Exit code; null when it died of a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Runs `kcat ...args` and resolves with its output and exit code (a non-zero
 * exit resolves too: check `code`). Rejects with E_SERVICE_NOT_INSTALLED when
 * kcat is missing and E_SERVICE_QUERY when it outlives timeoutMs.
 */
export function kcat(args: string[], opts: KcatOptions = {}): Promise<KcatResult> {
  const bin = findKcat();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new ServiceError('E_SERVICE_QUERY', `kcat failed to spawn (${bin}): ${e.message}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) {
        const tail = stderr.trimEnd().split('\n').slice(-15).join('\n');
        reject(
          new ServiceError(
            'E_SERVICE_QUERY',
            `kcat ${args.join(' ')} did not finish within ${timeoutMs} ms (killed)\n--- last lines of its stderr ---\n${tail}`,
          ),
        );
        return;
      }
      resolve({ stdout, stderr, code, signal });
    });
    child.stdin.on('error', () => {
      // kcat exited before reading all input: its exit code and stderr say why
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}
