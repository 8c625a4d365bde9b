// The Bolt handshake, before chunked messaging starts. The client sends the magic `60 60 B0 17`
// and four 4-byte proposals `[00][range][minor][major]` (minor−range … minor of that major).
// The server answers the chosen version, or zeros. Bolt 5.7+ adds manifest negotiation: a
// proposal `00 00 01 FF` asks for it; the server then answers `00 00 01 FF`, a varint count,
// that many 4-byte ranges and a varint of capabilities, and the client answers the version it
// chose (4 bytes) and its capabilities (a varint). breakwater passes either form through when
// Neo4j answers, and plays the server's part itself when Neo4j cannot.

export const MAGIC = Buffer.from([0x60, 0x60, 0xb0, 0x17]);
export const CLIENT_HANDSHAKE_BYTES = 20;

export interface BoltVersion {
  readonly major: number;
  readonly minor: number;
}

export interface Proposal {
  readonly major: number;
  readonly minor: number;
  readonly range: number;
}

export class BoltHandshakeError extends Error {
  readonly code = 'BOLT_HANDSHAKE';
  override readonly name = 'BoltHandshakeError';
}

/** The versions breakwater can answer for itself, newest first (one entry per major: minor down to minMinor). */
export const LOCAL_VERSIONS: readonly { major: number; minor: number; minMinor: number }[] = [
  { major: 5, minor: 8, minMinor: 0 },
  { major: 4, minor: 4, minMinor: 4 },
];

const MANIFEST_V1 = { major: 0xff, minor: 1 };

export function isManifest(p: { major: number; minor: number }): boolean {
  return p.major === MANIFEST_V1.major && p.minor === MANIFEST_V1.minor;
}

/** The client's 20 bytes: checks the magic, returns the proposals (zero proposals dropped). */
export function parseClientHandshake(buf: Buffer): Proposal[] {
  if (buf.length < CLIENT_HANDSHAKE_BYTES || buf.compare(MAGIC, 0, 4, 0, 4) !== 0) {
    throw new BoltHandshakeError(`not a Bolt client: the connection must start with 60 60 B0 17, it started with ${buf.subarray(0, 4).toString('hex').replace(/(..)(?!$)/g, '$1 ')}`);
  }
  const out: Proposal[] = [];
  for (let i = 4; i < CLIENT_HANDSHAKE_BYTES; i += 4) {
    const major = buf[i + 3]!;
    const minor = buf[i + 2]!;
    if (major === 0 && minor === 0) continue;
    out.push({ major, minor, range: buf[i + 1]! });
  }
  return out;
}

export function versionBytes(v: BoltVersion): Buffer {
  return Buffer.from([0, 0, v.minor, v.major]);
}

export function readVersion(buf: Buffer, pos: number): BoltVersion {
  return { major: buf[pos + 3]!, minor: buf[pos + 2]! };
}

/** The client's proposals for exactly one version (a reconnect that must land on the version already in use). */
export function exactHandshake(v: BoltVersion): Buffer {
  const out = Buffer.alloc(CLIENT_HANDSHAKE_BYTES);
  MAGIC.copy(out, 0);
  out[6] = v.minor;
  out[7] = v.major;
  return out;
}

/** The newest version breakwater can answer that one of the proposals covers, or undefined. */
export function chooseLocalVersion(proposals: readonly Proposal[]): BoltVersion | undefined {
  for (const p of proposals) {
    if (isManifest(p)) continue;
    for (const v of LOCAL_VERSIONS) {
      if (v.major !== p.major) continue;
      const top = Math.min(p.minor, v.minor);
      const bottom = Math.max(p.minor - p.range, v.minMinor);
      if (top >= bottom) return { major: v.major, minor: top };
    }
  }
  return undefined;
}

/** breakwater's own manifest answer: `00 00 01 FF`, the ranges it supports, no capabilities. */
export function localManifest(): Buffer {
  const out = [0, 0, 1, 0xff, LOCAL_VERSIONS.length];
  for (const v of LOCAL_VERSIONS) out.push(0, v.minor - v.minMinor, v.minor, v.major);
  out.push(0);
  return Buffer.from(out);
}

/** An unsigned LEB128 varint at pos: [value, next], undefined when incomplete. */
export function readVarint(buf: Buffer, pos: number): [number, number] | undefined {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (pos + i >= buf.length) return undefined;
    const b = buf[pos + i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return [value, pos + i + 1];
  }
  throw new BoltHandshakeError('a handshake varint is longer than 5 bytes');
}

/**
 * The server's answer at the start of buf: its length and the version (undefined with a
 * manifest: the client chooses), or undefined while incomplete. A zero version means no match.
 */
export function parseServerAnswer(buf: Buffer): { length: number; version: BoltVersion | undefined; manifest: boolean } | undefined {
  if (buf.length < 4) return undefined;
  const v = readVersion(buf, 0);
  if (!isManifest(v)) return { length: 4, version: v, manifest: false };
  const count = readVarint(buf, 4);
  if (count === undefined) return undefined;
  if (count[0] > 64) throw new BoltHandshakeError(`the server's manifest lists ${count[0]} version ranges`);
  const caps = count[1] + count[0] * 4;
  if (buf.length <= caps) return undefined;
  const end = readVarint(buf, caps);
  if (end === undefined) return undefined;
  return { length: end[1], version: undefined, manifest: true };
}

/** The version ranges a manifest answer offers (for checking the client's choice). */
export function manifestRanges(answer: Buffer): Proposal[] {
  const count = readVarint(answer, 4)!;
  const out: Proposal[] = [];
  for (let i = 0, p = count[1]; i < count[0]; i++, p += 4) out.push({ major: answer[p + 3]!, minor: answer[p + 2]!, range: answer[p + 1]! });
  return out;
}

/** The client's answer to a manifest: its version and capabilities; undefined while incomplete. */
export function parseClientChoice(buf: Buffer): { length: number; version: BoltVersion } | undefined {
  if (buf.length < 5) return undefined;
  const caps = readVarint(buf, 4);
  if (caps === undefined) return undefined;
  return { length: caps[1], version: readVersion(buf, 0) };
}

export function covers(ranges: readonly Proposal[], v: BoltVersion): boolean {
  return ranges.some((r) => r.major === v.major && v.minor <= r.minor && v.minor >= r.minor - r.range);
}

export function atLeast(v: BoltVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}
