/**
 * Runs one child (the probe or a setup command) with bounds: a time limit, bounded output tails, and a kill that
 * reaches every process it started. The child is the leader of its own process group (and session), so a timeout
 * or an abort kills the whole group: SIGTERM, a grace period, SIGKILL. Processes that left the group (daemons
 * that called setsid) carry a per-run marker variable in their environment; on Linux they are found afterwards
 * through /proc, killed, and reported by name.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { execa } from 'execa';
import { defaultCleanups, type Cleanups } from './cleanup.js';
import { childEnv } from './env.js';
import { LineSplitter, TailBuffer } from './ring-buffer.js';

/** Name of the marker variable every child gets; its value is unique per run. */
export const RUN_ID_VAR = 'MEMDELTA_RUN_ID';

export interface RunOptions {
  /** Executable, looked up on the child's PATH when it has no slash. */
  file: string;
  args: readonly string[];
  cwd: string;
  /** The child's complete environment (see env.ts); nothing from the parent is added except the run marker. */
  env: Readonly<Record<string, string>>;
  timeoutMs: number;
  /** Time between SIGTERM and SIGKILL. Default 5000 ms. */
  graceMs?: number;
  /** Bytes kept of stdout and of stderr each. Default 64 KiB. */
  tailBytes?: number;
  /** Aborting kills the group like a timeout does; the outcome is then kind `signal` with `cancelled` set. */
  signal?: AbortSignal;
  /** Called with each stderr line as it arrives (progress, logs). */
  onStderrLine?: (line: string) => void;
  /** Registry that kills the group if memdelta itself is interrupted. Default the process-wide one. */
  registry?: Cleanups;
}

/**
 * How a run ended. `ok`: exit code 0. `exit`: another exit code. `timeout`: killed by memdelta at the time
 * limit. `signal`: killed by a signal, either one memdelta did not send or, with `cancelled`, memdelta's
 * response to an abort. `spawn`: it could not be started (`error` says why; `cancelled` if aborted before).
 */
export type OutcomeKind = 'ok' | 'exit' | 'timeout' | 'signal' | 'spawn';

/** How a child that runs project code (the probe, the setup command) is bounded and what environment it gets. */
export interface ProjectChildOptions {
  /** Variables the user sets for the benchmark (a plan's `env`). */
  extraEnv: Record<string, string>;
  timeoutMs: number;
  graceMs?: number;
  signal?: AbortSignal;
  onStderrLine?: (line: string) => void;
  registry?: Cleanups;
  /** Environment to take allow-listed variables from; default `process.env`. */
  parentEnv?: Record<string, string | undefined>;
  /** Names of parent variables the user explicitly passes through (checked: no tokens, no secrets). */
  passEnv?: readonly string[];
}

export interface ProcessOutcome {
  kind: OutcomeKind;
  /** The child's pid (also its process group id), or null if it never started. */
  pid: number | null;
  /** True when the run was stopped (or never started) because the abort signal fired. */
  cancelled: boolean;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Killed by SIGKILL that memdelta did not send: most likely the kernel's out-of-memory killer. */
  likelyOom: boolean;
  stdoutTail: string;
  stderrTail: string;
  durationMs: number;
  /** Processes that outlived the child (escaped daemons, orphans still running), as "name (pid N)"; all killed. */
  leftovers: string[];
  /** For `spawn`: why the child could not start. */
  error?: string;
}

const HAS_PROC = process.platform === 'linux' && existsSync('/proc/self/stat');

interface ProcInfo {
  pid: number;
  pgid: number;
  state: string;
  name: string;
}

function readStat(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The name is in parentheses and may itself contain spaces or parentheses.
    const close = stat.lastIndexOf(')');
    const name = stat.slice(stat.indexOf('(') + 1, close);
    const rest = stat.slice(close + 2).split(' ');
    return { pid, name, state: rest[0] ?? '?', pgid: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

function listPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number);
  } catch {
    return [];
  }
}

