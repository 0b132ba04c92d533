/**
 * Validation of the pytest plugin's run file (`memdelta/pytest@1`). Like a probe report it is written by a process
 * that ran the pull request's code, so it is untrusted: the envelope goes through a strict schema and every test's
 * report through the probe report's own validation.
 */
import { z } from 'zod';
import { InvalidReportError, parseJson, validateProbeReport } from './schema.js';
import { POSITION_STRIDE, type PytestRun, type PytestTest } from './types.js';

/** Largest run file accepted: up to {@link MAX_TESTS} reports of a few KB each in the cheap pass. */
export const MAX_PYTEST_RUN_BYTES = 64 * 1024 * 1024;
/** Most tests one run may report (a compare report lists at most 10 000 scenarios). */
export const MAX_TESTS = 5000;

const text = (max: number) => z.string().max(max);
const failure = z.strictObject({
  type: text(512),
  message: text(8192),
  traceback: z.array(text(4096)).max(200),
});

/** pytest node ids are paths inside the repository followed by `::` parts. */
const nodeId = text(4096)
  .min(1)
  .refine((id) => !id.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(id), 'must be a relative node id')
  .refine((id) => !id.split('::')[0]?.split(/[\\/]/).includes('..'), 'must not leave the repository')
  .refine((id) => !/[\u0000-\u001f\u007f]/.test(id), 'must not contain control characters');

const run = z.strictObject({
  schema: z.literal('memdelta/pytest@1'),
  probe_version: text(64),
  python: z.strictObject({ version: text(64), implementation: text(64) }),
  pytest_version: text(64),
  exit_code: z.number().int().min(-255).max(255),
  collected: z.number().int().min(0).max(10_000_000),
  errors: z.array(failure.extend({ id: text(4096) })).max(1000),
  tests: z
    .array(
      z.strictObject({
        id: nodeId,
        // Below the room a scenario has for its tests in a shard's sort keys (POSITION_STRIDE).
        index: z
          .number()
          .int()
          .min(0)
          .max(POSITION_STRIDE - 2),
        outcome: z.enum(['passed', 'failed', 'skipped', 'xfailed', 'xpassed', 'error', 'not-run']),
        phase: z.enum(['setup', 'call', 'teardown']),
        error: failure.nullable(),
        report: z.unknown(),
      }),
    )
    .max(MAX_TESTS),
});

/**
 * Parses and validates the text of a pytest run file.
 * @throws InvalidReportError naming the first problem and where
 */
export function parsePytestRun(raw: string): PytestRun {
  if (raw.length > MAX_PYTEST_RUN_BYTES) {
    throw new InvalidReportError(
      `pytest run file is ${raw.length} characters, over the ${MAX_PYTEST_RUN_BYTES} limit`,
    );
  }
  const parsed = run.safeParse(parseJson(raw, 'pytest run file'));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new InvalidReportError(`pytest run file field ${where}: ${issue?.message ?? 'invalid'}`);
  }
  const ids = new Set<string>();
  const tests: PytestTest[] = parsed.data.tests.map((t, i) => {
    if (ids.has(t.id))
      throw new InvalidReportError(`pytest run file lists test ${JSON.stringify(t.id)} twice`);
    ids.add(t.id);
    const report = t.report === null ? null : validateProbeReport(t.report, `tests.${i}.report.`);
    if (report && (report.target.kind !== 'pytest' || report.target.spec !== t.id)) {
      throw new InvalidReportError(`pytest run file: the report of tests.${i} is not the report of ${t.id}`);
    }
    return { ...t, report };
  });
  return { ...parsed.data, tests };
}
