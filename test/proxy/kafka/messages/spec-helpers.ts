// Test helpers shared by the Kafka message tests (messages/*.test.ts and ../rewrite.test.ts):
// an encoder for bodies written from the apache/kafka message specs, the "only KafkaWireError
// is thrown" check, a request frame written field by field, and the layout of an ApiVersions
// response body.
import { isFlexibleRequest } from '../../../../src/proxy/kafka/framing.js';
import { KafkaWireError, Reader, Writer } from '../../../../src/proxy/kafka/wire.js';

/** Tagged fields as the specs' encoders write them. */
export type Tags = { tag: number; data: Uint8Array }[];

/** A spec encoder: compact (flexible) or classic strings, arrays and tagged fields by `flex`. */
export class Enc {
  readonly w = new Writer(64);
  constructor(readonly flex: boolean) {}
  str(s: string): this {
    this.flex ? this.w.compactString(s) : this.w.string(s);
    return this;
  }
  nstr(s: string | null): this {
    this.flex ? this.w.compactNullableString(s) : this.w.nullableString(s);
    return this;
  }
  nbytes(b: Uint8Array | null): this {
    this.flex ? this.w.compactNullableBytes(b) : this.w.nullableBytes(b);
    return this;
  }
  arr<T>(items: readonly T[] | null, each: (x: T) => void): this {
    this.flex ? this.w.compactArrayLength(items === null ? null : items.length) : this.w.arrayLength(items === null ? null : items.length);
    for (const x of items ?? []) each(x);
    return this;
  }
  tags(tags: Tags): this {
    if (this.flex) this.w.taggedFields(tags);
    return this;
  }
}

/** The KafkaWireError fn throws, or undefined when it returns; any other error is rethrown. */
export function wireError(fn: () => unknown): KafkaWireError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof KafkaWireError) return err;
    throw err;
  }
}

/**
 * Offsets in an ApiVersions body of version v: after the ApiKeys array, where the top-level
 * tagged fields start (v3+), the ThrottleTimeMs (0 before v1), the top-level tags and the
 * bytes left over after them.
 */
export function apiVersionsLayout(v: number, body: Buffer): { afterKeys: number; tagsAt: number; throttle: number; tags: number[]; remaining: number } {
  const r = new Reader(body);
  r.int16();
  const n = v >= 3 ? r.compactArrayLength()! : r.arrayLength()!;
  for (let i = 0; i < n; i++) {
    r.raw(6);
    if (v >= 3) r.skipTaggedFields();
  }
  const afterKeys = r.pos;
  const throttle = v >= 1 ? r.int32() : 0;
  const tagsAt = r.pos;
  const tags = v >= 3 ? r.taggedFields().map((f) => f.tag) : [];
  return { afterKeys, tagsAt, throttle, tags, remaining: r.remaining };
}

/** A request frame written field by field: size, header v1 (v2, empty tagged fields, for flexible versions), body. */
export function specRequestFrame(apiKey: number, apiVersion: number, correlationId: number, clientId: string | null, body: Uint8Array): Buffer {
  const w = new Writer();
  w.int32(0).int16(apiKey).int16(apiVersion).int32(correlationId).nullableString(clientId);
  if (isFlexibleRequest(apiKey, apiVersion)) w.taggedFields([]);
  w.raw(body);
  const frame = w.toBuffer();
  frame.writeInt32BE(frame.length - 4, 0);
  return frame;
}
