// Whole frames (INT32 size prefix + header + body) for requests and responses the proxy
// builds itself, each in a single allocation.
//
// Request header v1: api_key INT16, api_version INT16, correlation_id INT32, client_id
// (classic nullable STRING, even in v2); v2 (flexible request versions) adds an empty
// tagged-field section. Response header v0: correlation_id; v1 (responses to flexible
// requests) adds an empty tagged-field section, except ApiVersions (18), whose response
// header is always v0 (so that a client can read an error from a broker that does not know
// the version it asked for).
import { isFlexibleRequest } from '../framing.js';
import { KafkaWireError } from '../wire.js';

const API_VERSIONS = 18;

function checkKeyVersion(apiKey: number, apiVersion: number): void {
  if (!Number.isInteger(apiKey) || apiKey < -0x8000 || apiKey > 0x7fff) throw new RangeError(`api key ${apiKey} is not an INT16`);
  if (!Number.isInteger(apiVersion) || apiVersion < -0x8000 || apiVersion > 0x7fff) throw new RangeError(`api version ${apiVersion} is not an INT16`);
}

function frameSize(size: number): void {
  if (size > 0x7fffffff) {
    throw new KafkaWireError('frame_too_large', `a Kafka frame of ${size} bytes does not fit the INT32 size prefix`);
  }
}

/** Whether the response to this api key/version has response header v1 (with a tagged-field section). */
export function isFlexibleResponseHeader(apiKey: number, apiVersion: number): boolean {
  return apiKey !== API_VERSIONS && (isFlexibleRequest(apiKey, apiVersion) ?? false);
}

/**
 * size + response header (v0: correlation id; v1 for flexible versions: + empty tagged
 * fields; ApiVersions always v0) + body, in one Buffer.
 */
export function encodeResponseFrame(apiKey: number, apiVersion: number, correlationId: number, body: Uint8Array): Buffer {
  checkKeyVersion(apiKey, apiVersion);
  const flex = isFlexibleResponseHeader(apiKey, apiVersion);
  const headerLen = flex ? 5 : 4;
  frameSize(headerLen + body.length);
  const out = Buffer.allocUnsafe(4 + headerLen + body.length);
  out.writeInt32BE(headerLen + body.length, 0);
  out.writeInt32BE(correlationId | 0, 4);
  if (flex) out[8] = 0; // no tagged fields
  out.set(body, 4 + headerLen);
  return out;
}

/**
 * size + request header (v1: api key, api version, correlation id, client id as a classic
 * nullable string; v2 for flexible versions: + empty tagged fields) + body, in one Buffer.
 */
export function encodeRequestFrame(apiKey: number, apiVersion: number, correlationId: number, clientId: string | null, body: Uint8Array): Buffer {
  checkKeyVersion(apiKey, apiVersion);
  const flex = isFlexibleRequest(apiKey, apiVersion) ?? false;
  const idLen = clientId === null ? 0 : Buffer.byteLength(clientId, 'utf8');
  if (idLen > 0x7fff) throw new RangeError(`client id longer than 32767 bytes (${idLen})`);
  const headerLen = 2 + 2 + 4 + 2 + idLen + (flex ? 1 : 0);
  frameSize(headerLen + body.length);
  const out = Buffer.allocUnsafe(4 + headerLen + body.length);
  let o = out.writeInt32BE(headerLen + body.length, 0);
  o = out.writeInt16BE(apiKey, o);
  o = out.writeInt16BE(apiVersion, o);
  o = out.writeInt32BE(correlationId | 0, o);
  o = out.writeInt16BE(clientId === null ? -1 : idLen, o);
  if (clientId !== null) o += out.write(clientId, o, idLen, 'utf8');
  if (flex) out[o++] = 0;
  out.set(body, o);
  return out;
}
