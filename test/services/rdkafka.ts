// A recent librdkafka for tests, through the Python confluent-kafka package
// (its manylinux wheel bundles librdkafka): unlike Debian's kcat (librdkafka
// 2.0.2: Metadata v4, Produce v7, Fetch v11) it negotiates FLEXIBLE protocol
// versions. test/services/rdkafka-install.sh (run by test/run.sh, npm test)
// puts it in a venv outside the repo; test/proxy/kafka/rdkafka_client.py is
// the client script runRdkafka() runs with that venv's python.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServiceError } from './process.js';
import { runTool, type RunToolResult } from './run-tool.js';

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

export interface RdkafkaResult extends RunToolResult {
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
  return runTool('rdkafka_client.py', python, ['-u', RDKAFKA_CLIENT_SCRIPT, ...args], args, {
    input: opts.input,
    timeoutMs,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    stderrTailLines: 25,
  }).then((run) => {
    let json: any;
    const last = run.stdout.trimEnd().split('\n').pop();
    if (last) {
      try {
        json = JSON.parse(last);
      } catch {
        json = undefined;
      }
    }
    return { ...run, json };
  });
}
