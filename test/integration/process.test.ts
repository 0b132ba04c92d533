import { readdirSync, readFileSync } from 'node:fs';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { Cleanups } from '../../src/run/cleanup.js';
import { childEnv } from '../../src/run/env.js';
import { RUN_ID_VAR, runBounded, type RunOptions } from '../../src/run/process.js';

const env = childEnv();

function py(code: string, extra: Partial<RunOptions> = {}): ReturnType<typeof runBounded> {
  return runBounded({
    file: 'python3',
    args: ['-c', code],
    cwd: process.cwd(),
    env,
    timeoutMs: 10_000,
    ...extra,
  });
}

/** State letter of a process, or undefined when it no longer exists. Zombies ('Z') are dead, just unreaped. */
function stateOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  const state = stateOf(pid);
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** Live processes whose process group is `pgid`. */
function liveGroupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[2]) === pgid && rest[0] !== 'Z' && rest[0] !== 'X') pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

describe('runBounded', () => {
  /** The interpreter itself, not a version-manager shim that would add its own variables. */
  let python = '';
  beforeAll(async () => {
    python = (await execa('python3', ['-c', 'import sys; print(sys.executable)'])).stdout.trim();
  });

  it('reports a clean exit with its output tails and the run marker in the environment', async () => {
    const outcome = await py(
      `import os, sys; print(os.environ["${RUN_ID_VAR}"]); print("to stderr", file=sys.stderr); print("bye")`,
    );
    expect(outcome.kind).toBe('ok');
    expect(outcome.exitCode).toBe(0);
    expect(outcome.signal).toBeNull();
    expect(outcome.leftovers).toEqual([]);
    const [marker, bye] = outcome.stdoutTail.trim().split('\n');
    expect(marker).toMatch(/^[0-9a-f]{24}$/);
    expect(bye).toBe('bye');
    expect(outcome.stderrTail).toBe('to stderr\n');
  });

  it('reports a non-zero exit code as kind exit', async () => {
    const outcome = await py('import sys; sys.exit(3)');
    expect(outcome).toMatchObject({ kind: 'exit', exitCode: 3, signal: null, likelyOom: false });
  });

  it('reports a binary that does not exist as a spawn failure with the reason', async () => {
    const outcome = await runBounded({
      file: 'memdelta-no-such-binary',
      args: [],
      cwd: process.cwd(),
      env,
      timeoutMs: 2000,
    });
    expect(outcome.kind).toBe('spawn');
    expect(outcome.pid).toBeNull();
    expect(outcome.error).toContain('memdelta-no-such-binary');
    expect(outcome.error).toBe('cannot run "memdelta-no-such-binary": no such executable on PATH');
  });

  it('kills the whole group at the timeout, background grandchild included', async () => {
    const started = Date.now();
    const outcome = await runBounded({
      file: 'sh',
      args: ['-c', 'sleep 1000 & echo "$!"; while :; do sleep 0.05; done'],
      cwd: process.cwd(),
      env,
      timeoutMs: 1000,
      graceMs: 1000,
    });
    const elapsed = Date.now() - started;
    expect(outcome.kind).toBe('timeout');
    expect(outcome.signal).toBe('SIGTERM');
    expect(outcome.likelyOom).toBe(false);
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(4000);
    const grandchild = Number(outcome.stdoutTail.trim());
    expect(grandchild).toBeGreaterThan(0);
    expect(isAlive(grandchild)).toBe(false);
    expect(outcome.pid).not.toBeNull();
    expect(liveGroupMembers(outcome.pid ?? 0)).toEqual([]);
  });

  it('SIGKILLs a child that ignores SIGTERM once the grace period is over', async () => {
    const started = Date.now();
    const outcome = await py(
      'import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint("ready", flush=True)\nwhile True: time.sleep(0.05)',
      { timeoutMs: 800, graceMs: 700 },
    );
    const elapsed = Date.now() - started;
    expect(outcome).toMatchObject({ kind: 'timeout', signal: 'SIGKILL', likelyOom: false, exitCode: null });
    expect(outcome.stdoutTail).toBe('ready\n');
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(5000);
  });

  it('finds a double-forked setsid daemon by its marker, kills it and reports it by name', async () => {
    const daemon = [
      'import os, sys',
      'if os.fork() == 0:',
      '    os.setsid()',
      '    if os.fork() == 0:',
      '        print(os.getpid(), flush=True)',
      '        os.execvp("sleep", ["sleep", "1000"])',
      '    os._exit(0)',
      'os.wait()',
      'import time; time.sleep(0.2)',
    ].join('\n');
    const outcome = await py(daemon);
    expect(outcome.kind).toBe('ok');
    const daemonPid = Number(outcome.stdoutTail.trim());
    expect(daemonPid).toBeGreaterThan(0);
    expect(outcome.leftovers).toEqual([`sleep (pid ${daemonPid})`]);
    expect(isAlive(daemonPid)).toBe(false);
  });

  it('reports a child killed by a SIGKILL it did not get from us as likely out of memory', async () => {
    const outcome = await py('import os, signal; os.kill(os.getpid(), signal.SIGKILL)');
    expect(outcome).toMatchObject({ kind: 'signal', signal: 'SIGKILL', likelyOom: true, exitCode: null });
  });

  it('cancels through an AbortSignal, killing the group', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const outcome = await py('import time\nwhile True: time.sleep(0.05)', { signal: controller.signal });
    expect(outcome).toMatchObject({ kind: 'signal', signal: 'SIGTERM', cancelled: true, likelyOom: false });
    expect(outcome.durationMs).toBeLessThan(3000);
    expect(liveGroupMembers(outcome.pid ?? 0)).toEqual([]);
  });

  it('does not start when already cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    const outcome = await py('print(1)', { signal: controller.signal });
    expect(outcome).toMatchObject({ kind: 'spawn', cancelled: true, pid: null });
  });

  it('lets the cleanup registry kill a running group, then unregisters it', async () => {
    const registry = new Cleanups();
    const running = py('import time\nwhile True: time.sleep(0.05)', { registry });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(registry.size).toBe(1);
    await registry.runAll();
    const outcome = await running;
    expect(outcome).toMatchObject({ kind: 'signal', cancelled: true });
    expect(registry.size).toBe(0);
  });

  it('forwards stderr lines live and keeps only the tail of large output', async () => {
    const lines: string[] = [];
    const outcome = await py(
      'import sys\nsys.stdout.write("x" * 5_000_000 + "END")\nsys.stderr.write("one\\ntwo\\nthree")',
      { tailBytes: 1024, onStderrLine: (line) => lines.push(line) },
    );
    expect(outcome.kind).toBe('ok');
    expect(outcome.stdoutTail).toHaveLength(1024);
    expect(outcome.stdoutTail.endsWith('xEND')).toBe(true);
    expect(lines).toEqual(['one', 'two', 'three']);
  });

  it('runs in the given directory with exactly the given environment (plus the marker)', async () => {
    const outcome = await runBounded({
      file: python,
      args: ['-c', 'import os, json; print(json.dumps([os.getcwd(), sorted(os.environ)]))'],
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ONLY_THIS: '1' },
      timeoutMs: 5000,
    });
    const [cwd, names] = JSON.parse(outcome.stdoutTail) as [string, string[]];
    expect(cwd).toBe('/');
    // Python may add LC_CTYPE itself (PEP 538 locale coercion).
    expect(names.filter((n) => n !== 'LC_CTYPE')).toEqual([RUN_ID_VAR, 'ONLY_THIS', 'PATH']);
  });
});
