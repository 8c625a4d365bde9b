// Crash safety: a child process appends (8 concurrent writers) and acks in a
// loop, printing every append that resolved and every ack before and after it
// is made; it is SIGKILLed midway, three times over the same directory. After
// each kill, everything reported appended and not acked is there with its
// payload, and nothing whose ack resolved comes back.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { Spool } from '../../../src/store/spool/spool.js';

const MODULE = pathToFileURL(path.resolve(import.meta.dirname, '../../../src/store/spool/spool.js')).href;

// argv: dir, first k. stdout lines: "ready", "ok <k>", "acking <k,k,...>", "acked <k,k,...>".
// Pipes are written synchronously on Linux: a printed line survives the SIGKILL.
const CHILD = `
import { Spool } from ${JSON.stringify(MODULE)};
const [dir, first] = process.argv.slice(1);
const spool = await Spool.open({ dir, maxBytes: 1 << 30, segmentBytes: 32 << 10 });
process.stdout.write('ready ' + spool.recovered.entries + ' ' + spool.recovered.truncatedBytes + '\\n');
let next = Number(first);
const kOf = (e) => e.payload.toString().split('-')[1];
async function writer(w) {
  for (;;) {
    const k = next++;
    const batch = [{ stream: 's/' + w, payload: Buffer.from('payload-' + k + '-' + 'x'.repeat(k % 200)), count: 1 + (k % 3) }];
    if (k % 5 === 0) batch.push({ stream: 's/' + w, payload: Buffer.from('payload-' + k + 'b-'), count: 1 });
    await spool.append(batch);
    process.stdout.write('ok ' + k + '\\n');
  }
}
async function acker() {
  for (;;) {
    await new Promise((r) => setTimeout(r, 3));
    const entries = await spool.peek(8192, 25);
    if (entries.length === 0) continue;
    const ks = entries.map(kOf).join(',');
    process.stdout.write('acking ' + ks + '\\n');
    await spool.ack(entries[entries.length - 1].seq);
    process.stdout.write('acked ' + ks + '\\n');
  }
}
for (let w = 0; w < 8; w++) void writer(w);
void acker();
`;

/** Runs the child until it reported at least `oks` appends (plus a random few ms), SIGKILLs it, returns its complete lines. */
function runAndKill(dir: string, first: number, oks: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, dir, String(first)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    let count = 0;
    let killing = false;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      text += chunk;
      count += chunk.split('\nok ').length - 1;
      if (!killing && count >= oks) {
        killing = true;
        setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 20));
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child ended with ${code ?? signal}, not by SIGKILL; output:\n${text.slice(-2000)}`));
      // A line cut by the kill is not a report.
      resolve(text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l !== ''));
    });
  });
}

t.test('nothing reported appended is lost across SIGKILLs; nothing acked comes back', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'breakwater-spool-crash-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const appended = new Set<string>();
  const acking = new Set<string>();
  const acked = new Set<string>();
  for (let round = 0; round < 3; round++) {
    const first = round * 1_000_000;
    const lines = await runAndKill(dir, first, 3_000);
    t.match(lines[0], /^ready \d+ \d+$/, `round ${round}: child opened the spool`);
    for (const line of lines.slice(1)) {
      const [kind, arg] = line.split(' ') as [string, string];
      if (kind === 'ok') {
        appended.add(arg);
        if (Number(arg) % 5 === 0) appended.add(`${arg}b`);
      } else if (kind === 'acking') for (const k of arg.split(',')) acking.add(k);
      else if (kind === 'acked') for (const k of arg.split(',')) acked.add(k);
    }

    const spool = await Spool.open({ dir, maxBytes: 1 << 30, segmentBytes: 32 << 10 });
    const entries = await spool.peek(Infinity);
    const present = new Map<string, { stream: string; payload: string; seq: number }>();
    const twice: string[] = [];
    for (const e of entries) {
      const k = e.payload.toString().split('-')[1]!;
      if (present.has(k)) twice.push(k);
      present.set(k, { stream: e.stream, payload: e.payload.toString(), seq: e.seq });
    }
    t.same(twice, [], 'every entry is there once');
    const missing = [...appended].filter((k) => !present.has(k) && !acking.has(k));
    t.same(missing, [], `round ${round}: all ${appended.size} reported appends not being acked are there (${entries.length} entries, recovered ${JSON.stringify(spool.recovered)})`);
    const back = [...acked].filter((k) => present.has(k));
    t.same(back, [], `round ${round}: none of the ${acked.size} acked entries came back`);
    const badPayload = [...present].filter(([k, e]) => e.payload !== (k.endsWith('b') ? `payload-${k}-` : `payload-${k}-${'x'.repeat(Number(k) % 200)}`));
    t.same(badPayload, [], 'payloads intact');
    // Per stream, seq order is k order (a writer appends its ks in increasing order).
    const lastK = new Map<string, number>();
    let ordered = true;
    for (const e of entries) {
      const k = Number.parseInt(e.payload.toString().split('-')[1]!, 10);
      if ((lastK.get(e.stream) ?? -1) > k) ordered = false;
      lastK.set(e.stream, k);
    }
    t.ok(ordered, 'per-stream order kept');
    t.ok(appended.size >= 3_000 * (round + 1), `${appended.size} appends reported so far`);
    await spool.close();
  }
});
