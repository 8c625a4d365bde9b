import { commandInfoFromBytes } from '../../src/proxy/redis/commands.js';

const seconds = Number(process.argv[2] ?? 2);
const NAMES = ['GET', 'set', 'MGET', 'hgetall', 'ZRANGEBYSCORE', 'expire', 'Ping', 'INCR', 'EVALSHA', 'nosuchcommand', 'client', 'xreadgroup'];

const buf = Buffer.from(NAMES.join(''), 'latin1');
const starts = new Int32Array(NAMES.length);
const ends = new Int32Array(NAMES.length);
for (let i = 0, at = 0; i < NAMES.length; at += NAMES[i]!.length, i++) {
  starts[i] = at;
  ends[i] = at + NAMES[i]!.length;
}

const BATCH = 1 << 20;
let sink = 0;
const loop = (): void => {
  for (let i = 0; i < BATCH; i++) {
    const k = i % NAMES.length;
    sink += commandInfoFromBytes(buf, starts[k]!, ends[k]!)?.id ?? -1;
  }
};

for (const end = performance.now() + 300; performance.now() < end; ) loop();

let calls = 0;
const start = performance.now();
const cpu = process.cpuUsage();
while (performance.now() < start + seconds * 1000) {
  loop();
  calls += BATCH;
}
const used = process.cpuUsage(cpu);
const nsPerCall = ((used.user + used.system) * 1000) / calls;
console.log(JSON.stringify({ bench: 'redis.commandInfoFromBytes', cpuNsPerCall: Number(nsPerCall.toFixed(1)), calls, sink: sink & 1 }));
