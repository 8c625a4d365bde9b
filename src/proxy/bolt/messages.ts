// Bolt message signatures (the PackStream structure tag of each message) and their names.

export const enum Sig {
  HELLO = 0x01,
  GOODBYE = 0x02,
  RESET = 0x0f,
  RUN = 0x10,
  BEGIN = 0x11,
  COMMIT = 0x12,
  ROLLBACK = 0x13,
  DISCARD = 0x2f,
  PULL = 0x3f,
  TELEMETRY = 0x54,
  ROUTE = 0x66,
  LOGON = 0x6a,
  LOGOFF = 0x6b,
  SUCCESS = 0x70,
  RECORD = 0x71,
  IGNORED = 0x7e,
  FAILURE = 0x7f,
}

const REQUEST_NAMES: Record<number, string> = {
  [Sig.HELLO]: 'HELLO',
  [Sig.GOODBYE]: 'GOODBYE',
  [Sig.RESET]: 'RESET',
  [Sig.RUN]: 'RUN',
  [Sig.BEGIN]: 'BEGIN',
  [Sig.COMMIT]: 'COMMIT',
  [Sig.ROLLBACK]: 'ROLLBACK',
  [Sig.DISCARD]: 'DISCARD',
  [Sig.PULL]: 'PULL',
  [Sig.TELEMETRY]: 'TELEMETRY',
  [Sig.ROUTE]: 'ROUTE',
  [Sig.LOGON]: 'LOGON',
  [Sig.LOGOFF]: 'LOGOFF',
};

/** The request's name, or `other` (a metric label: bounded). */
export function requestName(signature: number): string {
  return REQUEST_NAMES[signature] ?? 'other';
}

export function isRequest(signature: number): boolean {
  return REQUEST_NAMES[signature] !== undefined;
}

/** A summary ends the response to one request; RECORDs come before it. */
export function isSummary(signature: number): boolean {
  return signature === Sig.SUCCESS || signature === Sig.FAILURE || signature === Sig.IGNORED;
}
