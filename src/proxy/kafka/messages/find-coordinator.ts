// FindCoordinator (api key 10) requests, and the error responses the proxy sends while the
// cluster is unreachable (there is no coordinator to name).
// Layouts (FindCoordinator{Request,Response}.json; flexible v3+):
//   Request: Key v0-3, KeyType v1+ (int8: 0 group, 1 transaction, 2 share), CoordinatorKeys v4+.
//   Response v0: ErrorCode, NodeId, Host, Port; v1-3: ThrottleTimeMs, ErrorCode, ErrorMessage,
//     NodeId, Host, Port; v4-6: ThrottleTimeMs, Coordinators[Key, NodeId, Host, Port, ErrorCode,
//     ErrorMessage]. "No node" is NodeId -1, Host "", Port -1 (Kafka's Node.noNode()).
import { KafkaWireError, Reader, Writer } from '../wire.js';

export const FIND_COORDINATOR_API_KEY = 10;
export const FIND_COORDINATOR_MAX_VERSION = 6;
/** First version with batched CoordinatorKeys (KIP-699). */
export const FIND_COORDINATOR_FIRST_BATCHED = 4;
export const COORDINATOR_NOT_AVAILABLE = 15;
/** Kafka's Errors.COORDINATOR_NOT_AVAILABLE.message(). */
export const COORDINATOR_NOT_AVAILABLE_MESSAGE = 'The coordinator is not available.';

export interface FindCoordinatorRequest {
  /** 0 group, 1 transaction, 2 share (v6); 0 in v0 (no field). */
  keyType: number;
  /** One key in v0-3, the CoordinatorKeys array from v4. */
  keys: string[];
}

function checkVersion(version: number, what: string): void {
  if (!Number.isInteger(version) || version < 0 || version > FIND_COORDINATOR_MAX_VERSION) {
    throw new KafkaWireError('unsupported_version', `FindCoordinator ${what} version ${version} is outside 0..${FIND_COORDINATOR_MAX_VERSION}`);
  }
}

/** Parses a FindCoordinator request body (after the request header). Throws KafkaWireError. */
export function parseFindCoordinatorRequest(version: number, body: Buffer): FindCoordinatorRequest {
  checkVersion(version, 'request');
  const flex = version >= 3;
  const r = new Reader(body);
  const keys: string[] = [];
  if (version < FIND_COORDINATOR_FIRST_BATCHED) keys.push(flex ? r.compactString() : r.string());
  const keyType = version >= 1 ? r.int8() : 0;
  if (version >= FIND_COORDINATOR_FIRST_BATCHED) {
    const at = r.pos;
    const n = r.compactArrayLength();
    if (n === null) throw new KafkaWireError('malformed', `null FindCoordinator coordinator keys array at byte ${at}`, at);
    if (n > r.remaining) throw new KafkaWireError('malformed', `FindCoordinator coordinator keys array of ${n} elements at byte ${at} exceeds the ${r.remaining} bytes left`, at);
    for (let i = 0; i < n; i++) keys.push(r.compactString());
  }
  if (flex) r.skipTaggedFields();
  if (r.remaining !== 0) {
    throw new KafkaWireError('malformed', `FindCoordinator v${version} request: ${r.remaining} bytes left over at byte ${r.pos}`, r.pos);
  }
  return { keyType, keys };
}

/** Encodes a FindCoordinator request body (the inverse of parseFindCoordinatorRequest; for tests and probes). */
export function encodeFindCoordinatorRequest(version: number, req: FindCoordinatorRequest): Buffer {
  checkVersion(version, 'request');
  const flex = version >= 3;
  const w = new Writer(32);
  if (version < FIND_COORDINATOR_FIRST_BATCHED) {
    if (req.keys.length !== 1) throw new RangeError(`FindCoordinator v${version} requests carry exactly one key, not ${req.keys.length}`);
    if (flex) w.compactString(req.keys[0]!);
    else w.string(req.keys[0]!);
  }
  if (version >= 1) w.int8(req.keyType);
  if (version >= FIND_COORDINATOR_FIRST_BATCHED) {
    w.compactArrayLength(req.keys.length);
    for (const k of req.keys) w.compactString(k);
  }
  if (flex) w.taggedFields();
  return w.toBuffer();
}

/**
 * A FindCoordinator response body (no header) naming no coordinator, with `errorCode` and
 * `errorMessage`: v0 error, -1, "", -1; v1-3 throttle 0, error, message, -1, "", -1; v4-6 one
 * coordinator entry per key (key, -1, "", -1, error, message). v0 has no message field.
 */
export function encodeFindCoordinatorError(version: number, keys: readonly string[], errorCode: number, errorMessage: string | null): Buffer {
  checkVersion(version, 'response');
  const flex = version >= 3;
  const w = new Writer(32);
  if (version >= 1) w.int32(0);
  if (version < FIND_COORDINATOR_FIRST_BATCHED) {
    w.int16(errorCode);
    if (version >= 1) {
      if (flex) w.compactNullableString(errorMessage);
      else w.nullableString(errorMessage);
    }
    w.int32(-1);
    if (flex) w.compactString('');
    else w.string('');
    w.int32(-1);
  } else {
    w.compactArrayLength(keys.length);
    for (const key of keys) {
      w.compactString(key).int32(-1).compactString('').int32(-1).int16(errorCode).compactNullableString(errorMessage);
      w.taggedFields();
    }
  }
  if (flex) w.taggedFields();
  return w.toBuffer();
}

/**
 * COORDINATOR_NOT_AVAILABLE (15) for every key, byte for byte what Kafka 4.4 answers while its
 * coordinator topic is being created: v0 without a message field, v1-3 with Kafka's message
 * ("The coordinator is not available."), v4+ with an empty (not null) message per coordinator.
 */
export function encodeCoordinatorNotAvailable(version: number, keys: readonly string[]): Buffer {
  return encodeFindCoordinatorError(version, keys, COORDINATOR_NOT_AVAILABLE, version >= FIND_COORDINATOR_FIRST_BATCHED ? '' : COORDINATOR_NOT_AVAILABLE_MESSAGE);
}
