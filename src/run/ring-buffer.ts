/**
 * Bounded tails of a child's output. A benchmark may print a gigabyte without a newline; only the last N bytes
 * are kept, in memory bounded by about 2 N whatever the chunk sizes.
 */
import { StringDecoder } from 'node:string_decoder';

/** Keeps the last `maxBytes` bytes written to it. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private held = 0;
  private total = 0;

  constructor(readonly maxBytes: number) {
    if (!Number.isInteger(maxBytes) || maxBytes <= 0)
      throw new RangeError(`maxBytes must be a positive integer`);
  }

  /** Appends a chunk; strings are taken as UTF-8. */
  push(chunk: Buffer | Uint8Array | string): void {
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.total += buf.length;
    if (buf.length >= this.maxBytes) {
      // Copy the tail so the (possibly huge) chunk itself is not retained.
      this.chunks = [Buffer.from(buf.subarray(buf.length - this.maxBytes))];
      this.held = this.maxBytes;
      return;
    }
    this.chunks.push(Buffer.from(buf));
    this.held += buf.length;
    if (this.held > 2 * this.maxBytes) this.compact();
  }

  private compact(): void {
    const all = Buffer.concat(this.chunks, this.held);
    this.chunks = [Buffer.from(all.subarray(all.length - this.maxBytes))];
    this.held = this.maxBytes;
  }

  /** Bytes written so far, kept or not. */
  get totalBytes(): number {
    return this.total;
  }

  /** Bytes written but no longer kept. */
  get droppedBytes(): number {
    return this.total - Math.min(this.total, this.maxBytes);
  }

  /** The kept bytes (at most `maxBytes`). */
  bytes(): Buffer {
    const all = Buffer.concat(this.chunks, this.held);
    return all.length > this.maxBytes ? all.subarray(all.length - this.maxBytes) : all;
  }

  /**
   * The kept bytes as text. When the start was cut inside a multibyte character, its continuation bytes are
   * skipped, so the text never begins with a broken sequence; other invalid UTF-8 becomes U+FFFD.
   */
  text(): string {
    let buf = this.bytes();
    if (this.droppedBytes > 0) {
      let skip = 0;
      // At most 3 continuation bytes (10xxxxxx) can follow a cut lead byte.
      while (skip < 3 && skip < buf.length && ((buf[skip] as number) & 0xc0) === 0x80) skip++;
      buf = buf.subarray(skip);
    }
    return new TextDecoder('utf-8', { fatal: false }).decode(buf);
  }
}

/**
 * Splits a byte stream into lines for a callback, decoding UTF-8 across chunk boundaries. A line longer than
 * `maxLine` characters is delivered cut (with "…") and the rest of it skipped, so memory stays bounded.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private skipping = false;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLine = 16_384,
  ) {}

  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.take(text.slice(start, nl), true);
      start = nl + 1;
    }
    this.take(text.slice(start), false);
  }

  private take(piece: string, ended: boolean): void {
    if (!this.skipping) {
      this.pending += piece;
      if (this.pending.length > this.maxLine) {
        this.onLine(`${this.pending.slice(0, this.maxLine)}…`);
        this.pending = '';
        this.skipping = true;
      }
    }
    if (ended) {
      if (!this.skipping) this.onLine(this.pending.replace(/\r$/, ''));
      this.pending = '';
      this.skipping = false;
    }
  }

  /** Delivers the last line if it had no newline. */
  end(): void {
    this.pending += this.decoder.end();
    if (this.pending !== '' && !this.skipping) this.onLine(this.pending);
    this.pending = '';
  }
}
