import { describe, expect, it } from 'vitest';
import { InvalidReportError, isValidSite, parseProbeReport, siteSchema } from '../../src/report/schema.js';

const goodSite = {
  file: 'pkg/mod.py',
  function: 'Parser.feed',
  line: 12,
  code: 'buf = bytearray(n)',
  stmt: 'buf=bytearray(n)',
  ordinal: 0,
  via: '<stdlib>/json/decoder.py:353',
  peak: 4096,
  retained: 0,
  leak: null,
  count: 1,
};

function report(sites: unknown[], extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    schema: 'memdelta/probe@1',
    probe_version: '1.0.0',
    python: { version: '3.11.7', implementation: 'CPython' },
    target: { kind: 'script', spec: 'bench.py', args: [] },
    settings: { frames: 4, iterations: 1, warmup: 0, peak_sites: false, tolerance: 0.01, mode: 'traced' },
    exit_code: 0,
    error: null,
    wall_time: 0.1,
    peak: 1_000_000,
    peak_sites_total: null,
    retained: 10_000,
    leak: null,
    rss: null,
    sites,
    other: { sites: 0, peak: 0, retained: 0, count: 0 },
    gc: null,
    ...extra,
  });
}

/** Values that probe every check of a site field: wrong types, bounds, edge lengths. */
const MUTATIONS: Record<string, unknown[]> = {
  file: [
    '',
    'a'.repeat(1024),
    'a'.repeat(1025),
    '/etc/passwd',
    'C:\\x.py',
    'a/../b.py',
    '..',
    'a\u0000b',
    'a\nb',
    7,
    null,
  ],
  function: ['', 'f'.repeat(1024), 'f'.repeat(1025), 1, null],
  code: ['c'.repeat(4096), 'c'.repeat(4097), false],
  stmt: ['', 's'.repeat(4097), []],
  via: [null, 'v'.repeat(2048), 'v'.repeat(2049), 0],
  line: [0, -1, 1.5, 10_000_000, 10_000_001, '12', NaN, null],
  ordinal: [0, 1_000_000, 1_000_001, -1, 0.5],
  peak: [0, 2 ** 50, 2 ** 50 + 1, -1, 1e308, '1'],
  retained: [0, -5, 3.3],
  leak: [null, -(2 ** 50), -(2 ** 50) - 1, 2 ** 50, 0.1, 'x'],
  count: [0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -1],
};

describe('probe report validation', () => {
  it('checks sites by hand exactly as the schema does', () => {
    const cases: unknown[] = [goodSite, null, [], 'site', { ...goodSite, extra: 1 }];
    for (const [key, values] of Object.entries(MUTATIONS)) {
      for (const v of values) cases.push({ ...goodSite, [key]: v });
      const { [key]: _dropped, ...missing } = goodSite as Record<string, unknown>;
      cases.push(missing);
    }
    let accepted = 0;
    for (const c of cases) {
      const zodSays = siteSchema.safeParse(c).success;
      expect(isValidSite(c), JSON.stringify(c)?.slice(0, 120)).toBe(zodSays);
      if (zodSays) accepted++;
    }
    // Both outcomes occur, so the comparison means something.
    expect(accepted).toBeGreaterThan(10);
    expect(cases.length - accepted).toBeGreaterThan(30);
  });

  it('accepts a valid report and names the field of an invalid one', () => {
    expect(parseProbeReport(report([goodSite])).sites).toHaveLength(1);
    expect(() => parseProbeReport(report([{ ...goodSite, file: '../../etc/passwd' }]))).toThrow(
      /report field sites\.0\.file: must not contain a "\.\." segment/,
    );
    expect(() => parseProbeReport(report([{ ...goodSite, peak: -1 }]))).toThrow(/sites\.0\.peak/);
    expect(() => parseProbeReport(report([], { surprise: true }))).toThrow(InvalidReportError);
    expect(() => parseProbeReport(report([], { peak: Number.NaN }))).toThrow(/report field peak/);
    expect(() => parseProbeReport('{"schema": "memdelta/probe@1"')).toThrow(/not valid JSON/);
    expect(() => parseProbeReport(report(Array(20_001).fill(goodSite)))).toThrow(/sites/);
  });

  it('rejects sites that retain more than the report says it retains', () => {
    expect(() => parseProbeReport(report([{ ...goodSite, retained: 5_000_000 }]))).toThrow(
      /more than its total retained/,
    );
  });
});
