/**
 * Runs one child (a probe or a setup command) with bounds on everything it can consume from us: time,
 * captured output, and processes left behind. The child leads its own process group so a timeout or a
 * cancel kills the whole group (SIGTERM, a grace period, SIGKILL); processes that left the group (daemons
 * that called setsid) are found by a per-run marker in their environment, killed and reported.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import type { CleanupRegistry } from './cleanup.js';
import { LineSplitter, RingBuffer } from './ring-buffer.js';

/** Environment variable carrying the per-run marker that finds escaped processes. */
export const RUN_MARKER = 'MEMDELTA_RUN_ID';

/**
 * How the child ended. `ok`: exit 0. `exit`: another exit code. `timeout`: killed by us at the time limit.
 * `signal`: died from a signal we did not send for a timeout (cancellation, the OOM killer, itself).
 * `spawn`: could not be started.
 */
export type OutcomeKind = 'ok' | 'exit' | 'timeout' | 'signal' | 'spawn';

export interface ProcessOutcome {
  kind: OutcomeKind;
  /** Exit code, or null when the child died from a signal or never started. */
  exitCode: number | null;
  /** Terminating signal (`SIGKILL`, ...), or null. */
  signal: string | null;
  /** Killed by SIGKILL that we did not send: on Linux, usually the OOM killer. */
  likelyOom: boolean;
  /** The run was cancelled through the abort signal or the cleanup registry. */
  cancelled: boolean;
  /** Last bytes of stdout and stderr, decoded (see {@link RingBuffer.text}). */
  stdoutTail: string;
  stderrTail: string;
  /** The child's pid, which is also its process group id; null when it never started. */
  pid: number | null;
  /** From spawn to the child's exit. */
  durationMs: number;
  /** Names of processes of this run still alive after the child ended (then killed), e.g. `["sleep"]`. */
  leftovers: string[];
  /** Why the child could not be started (kind `spawn`). */
  error?: string;
}

export interface RunBoundedOptions {
  file: string;
  args: readonly string[];
  cwd: string;
  /** The complete child environment (see env.ts); nothing else is inherited. */
  env: Record<string, string>;
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL; default 2000. */
  graceMs?: number;
  /** Bytes of stdout and of stderr kept; default 64 KiB each. */
  tailBytes?: number;
  /** Aborting kills the group like a timeout and marks the outcome cancelled. */
  signal?: AbortSignal;
  /** Called with each stderr line as it arrives (long lines in pieces). */
  onStderrLine?: (line: string) => void;
  /** Where the running group is registered so an interrupted memdelta still kills it. */
  registry?: CleanupRegistry;
}

const DEFAULT_GRACE_MS = 2000;
const DEFAULT_TAIL_BYTES = 64 * 1024;
/** After the child exited, how long its stdout/stderr may stay open (held by something we could not kill). */
const STREAM_DRAIN_MS = 2000;

