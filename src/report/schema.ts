/**
 * Validation of probe reports. A probe report is written by a process that ran the pull request's code, so it is
 * untrusted data: no number in it is used before it has passed this schema. Anything missing, malformed, negative,
 * non-finite, absurdly large or unexpected makes the report invalid, and an invalid report is an error, never a pass.
 */
import { z } from 'zod';
import type { ProbeReport } from './types.js';

/** Largest report text accepted (the probe caps its site list and stays far below this). */
export const MAX_REPORT_BYTES = 16 * 1024 * 1024;
/** Largest site list accepted. */
export const MAX_SITES = 20_000;
/** No Python process traces more than this; a larger number is corruption or forgery. */
const MAX_BYTES_VALUE = 2 ** 50; // 1 PiB

const bytes = z.number().int().nonnegative().max(MAX_BYTES_VALUE);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const text = (max: number) => z.string().max(max);

/**
 * A site path: repo-relative, `site-packages/...`, `<stdlib>/...` or a `<bucket>`. Never absolute and never with a
 * `..` segment, because paths end up in links and annotations.
 */
const sitePath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(p), 'must be a relative path')
  .refine((p) => !p.split(/[\\/]/).includes('..'), 'must not contain a ".." segment')
  .refine((p) => !/[\u0000-\u001f\u007f]/.test(p), 'must not contain control characters');

const site = z.strictObject({
  file: sitePath,
  function: text(1024),
  line: z.number().int().nonnegative().max(10_000_000),
  code: text(4096),
  stmt: text(4096),
  ordinal: z.number().int().nonnegative().max(1_000_000),
  via: text(2048).nullable(),
  peak: bytes,
  retained: bytes,
  leak: z.number().int().min(-MAX_BYTES_VALUE).max(MAX_BYTES_VALUE).nullable(),
  count: count,
});

const typeCount = z.strictObject({ type: text(512), count: count });

const gc = z.strictObject({
  cyclic: z.strictObject({ objects: count, bytes: bytes, types: z.array(typeCount).max(100) }),
  uncollectable: z.strictObject({ count: count, types: z.array(typeCount).max(100) }),
  growth: z
    .array(
      z.strictObject({
        type: text(512),
        before: count,
        after: count,
        delta: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
      }),
    )
    .max(100),
});

const probeReport = z.strictObject({
  schema: z.literal('memdelta/probe@1'),
  probe_version: text(64),
  python: z.strictObject({ version: text(64), implementation: text(64) }),
  target: z.strictObject({
    kind: z.enum(['script', 'module', 'callable', 'pytest']),
    spec: text(4096),
    args: z.array(text(4096)).max(1000),
  }),
  settings: z.strictObject({
    frames: z.number().int().min(1).max(1000),
    iterations: z.number().int().min(0).max(10_000_000),
    warmup: z.number().int().min(0).max(10_000_000),
    peak_sites: z.boolean(),
    tolerance: z.number().min(0).max(1),
    mode: z.enum(['traced', 'rss']),
  }),
  exit_code: z.number().int().min(-255).max(255),
  error: z
    .strictObject({ type: text(512), message: text(8192), traceback: z.array(text(4096)).max(200) })
    .nullable(),
  wall_time: z.number().nonnegative().max(1e7),
  peak: bytes,
  peak_sites_total: bytes.nullable(),
  retained: bytes,
  leak: z
    .strictObject({
      iterations: z.number().int().nonnegative().max(10_000_000),
      warmup: z.number().int().nonnegative().max(10_000_000),
      per_iteration: z.number().int().min(-MAX_BYTES_VALUE).max(MAX_BYTES_VALUE),
      setup: z.number().int().min(-MAX_BYTES_VALUE).max(MAX_BYTES_VALUE),
      series: z.array(bytes).max(100_000),
    })
    .nullable(),
  rss: bytes.nullable(),
  sites: z.array(site).max(MAX_SITES),
  other: z.strictObject({ sites: count, peak: bytes, retained: bytes, count: count }),
  gc: gc.nullable(),
});

/** The report with its site list checked only for length: the sites go through {@link isValidSite}. */
const probeReportShell = probeReport.extend({ sites: z.array(z.unknown()).max(MAX_SITES) });

