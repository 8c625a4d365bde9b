#!/usr/bin/env node
// breakwater start|check-config --config <file> [--env <name>]; breakwater await-startup
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { ConfigError } from '../config/errors.js';
import { parseDuration } from '../config/duration.js';
import { awaitStartup } from './await-startup.js';
import { loadConfig } from '../config/load.js';
import { startSidecar } from '../sidecar.js';

const USAGE = `usage:
  breakwater start --config <file> [--env <name>]
  breakwater check-config --config <file> [--env <name>]
  breakwater await-startup [--admin <host:port>] [--timeout <duration>]

  --config, -c  base YAML file (default: config/default.yaml)
  --env, -e     overlay <dir of config>/<name>.yaml over the base (default: $BREAKWATER_ENV)
  --admin       await-startup: the admin server to ask for /startupz (default: 127.0.0.1:9901)
  --timeout     await-startup: give up (exit 1) after this long (default: 120s)`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c', default: 'config/default.yaml' },
        env: { type: 'string', short: 'e' },
        admin: { type: 'string', default: '127.0.0.1:9901' },
        timeout: { type: 'string', default: '120s' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    process.stderr.write(`breakwater: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  if (rest.length > 0 || (command !== 'start' && command !== 'check-config' && command !== 'await-startup')) {
    process.stderr.write(`breakwater: unknown command "${parsed.positionals.join(' ')}"\n${USAGE}\n`);
    return 2;
  }
  if (command === 'await-startup') {
    const timeoutMs = parseDuration(parsed.values.timeout!);
    if (timeoutMs === undefined) {
      process.stderr.write(`breakwater: --timeout expects a duration such as 500ms, 30s or 2m, found "${parsed.values.timeout}"\n`);
      return 2;
    }
    const problem = await awaitStartup({ admin: parsed.values.admin!, timeoutMs });
    if (problem === '') return 0;
    process.stderr.write(`breakwater: ${problem}\n`);
    return 1;
  }

  let loaded;
  try {
    loaded = loadConfig({ file: parsed.values.config!, env: parsed.values.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`breakwater: ${err.message}\n`);
      return 1;
    }
    throw err;
  }

  if (command === 'check-config') {
    process.stdout.write(
      `# effective configuration from ${loaded.files.join(' + ')}\n# durations are in milliseconds\n${stringify(loaded.config)}`,
    );
    return 0;
  }
  const sidecar = await startSidecar(loaded);
  return sidecar.closed;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`breakwater: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
