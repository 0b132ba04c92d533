/**
 * Synthetic probe reports of any size, shaped like real ones: project files in packages, installed packages and
 * the standard library, qualified function names, normalised statements with twins (ordinals), sizes spread over
 * several orders of magnitude, and a head that moved lines, changed some sites, added and removed others.
 * Seeded, so every run measures the same data.
 */
import type { ProbeReport, ProbeSite } from '../../src/report/types.js';

/** A small fast PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATEMENTS = [
  ['rows = [transform(x) for x in items]', 'rows=[transform(x)forxinitems]'],
  ['index.setdefault(key, []).append(value)', 'index.setdefault(key,[]).append(value)'],
  ['buf = bytearray(size)', 'buf=bytearray(size)'],
  ['text = json.dumps(payload, sort_keys=True)', 'text=json.dumps(payload,sort_keys=True)'],
  ['self.cache[key] = value', 'self.cache[key]=value'],
  ["parts = line.split(',')", "parts=line.split(',')"],
  ['return {k: v for k, v in pairs if v is not None}', 'return{k:vfork,vinpairsifvisnotNone}'],
  ['obj = Record(key, name, tags, payload)', 'obj=Record(key,name,tags,payload)'],
] as const;

function fileName(r: () => number, i: number): string {
  const x = r();
  if (x < 0.1) return `site-packages/numpy/core/_methods_${i % 40}.py`;
  if (x < 0.15) return `<stdlib>/json/decoder_${i % 10}.py`;
  return `src/pkg_${i % 25}/sub_${i % 7}/module_${Math.floor(i / 30)}.py`;
}

function size(r: () => number): number {
  return Math.floor(32 * Math.pow(10, r() * 5)); // 32 B .. 3 MB, log-uniform
}

function baseSites(n: number, r: () => number): ProbeSite[] {
  const sites: ProbeSite[] = [];
  for (let i = 0; i < n; i++) {
    const [code, stmt] = STATEMENTS[i % STATEMENTS.length] as readonly [string, string];
    const twin = r() < 0.05; // an identical statement twice in one function
    const peak = size(r);
    sites.push({
      file: fileName(r, i),
      function: i % 11 === 0 ? '<module>' : `Service_${i % 50}.handle_${i % 17}.<locals>.step_${i}`,
      line: 10 + (i % 30) * 20,
      code: `${code}  # ${i}`,
      stmt: `${stmt}#${i}`,
      ordinal: twin ? 1 : 0,
      via: r() < 0.3 ? `<stdlib>/json/decoder.py:${300 + (i % 60)}` : null,
      peak,
      retained: Math.floor(peak * r() * 0.5),
      leak: null,
      count: 1 + Math.floor(r() * 1000),
    });
  }
  return sites;
}

/** Head: lines moved by an insertion above, 10 % of sites changed, 2 % removed, 2 % new, 1 % ordinal shifts. */
function headSites(base: readonly ProbeSite[], r: () => number): ProbeSite[] {
  const out: ProbeSite[] = [];
  let added = 0;
  for (const s of base) {
    const x = r();
    if (x < 0.02) continue; // removed
    const moved = { ...s, line: s.line + 3 };
    if (x < 0.12) {
      const f = 0.8 + r() * 0.4;
      out.push({ ...moved, peak: Math.floor(s.peak * f), retained: Math.floor(s.retained * f) });
    } else if (x < 0.13) {
      out.push({ ...moved, ordinal: s.ordinal + 1 });
    } else {
      out.push(moved);
    }
    if (r() < 0.02) {
      const peak = size(r);
      out.push({
        ...moved,
        line: moved.line + 1,
        code: `extra = list(range(${added}))`,
        stmt: `extra=list(range(${added}))`,
        ordinal: 0,
        peak,
        retained: Math.floor(peak / 3),
      });
      added++;
    }
  }
  return out;
}

function report(sites: ProbeSite[]): ProbeReport {
  const peakSum = sites.reduce((a, s) => a + s.peak, 0);
  const retained = sites.reduce((a, s) => a + s.retained, 0);
  return {
    schema: 'memdelta/probe@1',
    probe_version: '0.1.0',
    python: { version: '3.11.7', implementation: 'CPython' },
    target: { kind: 'script', spec: 'benchmarks/ingest.py', args: [] },
    settings: { frames: 4, iterations: 1, warmup: 0, peak_sites: true, tolerance: 0.01, mode: 'traced' },
    exit_code: 0,
    error: null,
    wall_time: 1.25,
    peak: peakSum,
    peak_sites_total: peakSum,
    retained,
    leak: null,
    rss: null,
    sites,
    other: { sites: 0, peak: 0, retained: 0, count: 0 },
    gc: null,
  };
}

/** A base and a head report of `n` sites each (head ± 2 %), as the probe would write them. */
export function synthReports(n: number, seed = 1): { base: ProbeReport; head: ProbeReport } {
  const r = rng(seed);
  const b = baseSites(n, r);
  return { base: report(b), head: report(headSites(b, r)) };
}
