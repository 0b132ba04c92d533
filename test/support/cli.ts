/**
 * Running memdelta for tests: the CLI in this process through its own entry (`runCli`), and a shipped bundle as a
 * child process with the Node the package requires. Every run gets the same bare environment with a base-report
 * cache of this test process's own, so no test reuses the user's or another run's base reports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import type { CompareReport } from '../../src/report/types.js';
import { TEST_CACHE_HOME } from './cache-home.js';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The Node the package requires (the `node` devDependency), not whichever node runs the tests. */
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');

/** The environment a bare shell would give: PATH and HOME only, the test process's cache, plus `extra`. */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/root',
    // A base-report cache of this test process's own: never the user's, never another run's.
    XDG_CACHE_HOME: TEST_CACHE_HOME,
    ...extra,
  };
}

/** Options of {@link runCliInProcess}. */
export interface CliOptions {
  /** The CLI's working directory; the test process's by default. */
  cwd?: string;
  /** The whole environment the CLI sees; {@link baseEnv}() by default. */
  env?: Record<string, string | undefined>;
}

/** Options of {@link runCliInProcess} that also collect the report it writes. */
export interface CliReportOptions extends CliOptions {
  /** Folder for the report: `--json` (and `--markdown`) get fresh files in it, added after the subcommand. */
  reportDir: string;
  /** Also ask for `--markdown` and return its text. */
  markdown?: boolean;
}

/** What an in-process run printed and its exit status. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** An in-process run with the JSON report it wrote and its markdown ('' when not asked for or not written). */
export interface CliReportRun extends CliRun {
  report: CompareReport;
  markdown: string;
}

/** A stream that keeps what is written to it; not a TTY, so the CLI prints without colour. */
class Sink {
  text = '';
  isTTY = false;
  write(chunk: string | Uint8Array): boolean {
    // Decoded as UTF-8: String() of a Uint8Array would give its byte values.
    this.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }
}

let runs = 0;

/**
 * Runs `memdelta <args>` in this process and collects its output and exit status. With `reportDir`, it also adds
 * `--json` (and with `markdown`, `--markdown`) pointing at fresh files there, and returns the parsed report; a run
 * that wrote no report throws, as reading a missing file does.
 */
export async function runCliInProcess(args: readonly string[], o: CliReportOptions): Promise<CliReportRun>;
export async function runCliInProcess(args: readonly string[], o?: CliOptions): Promise<CliRun>;
export async function runCliInProcess(
  args: readonly string[],
  o: CliOptions & Partial<CliReportOptions> = {},
): Promise<CliRun | CliReportRun> {
  const n = ++runs;
  const json = o.reportDir === undefined ? undefined : join(o.reportDir, `report-${n}.json`);
  const markdown =
    o.reportDir === undefined || !o.markdown ? undefined : join(o.reportDir, `comment-${n}.md`);
  // Right after the subcommand, so a caller's trailing option can never take them for its value.
  const extra = [...(json ? ['--json', json] : []), ...(markdown ? ['--markdown', markdown] : [])];
  const argv = args.length > 0 ? [args[0]!, ...extra, ...args.slice(1)] : extra;
  const stdout = new Sink();
  const stderr = new Sink();
  const code = await runCli(argv, {
    stdout: stdout as unknown as NodeJS.WritableStream,
    stderr: stderr as unknown as NodeJS.WritableStream,
    env: o.env ?? baseEnv(),
    cwd: o.cwd ?? process.cwd(),
  });
  const ran = { code, stdout: stdout.text, stderr: stderr.text };
  if (json === undefined) return ran;
  return {
    ...ran,
    report: JSON.parse(readFileSync(json, 'utf8')) as CompareReport,
    markdown: markdown !== undefined && existsSync(markdown) ? readFileSync(markdown, 'utf8') : '',
  };
}

/** What a child process did. */
export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the node process in bytes (VmHWM), when measured. */
  maxRss?: number;
  durationMs: number;
}

/** Options of {@link runNode}. */
export interface RunOptions {
  cwd: string;
  /** The whole environment; {@link baseEnv}() by default. */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Measure node's peak RSS. */
  measureRss?: boolean;
  /** Called once the node process has started. */
  onStart?: (child: ChildProcess) => void;
}

/** The kernel's high-water mark of the resident set of `pid` (VmHWM), in bytes; 0 once it has exited. */
function highWaterMark(pid: number): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `node <script> ...args` and collects everything. Output is kept whole: memdelta's own output is small.
 * The peak RSS is node's own (VmHWM polled every 20 ms), not its children's: /usr/bin/time would report the
 * largest benchmark instead.
 */
export async function runNode(script: string, args: readonly string[], o: RunOptions): Promise<Ran> {
  const started = Date.now();
  const child = spawn(NODE, [script, ...args], {
    cwd: o.cwd,
    env: o.env ?? baseEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  o.onStart?.(child);
  let maxRss = 0;
  const poll =
    o.measureRss && child.pid !== undefined
      ? setInterval(() => {
          maxRss = Math.max(maxRss, highWaterMark(child.pid as number));
        }, 20)
      : undefined;
  const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 90_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.on('close', (c, s) => done([c, s])),
  );
  clearTimeout(timer);
  clearInterval(poll);
  return {
    code,
    signal,
    stdout: Buffer.concat(out).toString('utf8'),
    stderr: Buffer.concat(err).toString('utf8'),
    durationMs: Date.now() - started,
    ...(o.measureRss ? { maxRss } : {}),
  };
}
