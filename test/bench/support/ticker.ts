// The open-loop schedule of the latency benches: a worker thread that bumps a shared counter at
// each due time (Atomics.wait between ticks), so sends follow the clock, not the responses, and
// coordinated omission cannot hide latency. workerData: { sab, intervalNs, n }; seq at int32 0,
// the schedule's start (ns, hrtime) at float64 8.
import { Worker } from 'node:worker_threads';

const TICKER = `
const { workerData } = require('node:worker_threads');
const seq = new Int32Array(workerData.sab, 0, 1);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const { intervalNs, n } = workerData;
// the schedule starts 20 ms after this thread is up (starting a worker takes tens of ms)
const t0 = Number(process.hrtime.bigint()) + 20e6;
new Float64Array(workerData.sab, 8, 1)[0] = t0;
for (let i = 0; i < n; i++) {
  const due = t0 + i * intervalNs;
  for (;;) {
    const d = due - Number(process.hrtime.bigint());
    if (d <= 0) break;
    Atomics.wait(sleeper, 0, 0, d / 1e6);
  }
  Atomics.store(seq, 0, i + 1);
  Atomics.notify(seq, 0);
}
`;

/** Starts the ticker; read Atomics.load(new Int32Array(sab, 0, 1), 0) for how many sends are due. */
export function startTicker(sab: SharedArrayBuffer, intervalNs: number, n: number): Worker {
  return new Worker(TICKER, { eval: true, workerData: { sab, intervalNs, n } });
}

/** Atomics.waitAsync (V8; typed from lib es2024 on, this project compiles with es2023) */
export const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number): { async: boolean; value: Promise<string> | string } }).waitAsync;
