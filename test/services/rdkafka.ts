// A recent librdkafka for tests, through the Python confluent-kafka package
// (its manylinux wheel bundles librdkafka): unlike Debian's kcat (librdkafka
// 2.0.2: Metadata v4, Produce v7, Fetch v11) it negotiates FLEXIBLE protocol
// versions. test/services/rdkafka-install.sh (run by test/run.sh, npm test)
// puts it in a venv outside the repo; test/proxy/kafka/rdkafka_client.py is
// the client script runRdkafka() runs with that venv's python.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceError } from './process.js';

/** Keep in step with CONFLUENT_KAFKA_VERSION in test/services/rdkafka-install.sh. */
export const CONFLUENT_KAFKA_VERSION = '2.16.1';

const INSTALL_COMMAND = 'bash test/services/rdkafka-install.sh';

/** The client script, in the source tree (tsc does not copy .py files into dist/). */
export const RDKAFKA_CLIENT_SCRIPT = fileURLToPath(new URL('../../../test/proxy/kafka/rdkafka_client.py', import.meta.url));

/** The venv rdkafka-install.sh makes: $BREAKWATER_RDKAFKA_VENV, else ${XDG_CACHE_HOME:-~/.cache}/breakwater/rdkafka-venv-<version>. */
export function rdkafkaVenv(): string {
  if (process.env.BREAKWATER_RDKAFKA_VENV) return process.env.BREAKWATER_RDKAFKA_VENV;
  const cache = process.env.XDG_CACHE_HOME || path.join(process.env.HOME || os.homedir(), '.cache');
  return path.join(cache, 'breakwater', `rdkafka-venv-${CONFLUENT_KAFKA_VERSION}`);
}

/**
 * Absolute path of the venv python with confluent_kafka installed; throws
 * E_SERVICE_NOT_INSTALLED with the install command when the venv is missing or
 * incomplete (tests never skip silently).
 */
export function findRdkafkaPython(): string {
  const venv = rdkafkaVenv();
  const python = path.join(venv, 'bin', 'python');
  const marker = path.join(venv, '.installed');
  let ok = false;
  try {
    fs.accessSync(python, fs.constants.X_OK);
    ok = fs.statSync(marker).isFile();
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new ServiceError(
      'E_SERVICE_NOT_INSTALLED',
      `confluent-kafka ${CONFLUENT_KAFKA_VERSION} (librdkafka) not installed in ${venv}: run \`${INSTALL_COMMAND}\` ` +
        `(needs python3 with venv and access to PyPI; npm test does this for you)`,
    );
  }
  return python;
}

export interface RdkafkaOptions {
  /** Killed (SIGKILL) after this long and the promise rejects; default 60 s. */
  timeoutMs?: number;
  /** Written to the script's stdin, which is then closed. */
  input?: string | Buffer;
}

export interface RdkafkaResult {
  stdout: string;
  stderr: string;
  /** Exit code; null when it died of a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The JSON object on the last line of stdout, or undefined when there is none. */
  json: any;
}

/**
 * Runs `<venv python> test/proxy/kafka/rdkafka_client.py ...args` and resolves
 * with its output, exit code and parsed JSON result (a non-zero exit resolves
 * too: check `code`). Rejects with E_SERVICE_NOT_INSTALLED when the venv is
 * missing and E_SERVICE_QUERY when the script outlives timeoutMs.
 */
export function runRdkafka(args: string[], opts: RdkafkaOptions = {}): Promise<RdkafkaResult> {
  const python = findRdkafkaPython();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(python, ['-u', RDKAFKA_CLIENT_SCRIPT, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
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
      reject(new ServiceError('E_SERVICE_QUERY', `rdkafka_client.py failed to spawn (${python}): ${e.message}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) {
        const tail = stderr.trimEnd().split('\n').slice(-25).join('\n');
        reject(
          new ServiceError(
            'E_SERVICE_QUERY',
            `rdkafka_client.py ${args.join(' ')} did not finish within ${timeoutMs} ms (killed)\n--- last lines of its stderr ---\n${tail}`,
          ),
        );
        return;
      }
      let json: any;
      const last = stdout.trimEnd().split('\n').pop();
      if (last) {
        try {
          json = JSON.parse(last);
        } catch {
          json = undefined;
        }
      }
      resolve({ stdout, stderr, code, signal, json });
    });
    child.stdin.on('error', () => {
      // the script exited before reading all input: its exit code and stderr say why
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}
