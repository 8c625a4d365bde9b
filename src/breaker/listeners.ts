/**
 * Synchronous fan-out that survives its listeners. Events raised while a
 * listener runs (a listener that calls breaker.trip(), say) are queued and
 * delivered after the current one, so every listener sees events in order.
 */
export class Listeners<T> {
  // Copy-on-write: (un)subscribing during delivery never disturbs the loop in progress.
  private list: readonly ((event: T) => void)[] = [];
  private readonly queue: T[] = [];
  private delivering = false;

  constructor(private readonly onError: (error: unknown, event: T) => void) {}

  /** Returns an idempotent unsubscribe. */
  add(listener: (event: T) => void): () => void {
    this.list = [...this.list, listener];
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const i = this.list.indexOf(listener);
      if (i >= 0) this.list = [...this.list.slice(0, i), ...this.list.slice(i + 1)];
    };
  }

  emit(event: T): void {
    this.queue.push(event);
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let i = 0; i < this.queue.length; i++) {
        const e = this.queue[i]!;
        for (const listener of this.list) {
          try {
            listener(e);
          } catch (error) {
            this.report(error, e);
          }
        }
      }
    } finally {
      this.queue.length = 0;
      this.delivering = false;
    }
  }

  private report(error: unknown, event: T): void {
    try {
      this.onError(error, event);
    } catch {
      // The error reporter failed too; there is nowhere left to report to.
    }
  }
}
