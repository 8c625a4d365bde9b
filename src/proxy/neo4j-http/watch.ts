// Watches a 2xx Neo4j answer as it streams to the client (a ResponseCapture of the shared
// relay): finds the `errors` Neo4j writes at the end of the body (errors-scan.ts), and, when the
// request is one a rule answers from the cache or with `static`, keeps the body to store it or
// to learn its columns — only if it completed without errors. Body bytes are kept as references
// to the chunks they came in, and only up to the bound of what they are kept for.
import type { ResponseCache } from '../../store/response-cache.js';
import type { ResponseCapture } from '../http/relay.js';
import { columnsOf, COLUMNS_BODY_BYTES, type ColumnMemory } from './columns.js';
import { ErrorsScanner, type ErrorsFound } from './errors-scan.js';

export interface WatchOptions {
  /** Store the answer under this key (with these headers) when it completes without errors. */
  store?: { cache: ResponseCache; key: string; maxBytes: number; meta: Record<string, string> };
  /** Learn the columns of these statements (the listener asks only for texts it has not seen). */
  learn?: { memory: ColumnMemory; statements: readonly string[] };
  /** Told what the body said once it completed. */
  onEnd(errors: ErrorsFound): void;
}

export class ResponseWatch implements ResponseCapture {
  private readonly scanner = new ErrorsScanner();
  private readonly keep: number;
  private parts: Buffer[] = [];
  private bytes = 0;

  constructor(private readonly opts: WatchOptions) {
    this.keep = Math.max(opts.store?.maxBytes ?? 0, opts.learn ? COLUMNS_BODY_BYTES : 0);
  }

  add(buf: Buffer, start: number, end: number): void {
    this.scanner.add(buf, start, end);
    if (this.keep === 0) return;
    const before = this.bytes;
    this.bytes += end - start;
    // Past the bound only the count goes on: it tells that the body was not kept whole.
    if (before < this.keep) this.parts.push(buf.subarray(start, Math.min(end, start + this.keep - before)));
  }

  end(complete: boolean): void {
    if (!complete) return;
    const errors = this.scanner.result();
    this.opts.onEnd(errors);
    // Stored only when Neo4j said there were no errors (`"errors":[]` seen).
    if (errors === undefined || errors.length > 0 || this.keep === 0) return;
    const kept = Buffer.concat(this.parts, Math.min(this.bytes, this.keep));
    this.parts = [];
    const { store, learn } = this.opts;
    if (store !== undefined) {
      if (this.bytes > store.maxBytes) store.cache.countTooLarge();
      else store.cache.set(store.key, { body: kept, meta: store.meta, storedAt: Date.now() });
    }
    if (learn !== undefined) {
      // A whole body is parsed only when small; a larger one gives the first statement's columns.
      const whole = this.bytes <= COLUMNS_BODY_BYTES;
      columnsOf(kept, whole, learn.statements.length).forEach((cols, i) => {
        if (cols !== undefined) learn.memory.set(learn.statements[i]!, cols);
      });
    }
  }
}