/** Live (non-zombie) processes in group `pgid` or carrying `RUN_ID_VAR=runId`, excluding this process. */
function findRunProcesses(pgid: number | undefined, runId: string): ProcInfo[] {
  if (!HAS_PROC) return [];
  const marker = Buffer.from(`\0${RUN_ID_VAR}=${runId}\0`);
  const found: ProcInfo[] = [];
  for (const pid of listPids()) {
    if (pid === process.pid) continue;
    const info = readStat(pid);
    if (!info || info.state === 'Z' || info.state === 'X') continue;
    if (pgid !== undefined && info.pgid === pgid) {
      found.push(info);
      continue;
    }
    try {
      // Prefix NUL so the first variable matches too.
      const environ = Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`)]);
      if (environ.includes(marker)) found.push(info);
    } catch {
      // Another user's process, or it just exited.
    }
  }
  return found;
}

function killQuiet(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  if (HAS_PROC) {
    const info = readStat(pid);
    return info !== undefined && info.state !== 'Z' && info.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs the group and every marked process, repeatedly, until none is left or `boundMs` passes. */
async function reap(pgid: number | undefined, runId: string, boundMs: number): Promise<ProcInfo[]> {
  const seen = new Map<number, ProcInfo>();
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (pgid !== undefined) killQuiet(-pgid, 'SIGKILL');
    const procs = findRunProcesses(pgid, runId);
    for (const p of procs) {
      if (!seen.has(p.pid)) seen.set(p.pid, p);
      killQuiet(p.pid, 'SIGKILL');
    }
    const stillAlive = [...seen.keys()].filter(alive);
    if ((procs.length === 0 && stillAlive.length === 0) || Date.now() > deadline) break;
    await sleep(20);
  }
  return [...seen.values()];
}

function describeSpawnError(file: string, cwd: string, err: NodeJS.ErrnoException): string {
  if (!existsSync(cwd)) return `cannot run ${JSON.stringify(file)}: working directory ${cwd} does not exist`;
  switch (err.code) {
    case 'ENOENT':
      return `cannot run ${JSON.stringify(file)}: no such executable${file.includes('/') ? '' : ' on PATH'}`;
    case 'EACCES':
      return `cannot run ${JSON.stringify(file)}: permission denied (is it executable?)`;
    default:
      return `cannot run ${JSON.stringify(file)}: ${err.message}`;
  }
}

/**
 * Runs a child with the bounds described in the module comment and resolves with how it ended; it never rejects
 * for anything the child does. stdin is ignored, no shell is involved, and the environment is exactly `env` plus
 * {@link RUN_ID_VAR}. When it resolves, no process of the run is left (on Linux, verified through /proc).
 */
export async function runBounded(options: RunOptions): Promise<ProcessOutcome> {
  const { file, args, cwd, timeoutMs } = options;
  const graceMs = options.graceMs ?? 5000;
  const tailBytes = options.tailBytes ?? 65_536;
  const runId = randomBytes(12).toString('hex');
  const stdout = new TailBuffer(tailBytes);
  const stderr = new TailBuffer(tailBytes);
  const lines = options.onStderrLine ? new LineSplitter(options.onStderrLine) : undefined;
  const started = performance.now();

  const finish = (
    partial: Pick<ProcessOutcome, 'kind' | 'exitCode' | 'signal' | 'likelyOom'> & { error?: string },
    leftovers: string[],
    durationMs: number,
  ): ProcessOutcome => ({
    pid: childPid,
    cancelled: killedBy === 'cancelled',
    ...partial,
    stdoutTail: stdout.text(),
    stderrTail: stderr.text(),
    durationMs: Math.round(durationMs),
    leftovers,
  });

  let childPid: number | null = null;
  let killedBy: 'timeout' | 'cancelled' | undefined;
  if (options.signal?.aborted) {
    killedBy = 'cancelled';
    const error = 'cancelled before it started';
    return finish({ kind: 'spawn', exitCode: null, signal: null, likelyOom: false, error }, [], 0);
  }
  try {
    if (!statSync(cwd).isDirectory()) throw new Error('not a directory');
  } catch {
    const error = `cannot run ${JSON.stringify(file)}: working directory ${cwd} does not exist or is not a folder`;
    return finish({ kind: 'spawn', exitCode: null, signal: null, likelyOom: false, error }, [], 0);
  }

  const subprocess = execa(file, [...args], {
    cwd,
    env: { ...options.env, [RUN_ID_VAR]: runId },
    extendEnv: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    // Own session and process group, so the whole tree can be signalled at once.
    detached: true,
    // memdelta's own registry does the cleanup and the killing, for the whole group.
    cleanup: false,
    forceKillAfterDelay: false,
    windowsHide: true,
  });
  // The result is not used (the 'exit' event is, because a grandchild may keep the pipes open long after);
  // this only keeps an error in it from becoming unhandled.
  void subprocess.catch(() => undefined);
  // execa's subprocess is a ChildProcess; its 'exit' event is what tells when the child itself has ended.
  const child: ChildProcess = subprocess.nodeChildProcess;
  childPid = child.pid ?? null;

  child.stdout?.on('data', (d: Buffer) => stdout.push(d));
  child.stderr?.on('data', (d: Buffer) => {
    stderr.push(d);
    lines?.push(d);
  });

  let termTimer: NodeJS.Timeout | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const pid = child.pid;

  const ended = new Promise<
    { exitCode: number | null; signal: NodeJS.Signals | null } | { spawnError: NodeJS.ErrnoException }
  >((resolve) => {
    child.once('exit', (exitCode, signal) => resolve({ exitCode, signal }));
    child.once('error', (err) => {
      if (child.pid === undefined) resolve({ spawnError: err as NodeJS.ErrnoException });
    });
    // execa may report a failed start only through its result.
    void subprocess.then((r) => {
      if (r.failed && r.exitCode === undefined && r.signal === undefined && child.pid === undefined) {
        const err = (r.cause ?? new Error(r.shortMessage ?? 'could not start')) as NodeJS.ErrnoException;
        resolve({ spawnError: err });
      }
    });
  });

  const terminate = (why: 'timeout' | 'cancelled') => {
    if (killedBy || pid === undefined) return;
    killedBy = why;
    killQuiet(-pid, 'SIGTERM');
    killTimer = setTimeout(() => killQuiet(-pid, 'SIGKILL'), graceMs);
  };
  const onAbort = () => terminate('cancelled');
  if (pid !== undefined) {
    termTimer = setTimeout(() => terminate('timeout'), timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  }
  const unregister = (options.registry ?? defaultCleanups).add({
    label: `process group of ${file}`,
    run: async () => {
      terminate('cancelled');
      await ended;
    },
    runSync: () => {
      if (pid !== undefined) killQuiet(-pid, 'SIGKILL');
    },
  });

  const end = await ended;
  const durationMs = performance.now() - started;
  clearTimeout(termTimer);
  clearTimeout(killTimer);
  options.signal?.removeEventListener('abort', onAbort);

  if ('spawnError' in end) {
    unregister();
    const error = describeSpawnError(file, cwd, end.spawnError);
    return finish({ kind: 'spawn', exitCode: null, signal: null, likelyOom: false, error }, [], durationMs);
  }

  // Whatever is still alive now outlived the child: orphans in its group and escaped daemons.
  const survivors = await reap(pid, runId, Math.max(2000, graceMs));
  unregister();
  const leftovers = killedBy ? survivors.filter((p) => p.pgid !== pid) : survivors;

  // Pipes close once every holder is dead; do not wait forever for one held by something /proc could not see.
  await Promise.race([
    Promise.all(
      [child.stdout, child.stderr].map((s) => (s && !s.closed ? new Promise((r) => s.once('close', r)) : 0)),
    ),
    sleep(1000),
  ]);
  child.stdout?.destroy();
  child.stderr?.destroy();
  lines?.end();

  const { exitCode, signal } = end;
  let kind: OutcomeKind;
  if (killedBy === 'timeout') kind = 'timeout';
  else if (killedBy === 'cancelled' || signal) kind = 'signal';
  else kind = exitCode === 0 ? 'ok' : 'exit';
  const likelyOom = !killedBy && signal === 'SIGKILL';
  return finish(
    { kind, exitCode, signal, likelyOom },
    leftovers.map((p) => `${p.name} (pid ${p.pid})`),
    durationMs,
  );
}

/**
 * Runs a child of the project (the probe, pytest, the setup command) with the allow-listed environment built from
 * `options` (plus `pythonPath` as PYTHONPATH when given) and the usual bounds. Never throws for the child.
 */
export function runProjectChild(
  options: ProjectChildOptions & { file: string; args: readonly string[]; cwd: string; pythonPath?: string },
): Promise<ProcessOutcome> {
  const env = childEnv({
    set: options.extraEnv,
    ...(options.passEnv !== undefined ? { pass: options.passEnv } : {}),
    ...(options.pythonPath !== undefined ? { pythonPath: options.pythonPath } : {}),
    ...(options.parentEnv !== undefined ? { parent: options.parentEnv } : {}),
  });
  return runBounded({
    file: options.file,
    args: options.args,
    cwd: options.cwd,
    env,
    timeoutMs: options.timeoutMs,
    ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.onStderrLine !== undefined ? { onStderrLine: options.onStderrLine } : {}),
    ...(options.registry !== undefined ? { registry: options.registry } : {}),
  });
}

/** The bounds every child of one compare shares: cancellation, cleanup at exit, the environment to draw from. */
export function childBounds(o: {
  signal?: AbortSignal | undefined;
  registry?: Cleanups | undefined;
  parentEnv?: Record<string, string | undefined> | undefined;
}): Pick<ProjectChildOptions, 'signal' | 'registry' | 'parentEnv'> {
  return {
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.registry ? { registry: o.registry } : {}),
    ...(o.parentEnv ? { parentEnv: o.parentEnv } : {}),
  };
}
