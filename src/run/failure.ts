/**
 * How a probe run failed, worded for the report: a run that did not end by itself, a run over its memory limit,
 * and the bounded tail of its output that goes with the error.
 */
import type { ProbeReport, ScenarioError } from '../report/types.js';
import { formatBytes } from '../render/format.js';
import { mentionsOutOfMemory } from './memory-limit.js';
import type { ProcessOutcome } from './process.js';

type Side = ScenarioError['side'];

/** Lines of output or traceback kept with an error. */
export const TAIL_LINES = 20;

/** Longest tail line kept; the compare report's schema allows 10 000 characters, a benchmark may print 1 GB. */
const TAIL_LINE_CHARS = 2000;

/** The end of a long line, marked as cut, never starting inside a surrogate pair. */
function capLine(line: string): string {
  if (line.length <= TAIL_LINE_CHARS) return line;
  let end = line.slice(-TAIL_LINE_CHARS);
  if (/^[\uDC00-\uDFFF]/.test(end)) end = end.slice(1);
  return `…${end}`;
}

/** The last `n` lines of a child's output, each capped. */
export function tailLines(text: string, n = TAIL_LINES): string[] {
  const lines = text.replace(/\s+$/, '').split(/\r?\n/);
  return lines
    .slice(Math.max(0, lines.length - n))
    .filter((l, i, a) => l !== '' || i < a.length - 1)
    .map(capLine);
}

/** The error of a run that did not end by itself (no start, timeout, signal); undefined when it exited. */
export function processFailure(side: Side, o: ProcessOutcome, timeoutMs: number): ScenarioError | undefined {
  const tail = tailLines(o.stderrTail);
  const escaped = o.leftovers.length > 0 ? `; left processes behind, killed: ${o.leftovers.join(', ')}` : '';
  switch (o.kind) {
    case 'spawn':
      return {
        side,
        reason: 'spawn',
        message: `could not start the probe: ${o.error ?? 'unknown error'}`,
        tail,
      };
    case 'timeout':
      return {
        side,
        reason: 'timeout',
        message: `timed out after ${Math.round(timeoutMs / 1000)} s and was killed${escaped}`,
        tail,
      };
    case 'signal':
      if (o.cancelled) return { side, reason: 'cancelled', message: 'cancelled', tail };
      return o.likelyOom
        ? {
            side,
            reason: 'oom',
            message: `killed by ${o.signal ?? 'SIGKILL'}, likely out of memory${escaped}`,
            tail,
          }
        : { side, reason: 'signal', message: `killed by ${o.signal ?? 'a signal'}${escaped}`, tail };
    default:
      return undefined;
  }
}

/** A MemoryError raised under a memory limit, as the report words it; undefined for any other error. */
export function memoryErrorUnderLimit(
  side: Side,
  limit: number | undefined,
  error: ProbeReport['error'],
): ScenarioError | undefined {
  if (limit === undefined || error?.type !== 'MemoryError') return undefined;
  const tail = error.traceback.slice(-TAIL_LINES);
  return {
    side,
    reason: 'memory-limit',
    message: `over memory limit (${formatBytes(limit)}): MemoryError`,
    tail,
  };
}

/**
 * A run that ended because it hit the scenario's memory limit: the probe reported a MemoryError, or the run died
 * (killed, or no report) with output saying an allocation failed. Undefined when there is no limit or no sign.
 */
export function overMemoryLimit(
  side: Side,
  limit: number | undefined,
  o: ProcessOutcome,
  report: Pick<ProbeReport, 'error'> | undefined,
): ScenarioError | undefined {
  if (limit === undefined || o.kind === 'timeout' || o.cancelled || o.kind === 'spawn') return undefined;
  const what = `over memory limit (${formatBytes(limit)})`;
  const raised = memoryErrorUnderLimit(side, limit, report?.error ?? null);
  if (raised) return raised;
  const died = o.kind === 'signal' || report === undefined;
  if (died && (o.likelyOom || mentionsOutOfMemory(o.stderrTail))) {
    const how =
      o.kind === 'signal' ? `killed by ${o.signal ?? 'a signal'}` : `exit code ${o.exitCode ?? 'none'}`;
    return { side, reason: 'memory-limit', message: `${what}: ${how}`, tail: tailLines(o.stderrTail) };
  }
  return undefined;
}
