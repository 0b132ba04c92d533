import { describe, expect, it } from 'vitest';
import { LineSplitter, TailBuffer } from '../../src/run/ring-buffer.js';

describe('TailBuffer', () => {
  it('keeps the exact tail of 50 MB without a newline in bounded memory', () => {
    const tail = new TailBuffer(4096);
    const chunk = Buffer.alloc(64 * 1024);
    const total = 50 * 1024 * 1024;
    let written = 0;
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    let peakHeld = 0;
    for (let i = 0; written < total; i++) {
      // Each chunk is filled with a letter that identifies it, the last bytes with a counter.
      chunk.fill(97 + (i % 26));
      const stamp = Buffer.from(String(i).padStart(8, '0'));
      stamp.copy(chunk, chunk.length - stamp.length);
      tail.push(chunk);
      written += chunk.length;
      peakHeld = Math.max(peakHeld, tail.bytes().length);
    }
    const last = Math.floor(total / chunk.length) - 1;
    const expected = Buffer.alloc(4096, 97 + (last % 26));
    Buffer.from(String(last).padStart(8, '0')).copy(expected, 4096 - 8);
    expect(tail.bytes().equals(expected)).toBe(true);
    expect(tail.text()).toBe(expected.toString('latin1'));
    expect(tail.totalBytes).toBe(total);
    expect(tail.droppedBytes).toBe(total - 4096);
    expect(peakHeld).toBeLessThanOrEqual(4096);
    // Memory: the buffer never held more than about 2 × 4 KiB plus one chunk. The heap also holds garbage the
    // collector has not reclaimed yet (it runs when it likes), so the bound is loose: far below the 50 MB written.
    const heapAfter = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    expect(heapAfter - heapBefore).toBeLessThan(24 * 1024 * 1024);
  });

  it('handles one chunk larger than the buffer', () => {
    const tail = new TailBuffer(10);
    tail.push('0123456789abcdefghij');
    expect(tail.text()).toBe('abcdefghij');
    tail.push('XY');
    expect(tail.text()).toBe('cdefghijXY');
  });

  it('decodes a multibyte character split across chunks', () => {
    const tail = new TailBuffer(1024);
    const euro = Buffer.from('€', 'utf8'); // e2 82 ac
    tail.push(Buffer.concat([Buffer.from('price: '), euro.subarray(0, 1)]));
    tail.push(euro.subarray(1, 2));
    tail.push(Buffer.concat([euro.subarray(2), Buffer.from('5')]));
    expect(tail.text()).toBe('price: €5');
  });

  it('never starts with a broken sequence when the cut falls inside a character', () => {
    const tail = new TailBuffer(5);
    tail.push('a€b€'); // 61 e2 82 ac 62 e2 82 ac: the last 5 bytes start inside the first €
    expect(tail.bytes().length).toBe(5);
    expect(tail.text()).toBe('b€');
    const four = new TailBuffer(6);
    four.push('x😀😀'); // f0 9f 98 80 twice: the cut leaves 2 continuation bytes of the first
    expect(four.text()).toBe('😀');
  });

  it('replaces invalid UTF-8 instead of failing', () => {
    const tail = new TailBuffer(64);
    tail.push(Buffer.from([0x6f, 0x6b, 0xff, 0xfe, 0x20, 0xc3, 0x28, 0x21]));
    expect(tail.text()).toBe('ok\uFFFD\uFFFD \uFFFD(!');
  });
});

describe('LineSplitter', () => {
  it('splits lines across chunks, decoding split characters, and flushes the last line', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const text = Buffer.from('first\r\nsec€ond\nthird');
    for (let i = 0; i < text.length; i += 3) s.push(text.subarray(i, i + 3));
    s.end();
    expect(lines).toEqual(['first', 'sec€ond', 'third']);
  });

  it('cuts an endless line instead of holding it', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l), 10);
    for (let i = 0; i < 1000; i++) s.push('y'.repeat(100));
    s.push('\nnext\n');
    s.end();
    expect(lines).toEqual([`${'y'.repeat(10)}…`, 'next']);
  });
});