/** Runs a child under the bounds in `options`. Never throws for anything the child does. */
export async function runBounded(options: RunBoundedOptions): Promise<ProcessOutcome> {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const stdout = new RingBuffer(options.tailBytes ?? DEFAULT_TAIL_BYTES);
  const stderr = new RingBuffer(options.tailBytes ?? DEFAULT_TAIL_BYTES);
  const runId = randomBytes(12).toString('hex');
  const base = { likelyOom: false, cancelled: false, leftovers: [] as string[] };

  if (options.signal?.aborted) {
    return {
      ...base,
      kind: 'spawn',
      exitCode: null,
      signal: null,
      cancelled: true,
      pid: null,
      stdoutTail: '',
      stderrTail: '',
      durationMs: 0,
      error: 'cancelled before it started',
    };
  }

  const started = performance.now();
  const child = execa(options.file, [...options.args], {
    cwd: options.cwd,
    env: { ...options.env, [RUN_MARKER]: runId },
    extendEnv: false,
    stdin: 'ignore',
    buffer: false,
    encoding: 'buffer',
    detached: true,
    cleanup: false,
    reject: false,
    forceKillAfterDelay: false,
  });

  const lines = options.onStderrLine ? new LineSplitter(safe(options.onStderrLine)) : undefined;
  child.stdout?.on('data', (chunk: Uint8Array) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Uint8Array) => {
    stderr.push(chunk);
    lines?.push(chunk);
  });

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.nodeChildProcess.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const settled = child.then((result) => result);

  const pgid = child.pid;
  let timedOut = false;
  let cancelled = false;
  let sentKill = false;
  let mainDone = false;
  let graceTimer: NodeJS.Timeout | undefined;

  const killGroup = (signal: NodeJS.Signals): void => {
    if (pgid === undefined) return;
    if (signal === 'SIGKILL') sentKill = true;
    try {
      process.kill(-pgid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  const terminate = (): void => {
    if (mainDone || graceTimer !== undefined) return;
    killGroup('SIGTERM');
    graceTimer = setTimeout(() => killGroup('SIGKILL'), graceMs);
  };

  const timer = setTimeout(() => {
    if (!cancelled) timedOut = true;
    terminate();
  }, options.timeoutMs);
  const onAbort = (): void => {
    if (!timedOut) cancelled = true;
    terminate();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const unregister = options.registry?.add({
    name: `process group of ${options.file} (pid ${pgid ?? '?'})`,
    run: async () => {
      onAbort();
      await exited;
    },
    runSync: () => {
      killGroup('SIGKILL');
      for (const p of findRunProcesses(runId, pgid)) tryKill(p.pid, 'SIGKILL');
    },
  });

  try {
    const first = await Promise.race([
      exited.then((info) => ({ type: 'exit' as const, info })),
      settled.then((result) => ({ type: 'settled' as const, result })),
    ]);
    const durationMs = Math.round(performance.now() - started);
    mainDone = true;
    clearTimeout(timer);
    if (graceTimer !== undefined) clearTimeout(graceTimer);

    if (
      first.type === 'settled' &&
      first.result.exitCode === undefined &&
      first.result.signal === undefined
    ) {
      return {
        ...base,
        kind: 'spawn',
        exitCode: null,
        signal: null,
        cancelled,
        pid: null,
        stdoutTail: '',
        stderrTail: stderr.text(),
        durationMs,
        error: spawnMessage(
          first.result.originalMessage || first.result.shortMessage || 'unknown error',
          options,
        ),
      };
    }

    const info =
      first.type === 'exit'
        ? first.info
        : {
            code: first.result.exitCode ?? null,
            signal: (first.result.signal ?? null) as NodeJS.Signals | null,
          };
    const likelyOom = info.signal === 'SIGKILL' && !sentKill;
    const leftovers = await sweep(runId, pgid);
    await drain(settled, child);
    lines?.end();

    let kind: OutcomeKind;
    if (timedOut) kind = 'timeout';
    else if (info.signal !== null) kind = 'signal';
    else if (info.code === 0) kind = 'ok';
    else kind = 'exit';
    return {
      kind,
      exitCode: info.code,
      signal: info.signal,
      likelyOom,
      cancelled,
      pid: pgid ?? null,
      stdoutTail: stdout.text(),
      stderrTail: stderr.text(),
      durationMs,
      leftovers,
    };
  } finally {
    clearTimeout(timer);
    if (graceTimer !== undefined) clearTimeout(graceTimer);
    options.signal?.removeEventListener('abort', onAbort);
    unregister?.();
  }
}

/** A process found by {@link findRunProcesses}. */
export interface RunProcess {
  pid: number;
  name: string;
}

/**
 * Live (non-zombie) processes that carry the run marker `runId` in their environment or belong to process
 * group `pgid`. Linux only (reads /proc); elsewhere returns an empty list and the group kill is all we do.
 */
export function findRunProcesses(runId: string, pgid: number | undefined): RunProcess[] {
  if (process.platform !== 'linux') return [];
  const needle = Buffer.from(`${RUN_MARKER}=${runId}\0`);
  const found: RunProcess[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name (which may itself contain spaces and parentheses): state ppid pgrp ...
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (rest[0] === 'Z' || rest[0] === 'X') continue;
      const inGroup = pgid !== undefined && Number(rest[2]) === pgid;
      if (!inGroup && !readFileSync(`/proc/${pid}/environ`).includes(needle)) continue;
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      found.push({ pid, name });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Kills what is left of a run after its main process ended; returns their names. */
async function sweep(runId: string, pgid: number | undefined): Promise<string[]> {
  const seen = new Map<number, string>();
  // A leftover can fork while we look; rounds repeat until nothing of the run is alive.
  for (let round = 0; round < 10; round++) {
    const found = findRunProcesses(runId, pgid);
    if (found.length === 0) break;
    for (const p of found) {
      if (!seen.has(p.pid)) seen.set(p.pid, p.name);
      tryKill(p.pid, 'SIGKILL');
    }
    if (pgid !== undefined) tryKill(-pgid, 'SIGKILL');
    await delay(10 * (round + 1));
  }
  if (pgid !== undefined) tryKill(-pgid, 'SIGKILL');
  return [...seen.values()];
}

/** Waits for the output streams to close; gives up on ones held open by a process we could not find. */
async function drain(settled: Promise<unknown>, child: { stdout: unknown; stderr: unknown }): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), STREAM_DRAIN_MS);
  });
  const result = await Promise.race([settled.then(() => 'done' as const), timeout]);
  clearTimeout(timer);
  if (result === 'timeout') {
    for (const stream of [child.stdout, child.stderr]) {
      (stream as { destroy?: () => void } | null)?.destroy?.();
    }
  }
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function safe(fn: (line: string) => void): (line: string) => void {
  return (line) => {
    try {
      fn(line);
    } catch {
      // A failing observer must not break the run.
    }
  };
}

function spawnMessage(message: string, options: RunBoundedOptions): string {
  return `could not start ${options.file} in ${options.cwd}: ${message}`;
}
