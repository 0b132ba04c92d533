/**
 * Validation of a compare report read back from a file (`memdelta render`, and the action's comment mode, which
 * reads a report produced by a workflow that ran pull-request code: untrusted data). Sizes are bounded and every
 * field is checked before anything is rendered or posted.
 */
import { z } from 'zod';
import type { CompareReport } from './types.js';

/** Largest compare report accepted. */
export const MAX_COMPARE_REPORT_BYTES = 32 * 1024 * 1024;
const LIMIT = 2 ** 50;

const int = z.number().int().min(-LIMIT).max(LIMIT);
const size = z.number().int().min(0).max(LIMIT);
const str = (n: number) => z.string().max(n);
const triple = z.strictObject({ base: int, head: int, delta: int });
const sha = z.string().regex(/^([0-9a-f]{40}|[0-9a-f]{64}|)$/);

const sideTotals = z.strictObject({ peak: size, retained: size, rss: size.optional(), leak: int.optional() });
const error = z.strictObject({
  side: z.enum(['base', 'head', 'both']),
  reason: str(64),
  message: str(10_000),
  tail: z.array(str(10_000)).max(200),
});
const detail = z.strictObject({
  source: z.enum(['measured', 'reused']),
  frames: z.number().int().min(1).max(1000),
  peakSites: z.boolean(),
  python: str(64).optional(),
  exitCode: z.number().int().optional(),
  wallTime: z.number().nonnegative().max(1e7).optional(),
});

const scenario = z.strictObject({
  name: str(10_000),
  status: z.enum(['ok', 'no-baseline', 'error']),
  error: error.optional(),
  baseError: error.optional(),
  base: sideTotals,
  head: sideTotals,
  delta: z.strictObject({ peak: int, retained: int, leak: int.optional(), rss: int.optional() }),
  budget: z
    .array(
      z.strictObject({
        rule: str(200),
        limit: int,
        actual: int,
        level: z.enum(['warn', 'fail']),
        ok: z.boolean(),
      }),
    )
    .max(100),
  sites: z
    .array(
      z.strictObject({
        file: str(10_000),
        function: str(10_000),
        line: z.number().int().min(0).max(10_000_000),
        code: str(10_000),
        via: str(10_000).optional(),
        status: z.enum(['new', 'removed', 'changed', 'same']),
        peak: triple,
        retained: triple,
        leak: triple.optional(),
      }),
    )
    .max(50_000),
  sameSites: z.number().int().min(0).optional(),
  gc: z
    .strictObject({
      uncollectable: z.strictObject({ base: size, head: size }),
      cyclic: z
        .strictObject({
          base: size,
          head: size,
          bytes: z.strictObject({ base: size, head: size }),
        })
        .optional(),
      growth: z.array(z.strictObject({ type: str(1000), base: int, head: int, delta: int })).max(100),
    })
    .optional(),
  detail: z.strictObject({ base: detail.optional(), head: detail.optional() }).optional(),
  iterations: z.number().int().min(0).optional(),
});

const compareReport = z.strictObject({
  schema: z.literal('memdelta/compare@1'),
  verdict: z.enum(['pass', 'warn', 'fail', 'error']),
  base: z.strictObject({ ref: str(1000), sha }),
  head: z.strictObject({ ref: str(1000), sha }),
  scenarios: z.array(scenario).max(10_000),
  error: str(10_000).optional(),
  shard: z
    .strictObject({
      index: z.number().int().min(1).max(1000),
      count: z.number().int().min(1).max(1000),
      total: z.number().int().min(0).max(10_000),
      positions: z
        .array(
          z
            .number()
            .int()
            .min(0)
            .max(2 ** 40),
        )
        .max(10_000),
    })
    .refine((s) => s.index <= s.count, 'index is larger than count')
    .optional(),
  settings: z
    .strictObject({
      python: str(64).optional(),
      frames: z.number().int().min(1).max(1000),
      minDelta: z.strictObject({ bytes: size, percent: z.number().min(0).max(100) }),
      memdeltaVersion: str(64),
      repositoryUrl: str(1000).optional(),
      command: str(10_000).optional(),
    })
    .optional(),
});

/** Raised for a compare report that cannot be trusted. */
export class InvalidCompareReportError extends Error {
  override readonly name = 'InvalidCompareReportError';
}

/**
 * Parses and validates the text of a compare report.
 * @throws InvalidCompareReportError naming the first problem
 */
export function parseCompareReport(text: string): CompareReport {
  if (text.length > MAX_COMPARE_REPORT_BYTES) {
    throw new InvalidCompareReportError(`the compare report is over ${MAX_COMPARE_REPORT_BYTES} characters`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InvalidCompareReportError(
      `the compare report is not valid JSON (${(e as Error).message.slice(0, 200)})`,
    );
  }
  const r = compareReport.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InvalidCompareReportError(
      `the compare report's field ${issue?.path.join('.') || '(top level)'} is invalid: ${issue?.message ?? ''}`,
    );
  }
  return r.data as CompareReport;
}
