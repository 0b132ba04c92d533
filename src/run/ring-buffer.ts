/**
 * Bounded output capture for child processes: the last N bytes of a stream, decoded without ever emitting
 * half a UTF-8 sequence at the cut, and a line splitter whose pending line is bounded too. Memory stays at
 * the capacity whatever the child writes (a benchmark printing 1 GB without a newline included).
 */
import { StringDecoder } from 'node:string_decoder';

/** Keeps the last `capacity` bytes written to it. */
export class RingBuffer {
  readonly capacity: number;
  private readonly buf: Buffer;
  /** Index of the next byte to write. */
  private end = 0;
  private filled = 0;
  private total = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw new RangeError(`ring buffer capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.buf = Buffer.alloc(capacity);
  }

  /** Appends a chunk; only its last `capacity` bytes can matter, so larger chunks are sliced first. */
  push(chunk: Uint8Array | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.total += bytes.length;
    const src = bytes.length > this.capacity ? bytes.subarray(bytes.length - this.capacity) : bytes;
    const first = Math.min(src.length, this.capacity - this.end);
    this.buf.set(src.subarray(0, first), this.end);
    if (first < src.length) this.buf.set(src.subarray(first), 0);
    this.end = (this.end + src.length) % this.capacity;
    this.filled = Math.min(this.capacity, this.filled + src.length);
  }

  /** Bytes ever pushed. */
  get totalBytes(): number {
    return this.total;
  }

  /** True when older bytes were dropped. */
  get truncated(): boolean {
    return this.total > this.filled;
  }

  /** The kept bytes, oldest first (a copy). */
  bytes(): Buffer {
    if (this.filled < this.capacity) return Buffer.from(this.buf.subarray(0, this.filled));
    return Buffer.concat([this.buf.subarray(this.end), this.buf.subarray(0, this.end)]);
  }

  /**
   * The kept bytes as text. When older bytes were dropped, continuation bytes left over from a character
   * whose start was cut off are skipped, so the tail starts on a character boundary; any other invalid
   * UTF-8 (including a sequence the child left unfinished) becomes U+FFFD.
   */
  text(): string {
    let bytes = this.bytes();
    if (this.truncated) {
      let skip = 0;
      // A UTF-8 character has at most 3 continuation bytes; more than that is invalid input, left to the decoder.
      while (skip < 3 && skip < bytes.length && isContinuation(bytes[skip] ?? 0)) skip++;
      bytes = bytes.subarray(skip);
    }
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  }
}

function isContinuation(byte: number): boolean {
  return (byte & 0xc0) === 0x80;
}

/**
 * Splits a byte stream into lines for live forwarding (e.g. progress on stderr). A line longer than
 * `maxLineBytes` is emitted in pieces of at most that size, so a stream without newlines cannot grow memory.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineChars = 8192,
  ) {}

  push(chunk: Uint8Array): void {
    let text =
      this.pending + this.decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      this.onLine(stripCr(text.slice(0, nl)));
      text = text.slice(nl + 1);
      nl = text.indexOf('\n');
    }
    while (text.length > this.maxLineChars) {
      this.onLine(text.slice(0, this.maxLineChars));
      text = text.slice(this.maxLineChars);
    }
    this.pending = text;
  }

  /** Emits what is left (an unterminated last line). */
  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (rest.length > 0) this.onLine(stripCr(rest));
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
