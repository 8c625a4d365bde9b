// ApiVersions (api key 18) responses the proxy sends itself, from the stored cluster state.
// Layout (ApiVersionsResponse.json): ErrorCode, ApiKeys[ApiKey, MinVersion, MaxVersion],
// ThrottleTimeMs v1+; flexible v3+ (compact array, a tagged-field section per entry and at the
// end, where Kafka puts SupportedFeatures (0), FinalizedFeaturesEpoch (1), FinalizedFeatures (2),
// ZkMigrationReady (3)). The response header is always v0 (correlation id only), even for v3+.
// Answers from state carry no tagged fields: the feature fields are optional (ignorable) and
// clients treat their absence as "no features".
import { KafkaWireError, Writer } from '../wire.js';

export const API_VERSIONS_API_KEY = 18;
/** The highest ApiVersions response version encoded here. */
export const API_VERSIONS_ANSWER_MAX_VERSION = 4;
/** UNSUPPORTED_VERSION. */
export const UNSUPPORTED_VERSION = 35;

/**
 * An ApiVersions response body (no header) at version 0..4 listing `apiKeys` as
 * [apiKey, minVersion, maxVersion], in the order given.
 */
export function encodeApiVersionsResponse(
  version: number,
  apiKeys: Iterable<readonly [number, number, number]>,
  errorCode = 0,
  throttleTimeMs = 0,
): Buffer {
  if (!Number.isInteger(version) || version < 0 || version > API_VERSIONS_ANSWER_MAX_VERSION) {
    throw new KafkaWireError('unsupported_version', `ApiVersions version ${version} is outside 0..${API_VERSIONS_ANSWER_MAX_VERSION}`);
  }
  const flex = version >= 3;
  const keys = [...apiKeys];
  const w = new Writer(8 + keys.length * 7);
  w.int16(errorCode);
  if (flex) w.compactArrayLength(keys.length);
  else w.arrayLength(keys.length);
  for (const [key, min, max] of keys) {
    w.int16(key).int16(min).int16(max);
    if (flex) w.taggedFields();
  }
  if (version >= 1) w.int32(throttleTimeMs);
  if (flex) w.taggedFields();
  return w.toBuffer();
}

/**
 * What a broker answers an ApiVersions request of a version it does not know: a v0 body with
 * UNSUPPORTED_VERSION (35) listing ApiVersions (18) versions 0..supportedMax, so that the
 * client retries with a version it has in common (KIP-511). Send it with a v0 response header.
 */
export function encodeUnsupportedApiVersions(supportedMax: number): Buffer {
  return encodeApiVersionsResponse(0, [[API_VERSIONS_API_KEY, 0, supportedMax]], UNSUPPORTED_VERSION);
}
