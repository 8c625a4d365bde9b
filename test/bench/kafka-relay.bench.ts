// How much of the Kafka consume gap is breakwater's, and how much any Node.js relay pays: kafkajs
// consumes 50,000 × 1 KiB with a fresh group three ways, in rotating order: straight from Kafka,
// through a bare `socket.pipe()` relay (Kafka advertises the relay's port on a second listener,
// so no rewriting is needed), and through breakwater. Prints msg/s per round and median ratios.
//   npm run bench:kafka-relay
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePorts, startKafka } from '../services/index.js';
import { saveResults } from './support/results.js';
import { CLI } from './support/sidecar.js';

const MESSAGES = 50_000;
const ROUNDS = 6;

const startedAt = new Date().toISOString();
const [kafkaPort, controllerPort, relayPort, externalPort, bwPort, adminPort] = await freePorts(6);
const k = await startKafka({
  port: kafkaPort,
  controllerPort,
  properties: {
    listeners: `PLAINTEXT://127.0.0.1:${kafkaPort},CONTROLLER://127.0.0.1:${controllerPort},EXTERNAL://127.0.0.1:${externalPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${kafkaPort},EXTERNAL://127.0.0.1:${relayPort}`,
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT',
  },
});
const relay = net.createServer({ noDelay: true }, (c) => {
  const u = net.connect({ host: '127.0.0.1', port: externalPort!, noDelay: true });
  c.pipe(u);
  u.pipe(c);
  c.on('error', () => u.destroy());
  u.on('error', () => c.destroy());
});
await new Promise<void>((r) => relay.listen(relayPort, '127.0.0.1', r));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bw-kafka-relay-'));
const config = path.join(dir, 'breakwater.yaml');
fs.writeFileSync(
  config,
  `admin: { listen: 127.0.0.1:${adminPort} }\nlog: { level: warn }\nspool: { dir: ${dir}/spool }\ndependencies:\n  kafka:\n    protocol: kafka\n    listen: 127.0.0.1:${bwPort}\n    upstream: [127.0.0.1:${kafkaPort}]\n`,
);
const bw = spawn(process.execPath, [CLI, 'start', '--config', config], { stdio: 'inherit', env: { ...process.env, BREAKWATER_ENV: '' } });

const client = (port: number): Kafka => new Kafka({ clientId: 'bench-relay', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
try {
  const admin = client(kafkaPort!).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'relay-1k', numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = client(kafkaPort!).producer();
  await producer.connect();
  const value = Buffer.alloc(1024, 120);
  for (let i = 0; i < MESSAGES / 1000; i++) await producer.send({ topic: 'relay-1k', acks: -1, messages: Array.from({ length: 1000 }, () => ({ value })) });
  await producer.disconnect();

  const consume = async (port: number, groupId: string): Promise<number> => {
    const c = client(port).consumer({ groupId });
    await c.connect();
    await c.subscribe({ topic: 'relay-1k', fromBeginning: true });
    let n = 0;
    let t0 = 0;
    await new Promise<void>((resolve) => {
      void c.run({
        eachBatch: async ({ batch }) => {
          t0 ||= performance.now();
          n += batch.messages.length;
          if (n >= MESSAGES) resolve();
        },
      });
    });
    const ms = performance.now() - t0;
    await c.disconnect();
    return Math.round((MESSAGES / ms) * 1000);
  };
  const ports = { direct: kafkaPort!, pipe: relayPort!, breakwater: bwPort! };
  const runs: Record<keyof typeof ports, number[]> = { direct: [], pipe: [], breakwater: [] };
  const orders: (keyof typeof ports)[][] = [
    ['direct', 'pipe', 'breakwater'],
    ['breakwater', 'pipe', 'direct'],
    ['pipe', 'breakwater', 'direct'],
  ];
  const lines: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    for (const way of orders[r % orders.length]!) {
      const rate = await consume(ports[way], `relay-${way}-${r}`);
      runs[way].push(rate);
      lines.push(`round ${r + 1}  ${way.padEnd(10)} ${String(rate).padStart(7)} msg/s`);
      console.log(lines[lines.length - 1]);
    }
  }
  const med = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const summary =
    `consume ${MESSAGES} x 1 KiB, fresh group, first batch to last, medians of ${ROUNDS} rounds: ` +
    `direct ${med(runs.direct)}, pipe ${med(runs.pipe)}, breakwater ${med(runs.breakwater)} msg/s; ` +
    `pipe/direct ${(med(runs.pipe) / med(runs.direct)).toFixed(2)}, breakwater/direct ${(med(runs.breakwater) / med(runs.direct)).toFixed(2)}, breakwater/pipe ${(med(runs.breakwater) / med(runs.pipe)).toFixed(2)}`;
  saveResults('kafka-relay', { startedAt, runs, loadAverage: os.loadavg() } as { startedAt: string }, [...lines, summary].join('\n'));
} finally {
  bw.kill();
  relay.close();
  await k.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
