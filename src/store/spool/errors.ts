// Errors of the durable spool. Each has a stable `code` so callers branch on it,
// and a message that says what to do about it.

/** The spool would exceed maxBytes: nothing of the append was written. Acking (forwarding) frees space. */
export class SpoolFullError extends Error {
  readonly code = 'E_SPOOL_FULL';

  constructor(
    readonly dir: string,
    /** Unacknowledged bytes held, appends in flight included. */
    readonly heldBytes: number,
    readonly maxBytes: number,
    /** What the rejected append needed. */
    readonly requestedBytes: number,
  ) {
    super(`spool at ${dir} holds ${heldBytes} bytes of maxBytes ${maxBytes}; raise spool.maxBytes or restore the dependency`);
    this.name = 'SpoolFullError';
  }
}

/** An append or ack argument that can never work (retrying does not help). */
export class SpoolInputError extends RangeError {
  readonly code = 'E_SPOOL_INPUT';

  constructor(message: string) {
    super(message);
    this.name = 'SpoolInputError';
  }
}

/** Another live process (or this one) has the spool directory open. */
export class SpoolLockedError extends Error {
  readonly code = 'E_SPOOL_LOCKED';

  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(
      pid === process.pid
        ? `spool at ${dir} is already open in this process (pid ${pid}); close it first`
        : `spool at ${dir} is in use by process ${pid} (${dir}/lock); stop it, or delete the lock file if that pid is not a breakwater`,
    );
    this.name = 'SpoolLockedError';
  }
}

/** A damaged record outside the tail of the last segment: not a torn write, so it is not silently dropped. */
export class SpoolCorruptError extends Error {
  readonly code = 'E_SPOOL_CORRUPT';

  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`spool segment ${file} is damaged at byte ${offset} (${reason}); move the file aside to start without its entries`);
    this.name = 'SpoolCorruptError';
  }
}

/** The spool is closed, or an earlier write failed (its cause): reopen it, which recovers what is on disk. */
export class SpoolClosedError extends Error {
  readonly code = 'E_SPOOL_CLOSED';

  constructor(dir: string, cause?: unknown) {
    super(
      cause === undefined
        ? `spool at ${dir} is closed`
        : `spool at ${dir} stopped after a write failed (${(cause as Error)?.message ?? String(cause)}); reopen it to recover what is on disk`,
      cause === undefined ? undefined : { cause },
    );
    this.name = 'SpoolClosedError';
  }
}
