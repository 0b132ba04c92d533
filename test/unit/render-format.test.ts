import { describe, expect, it } from 'vitest';
import {
  formatBytes,
  formatChange,
  formatCount,
  formatDelta,
  formatPercent,
  MINUS,
} from '../../src/render/format.js';

describe('formatBytes', () => {
  it('uses binary units at the 1023 B / 1 KiB / 1.5 GiB boundaries', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1024)).toBe('1 KiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(1.5 * 1024 ** 3)).toBe('1.5 GiB');
    expect(formatBytes(512 * 1024 ** 2)).toBe('512 MiB');
    expect(formatBytes(Math.round(12.44 * 1024 ** 2))).toBe('12.4 MiB');
  });
  it('moves to the next unit when rounding reaches 1024', () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe('1 MiB');
  });
});

describe('formatDelta', () => {
  it('always shows the sign and ±0 for no change', () => {
    expect(formatDelta(0)).toBe('±0');
    expect(formatDelta(-512)).toBe(`${MINUS}512 B`);
    expect(formatDelta(Math.round(1.2 * 1024 ** 2))).toBe('+1.2 MiB');
    expect(formatDelta(1)).toBe('+1 B');
  });
});

describe('formatPercent', () => {
  it('never divides by zero', () => {
    expect(formatPercent(0, 0)).toBe('±0 %');
    expect(formatPercent(0, 4096)).toBe('new');
    expect(formatPercent(4096, 0)).toBe(`${MINUS}100 %`);
  });
  it('rounds sensibly and keeps the sign', () => {
    expect(formatPercent(100, 131)).toBe('+31 %');
    expect(formatPercent(1000, 955)).toBe(`${MINUS}4.5 %`);
    expect(formatPercent(1_000_000, 1_000_001)).toBe('+<0.1 %');
  });
});

describe('formatChange and formatCount', () => {
  it('writes base → head with delta and percentage', () => {
    expect(formatChange(40 * 1024 ** 2, Math.round(52.4 * 1024 ** 2))).toBe(
      '40 MiB → 52.4 MiB (+12.4 MiB, +31 %)',
    );
    expect(formatChange(0, 2048)).toBe('0 B → 2 KiB (+2 KiB, new)');
    expect(formatChange(2048, 2048)).toBe('2 KiB (±0)');
    expect(formatChange(2048, 1024, false)).toBe(`2 KiB → 1 KiB (${MINUS}1 KiB)`);
  });
  it('groups thousands', () => {
    expect(formatCount(2000)).toBe('2 000');
    expect(formatCount(-1234567)).toBe(`${MINUS}1 234 567`);
    expect(formatCount(999)).toBe('999');
  });
});
