// Running a client program for a test (kcat, the librdkafka Python script): its stdin fed and
// closed, stdout and stderr collected, killed after a timeout.
import { spawn } from 'node:child_process';
import { ServiceError } from './process.js';

export interface RunToolOptions {
  /** Written to the program's stdin, which is then closed. */
  input?: string | Buffer;
  /** Killed (SIGKILL) after this long and the promise rejects. */
  timeoutMs: number;
  /** The child's environment; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** How many of stderr's last lines a timeout's error quotes. */
  stderrTailLines: number;
}

export interface RunToolResult {
  stdout: string;
  stderr: string;
  /** Exit code; null when it died of a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Runs `bin ...spawnArgs` and resolves with its output and exit code (a non-zero exit resolves
 * too: check `code`). Rejects with E_SERVICE_QUERY when it cannot be spawned or outlives
 * timeoutMs; errors name it as `name ...args`.
 */
export function runTool(name: string, bin: string, spawnArgs: string[], args: string[], opts: RunToolOptions): Promise<RunToolResult> {
  const { timeoutMs } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, spawnArgs, { stdio: ['pipe', 'pipe', 'pipe'], ...(opts.env ? { env: opts.env } : {}) });
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
      reject(new ServiceError('E_SERVICE_QUERY', `${name} failed to spawn (${bin}): ${e.message}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) {
        const tail = stderr.trimEnd().split('\n').slice(-opts.stderrTailLines).join('\n');
        reject(
          new ServiceError(
            'E_SERVICE_QUERY',
            `${name} ${args.join(' ')} did not finish within ${timeoutMs} ms (killed)\n--- last lines of its stderr ---\n${tail}`,
          ),
        );
        return;
      }
      resolve({ stdout, stderr, code, signal });
    });
    child.stdin.on('error', () => {
      // the program exited before reading all input: its exit code and stderr say why
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}
