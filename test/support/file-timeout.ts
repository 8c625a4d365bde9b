// tap kills a test file after TAP_TIMEOUT seconds (30 by default; npm test passes 300). Files
// that start Kafka brokers need more on a busy 2-core machine: raise it, never lower a larger
// one, and leave 0 (no timeout) alone.
export function fileTimeoutAtLeast(t: { setTimeout(ms: number): void }, ms: number): void {
  const current = Number(process.env.TAP_TIMEOUT ?? '30') * 1000;
  if (current > 0 && current < ms) t.setTimeout(ms);
}
