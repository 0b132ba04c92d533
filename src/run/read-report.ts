/**
 * Reading a probe report from disk. The benchmark knows where its report goes and may have replaced it with
 * anything (a symlink, a FIFO, a 2 GB file), so the file is opened without following links or blocking, must be a
 * regular file under the size cap, and is read with a bounded buffer before the schema sees it.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { MAX_PYTEST_RUN_BYTES, parsePytestRun } from '../report/pytest-schema.js';
import { InvalidReportError, MAX_REPORT_BYTES, parseProbeReport } from '../report/schema.js';
import type { ProbeReport, PytestRun } from '../report/types.js';

/** The outcome of reading a report: the validated report, or why there is none. */
export type ReportRead<T = ProbeReport> =
  { ok: true; report: T } | { ok: false; reason: 'report-missing' | 'report-invalid'; message: string };

/**
 * Reads and validates the probe report at `path`.
 * @param maxBytes size cap (tests lower it)
 */
export function readProbeReport(path: string, maxBytes = MAX_REPORT_BYTES): Promise<ReportRead> {
  return readValidated(path, maxBytes, parseProbeReport);
}

/** Reads and validates the pytest plugin's run file at `path` (`memdelta/pytest@1`). */
export function readPytestRun(path: string, maxBytes = MAX_PYTEST_RUN_BYTES): Promise<ReportRead<PytestRun>> {
  return readValidated(path, maxBytes, parsePytestRun);
}

async function readValidated<T>(
  path: string,
  maxBytes: number,
  parse: (text: string) => T,
): Promise<ReportRead<T>> {
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      return { ok: false, reason: 'report-missing', message: 'the probe wrote no report' };
    if (code === 'ELOOP')
      return { ok: false, reason: 'report-invalid', message: 'the report path is a symbolic link' };
    return {
      ok: false,
      reason: 'report-invalid',
      message: `the report cannot be opened (${code ?? 'error'})`,
    };
  }
  try {
    const st = await handle.stat();
    if (!st.isFile())
      return { ok: false, reason: 'report-invalid', message: 'the report is not a regular file' };
    if (st.size > maxBytes) {
      return {
        ok: false,
        reason: 'report-invalid',
        message: `the report is ${st.size} bytes, over the ${maxBytes}-byte limit`,
      };
    }
    // Read at most maxBytes + 1 even if the file grew after fstat.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled > maxBytes) {
      return {
        ok: false,
        reason: 'report-invalid',
        message: `the report grew past the ${maxBytes}-byte limit`,
      };
    }
    const text = new TextDecoder('utf-8', { fatal: false }).decode(buf.subarray(0, filled));
    return { ok: true, report: parse(text) };
  } catch (e) {
    if (e instanceof InvalidReportError) return { ok: false, reason: 'report-invalid', message: e.message };
    throw e;
  } finally {
    await handle.close();
  }
}
