// Test helpers shared by the messages/*.test.ts files and ../rewrite.test.ts: a raw Kafka connection (one request at a
// time in order, response body after its header) and kafkajs's own response decoders.
import net from 'node:net';
import { createRequire } from 'node:module';
import { FrameScanner, responseHeaderLength } from '../../../../src/proxy/kafka/framing.js';
import { specRequestFrame } from './spec-helpers.js';

export interface RawKafkaOptions {
  /** The request header's client id; default 'breakwater-messages-test'. */
  clientId?: string;
  /** A request without a response after this long rejects; default 10 s. */
  timeoutMs?: number;
  /** Builds the whole request frame (size, header, body); default: specRequestFrame (a header written field by field). */
  encodeFrame?: (apiKey: number, apiVersion: number, correlationId: number, clientId: string, body: Buffer) => Buffer;
}

/** One connection, requests answered in order; resolves to the response body after its header. */
export class RawKafka {
  private correlation = 0;
  private readonly clientId: string;
  private readonly timeoutMs: number;
  private readonly encodeFrame: NonNullable<RawKafkaOptions['encodeFrame']>;
  private readonly scanner = new FrameScanner();
  private readonly waiting: { apiKey: number; apiVersion: number; correlationId: number; resolve: (b: Buffer) => void; reject: (e: Error) => void }[] = [];
  private constructor(
    private readonly socket: net.Socket,
    opts: RawKafkaOptions,
  ) {
    this.clientId = opts.clientId ?? 'breakwater-messages-test';
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.encodeFrame = opts.encodeFrame ?? specRequestFrame;
    socket.on('data', (chunk) => {
      this.scanner.push(chunk);
      for (let f = this.scanner.next(); f !== null; f = this.scanner.next()) {
        const w = this.waiting.shift();
        if (!w) continue;
        const cid = f.readInt32BE(4);
        if (cid !== w.correlationId) {
          w.reject(new Error(`correlation id ${cid}, expected ${w.correlationId}`));
          continue;
        }
        w.resolve(Buffer.from(f.subarray(4 + responseHeaderLength(w.apiKey, w.apiVersion, f))));
      }
    });
    const fail = (e: Error): void => {
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed by the broker (unsupported version?)')));
  }
  static connect(port: number, opts: RawKafkaOptions = {}): Promise<RawKafka> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new RawKafka(s, opts)));
      s.once('error', reject);
    });
  }
  request(apiKey: number, apiVersion: number, body: Buffer): Promise<Buffer> {
    const correlationId = ++this.correlation;
    const frame = this.encodeFrame(apiKey, apiVersion, correlationId, this.clientId, body);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`api ${apiKey} v${apiVersion}: no response in ${this.timeoutMs / 1000} s`)), this.timeoutMs);
      this.waiting.push({
        apiKey,
        apiVersion,
        correlationId,
        resolve: (b) => {
          clearTimeout(timer);
          resolve(b);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.socket.write(frame);
    });
  }
  close(): void {
    this.socket.destroy();
  }
}

type KafkajsDecoder = { decode(raw: Buffer): Promise<any>; parse(data: any): Promise<any> };
const require = createRequire(import.meta.url);

/** kafkajs's response decoder for requests/<api>/v<version> (decode takes the body after the correlation id). */
export function kafkajsResponse(api: 'metadata' | 'apiVersions' | 'findCoordinator', version: number): KafkajsDecoder {
  return require(`kafkajs/src/protocol/requests/${api}/v${version}/response.js`) as KafkajsDecoder;
}