const SITE_KEYS = new Set(Object.keys(site.shape));
const isInt = (v: unknown, min: number, max: number): boolean =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/**
 * Exactly the `site` schema above, written out by hand: zod costs several times JSON.parse on a list of thousands
 * of sites, and this runs in a fraction of it. It never accepts what the schema rejects (a test checks the two
 * against each other on mutated sites); on any doubt the caller falls back to the schema, which also words the error.
 */
export function isValidSite(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== SITE_KEYS.size || !keys.every((k) => SITE_KEYS.has(k))) return false;
  const file = o.file;
  if (!isStr(file, 1024) || file.length === 0) return false;
  if (file.startsWith('/') || /^[A-Za-z]:[\\/]/.test(file)) return false;
  if (file.split(/[\\/]/).includes('..') || /[\u0000-\u001f\u007f]/.test(file)) return false;
  return (
    isStr(o.function, 1024) &&
    isStr(o.code, 4096) &&
    isStr(o.stmt, 4096) &&
    (o.via === null || isStr(o.via, 2048)) &&
    isInt(o.line, 0, 10_000_000) &&
    isInt(o.ordinal, 0, 1_000_000) &&
    isInt(o.peak, 0, MAX_BYTES_VALUE) &&
    isInt(o.retained, 0, MAX_BYTES_VALUE) &&
    (o.leak === null || isInt(o.leak, -MAX_BYTES_VALUE, MAX_BYTES_VALUE)) &&
    isInt(o.count, 0, Number.MAX_SAFE_INTEGER)
  );
}

/** The site schema itself, for tests that hold {@link isValidSite} to it. */
export const siteSchema = site;

/** Raised for a report that cannot be trusted; `message` says exactly why. */
export class InvalidReportError extends Error {
  override readonly name = 'InvalidReportError';
}

/**
 * Parses and validates the text of a probe report.
 * @param raw the file's text (the caller enforces {@link MAX_REPORT_BYTES} before reading it whole)
 * @throws InvalidReportError naming the first problem found and where
 */
export function parseProbeReport(raw: string): ProbeReport {
  if (raw.length > MAX_REPORT_BYTES) {
    throw new InvalidReportError(`report is ${raw.length} characters, over the ${MAX_REPORT_BYTES} limit`);
  }
  return validateProbeReport(parseJson(raw, 'report'));
}

/** JSON.parse with the failure worded as an invalid report. */
export function parseJson(raw: string, what: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new InvalidReportError(`${what} is not valid JSON (${(e as Error).message.slice(0, 200)})`);
  }
}

/**
 * Validates a parsed probe report (also each test's report inside a pytest run).
 * @param where prefix of field paths in messages, e.g. `tests.3.report.`
 * @throws InvalidReportError naming the first problem found and where
 */
export function validateProbeReport(data: unknown, where = ''): ProbeReport {
  // Fast path: the shell through zod, the (possibly long) site list by hand.
  const shell = probeReportShell.safeParse(data);
  if (shell.success && shell.data.sites.every(isValidSite)) {
    const report = shell.data as ProbeReport;
    checkConsistency(report);
    return report;
  }
  const result = probeReport.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue && issue.path.length > 0 ? issue.path.join('.') : '';
    const field = `${where}${path}`.replace(/\.$/, '') || '(top level)';
    const more =
      result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more problems)` : '';
    throw new InvalidReportError(`report field ${field}: ${issue?.message ?? 'invalid'}${more}`);
  }
  const report = result.data as ProbeReport;
  checkConsistency(report);
  return report;
}

/** Cross-field checks a schema cannot express: numbers that contradict each other mean a forged or broken report. */
function checkConsistency(r: ProbeReport): void {
  if (r.settings.mode === 'traced') {
    const siteRetained = r.sites.reduce((s, x) => s + x.retained, 0) + r.other.retained;
    if (siteRetained > r.retained * 1.05 + 64 * 1024) {
      throw new InvalidReportError(
        `report's sites retain ${siteRetained} B, more than its total retained ${r.retained} B`,
      );
    }
  }
}
