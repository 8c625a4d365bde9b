// A minimal Kafka client connection for breakwater's own requests (the spool's forwarder and its
// Metadata lookups): request frames out, responses matched by correlation id, a deadline per
// request. Any error or a close fails every pending request and the connection is not reused.
import net from 'node:net';
import { FrameScanner } from './framing.js';
import { encodeRequestFrame } from './messages/header.js';
import { responseHeaderLength } from './framing.js';

export class KafkaClientError extends Error {
  constructor(
    message: string,
    readonly kind: 'connect' | 'timeout' | 'closed' | 'protocol',
  ) {
    super(message);
  }
}

interface Waiting {
  correlationId: number;
  apiKey: number;
  apiVersion: number;
  resolve: (body: Buffer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const CLIENT_ID = 'breakwater';

export class KafkaClientConnection {
  private readonly socket: net.Socket;
  private readonly scanner: FrameScanner;
  private readonly waiting: Waiting[] = [];
  private nextCorrelation = 1;
  private connected: Promise<void>;
  dead = false;

  constructor(
    readonly host: string,
    readonly port: number,
    connectTimeoutMs: number,
    maxFrameBytes: number,
  ) {
    this.scanner = new FrameScanner(maxFrameBytes);
    this.socket = net.connect({ host, port, noDelay: true });
    this.connected = new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new KafkaClientError(`connecting to Kafka at ${host}:${port} took longer than ${connectTimeoutMs}ms`, 'connect'));
      }, connectTimeoutMs);
      this.socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.once('close', () => {
        clearTimeout(timer);
        reject(new KafkaClientError(`could not connect to Kafka at ${host}:${port}`, 'connect'));
      });
    });
    this.connected.catch(() => undefined);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail(new KafkaClientError(`Kafka at ${host}:${port}: ${err.message}`, this.socket.connecting ? 'connect' : 'closed')));
    this.socket.on('close', () => this.fail(new KafkaClientError(`Kafka at ${host}:${port} closed the connection`, 'closed')));
  }

  /** Sends one request (body after the header) and resolves with the response body. */
  async request(apiKey: number, apiVersion: number, body: Uint8Array, timeoutMs: number): Promise<Buffer> {
    if (this.dead) throw new KafkaClientError(`the connection to Kafka at ${this.host}:${this.port} is closed`, 'closed');
    await this.connected;
    return new Promise<Buffer>((resolve, reject) => {
      const correlationId = this.nextCorrelation++ & 0x7fffffff;
      const timer = setTimeout(
        () => this.fail(new KafkaClientError(`Kafka at ${this.host}:${this.port} did not answer within ${timeoutMs}ms`, 'timeout')),
        timeoutMs,
      );
      this.waiting.push({ correlationId, apiKey, apiVersion, resolve, reject, timer });
      this.socket.write(encodeRequestFrame(apiKey, apiVersion, correlationId, CLIENT_ID, body));
    });
  }

  private onData(chunk: Buffer): void {
    try {
      this.scanner.push(chunk);
      for (let frame = this.scanner.next(); frame !== null; frame = this.scanner.next()) {
        const w = this.waiting.shift();
        if (w === undefined) throw new KafkaClientError(`Kafka at ${this.host}:${this.port} sent a response nobody asked for`, 'protocol');
        clearTimeout(w.timer);
        const correlationId = frame.readInt32BE(4);
        if (correlationId !== w.correlationId) {
          const err = new KafkaClientError(`Kafka at ${this.host}:${this.port} answered correlation id ${correlationId}, expected ${w.correlationId}`, 'protocol');
          w.reject(err);
          throw err;
        }
        w.resolve(frame.subarray(4 + responseHeaderLength(w.apiKey, w.apiVersion, frame)));
      }
    } catch (err) {
      this.fail(err instanceof KafkaClientError ? err : new KafkaClientError(String(err), 'protocol'));
    }
  }

  private fail(err: KafkaClientError): void {
    this.dead = true;
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.socket.destroy();
  }

  close(): void {
    this.fail(new KafkaClientError('closed by breakwater', 'closed'));
  }
}
