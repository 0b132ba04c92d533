import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cleanups } from '../../src/run/cleanup.js';
import { childEnv } from '../../src/run/env.js';
import {
  defaultProbeDir,
  probeArgs,
  ProbeArgumentError,
  runProbe,
  type ProbeOptions,
} from '../../src/run/probe.js';
import { RUN_ID_VAR, runBounded, type RunOptions } from '../../src/run/process.js';
import { describeSetupFailure, runSetup } from '../../src/run/setup.js';
import { makeRepo, makeTempDir } from '../support/git-repo.js';

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

/** Secrets a GitHub runner puts in the environment of the action's own process. */
const RUNNER_SECRETS: Record<string, string> = {
  'INPUT_GITHUB-TOKEN': 'ghs_input_token',
  INPUT_BUDGET: 'peak: +5%',
  GITHUB_TOKEN: 'ghs_token',
  GH_TOKEN: 'ghs_gh',
  ACTIONS_RUNTIME_TOKEN: 'runtime-token',
  ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc.example/token',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-token',
  ACTIONS_RESULTS_URL: 'https://results.example',
  GITHUB_ENV: '/runner/file_commands/set_env',
  GITHUB_OUTPUT: '/runner/file_commands/set_output',
  GITHUB_PATH: '/runner/file_commands/add_path',
  GITHUB_STATE: '/runner/file_commands/save_state',
  GITHUB_STEP_SUMMARY: '/runner/file_commands/step_summary',
  PYTHONPATH: '/somewhere/evil',
  PYTHONSTARTUP: '/somewhere/evil.py',
  PYTHONHASHSEED: 'random',
};

describe('probe and setup children', () => {
  let work = '';
  let fakeProbe = '';
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    work = await makeTempDir();
    // A stand-in for memdelta_probe that records how it was started, so the argv and environment the real
    // probe gets can be checked exactly.
    fakeProbe = join(work, 'fake-probe');
    await mkdir(join(fakeProbe, 'memdelta_probe'), { recursive: true });
    await writeFile(
      join(fakeProbe, 'memdelta_probe', '__main__.py'),
      [
        'import json, os, sys',
        'out = sys.argv[sys.argv.index("--out") + 1]',
        'with open(out, "w") as f:',
        '    json.dump({"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}, f)',
        'sys.exit(int(os.environ.get("FAKE_EXIT", "0")))',
      ].join('\n'),
    );
    await mkdir(join(work, 'root'));
    for (const [k, v] of Object.entries({ ...RUNNER_SECRETS, RUNNER_TRACKING_ID: 'github_abc123' })) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(work, { recursive: true, force: true });
  });

  const base = (): ProbeOptions => ({
    python: 'python3',
    probeDir: fakeProbe,
    root: join(work, 'root'),
    target: { kind: 'script', spec: 'bench/run.py', args: ['--size', '10'] },
    out: join(work, 'report.json'),
    frames: 8,
    iterations: 10,
    warmup: 2,
    peakSites: true,
    extraEnv: { BENCH_MODE: 'small' },
    timeoutMs: 10_000,
  });

  it('starts the probe with the documented argv, in the root, with only the allow-listed environment', async () => {
    const run = await runProbe({
      ...base(),
      setupCallable: 'bench.fixtures:make',
      peakSites: false,
      peakHint: 123456.4,
      rssOnly: true,
    });
    expect(run.outcome.kind).toBe('ok');
    expect(run.reportPath).toBe(join(work, 'report.json'));
    const seen = JSON.parse(readFileSync(run.reportPath, 'utf8')) as {
      argv: string[];
      cwd: string;
      env: Record<string, string>;
    };
    expect(seen.argv).toEqual([
      '--out',
      join(work, 'report.json'),
      '--root',
      join(work, 'root'),
      '--frames',
      '8',
      '--iterations',
      '10',
      '--warmup',
      '2',
      '--setup',
      'bench.fixtures:make',
      '--no-peak-sites',
      '--peak-hint',
      '123456',
      '--rss-only',
      'bench/run.py',
      '--size',
      '10',
    ]);
    expect(run.argv.slice(0, 3)).toEqual(['python3', '-m', 'memdelta_probe']);
    expect(seen.cwd).toBe(join(work, 'root'));
    for (const name of Object.keys(RUNNER_SECRETS)) {
      if (name.startsWith('PYTHON')) continue;
      expect(seen.env[name], name).toBeUndefined();
    }
    expect(JSON.stringify(seen.env)).not.toMatch(/ghs_|runtime-token|oidc-token|evil/);
    expect(seen.env.PYTHONPATH).toBe(fakeProbe);
    expect(seen.env.PYTHONHASHSEED).toBe('0');
    expect(seen.env.PYTHONDONTWRITEBYTECODE).toBe('1');
    expect(seen.env.PYTHONSTARTUP).toBeUndefined();
    expect(seen.env.RUNNER_TRACKING_ID).toBe('github_abc123');
    expect(seen.env.BENCH_MODE).toBe('small');
    expect(seen.env.PATH).toContain(process.env.PATH);
    expect(seen.env[RUN_ID_VAR]).toMatch(/^[0-9a-f]{24}$/);
  });

  it('builds module and callable targets and refuses option-like ones', () => {
    const tail = (target: ProbeOptions['target']) => probeArgs({ ...base(), target }).slice(12);
    expect(tail({ kind: 'module', spec: 'pkg.bench', args: ['-n', '3'] })).toEqual([
      '-m',
      'pkg.bench',
      '-n',
      '3',
    ]);
    expect(tail({ kind: 'callable', spec: 'pkg.bench:run', args: [] })).toEqual(['pkg.bench:run']);
    expect(() => probeArgs({ ...base(), target: { kind: 'script', spec: '--help', args: [] } })).toThrow(
      ProbeArgumentError,
    );
  });

  it('reports the target failure code and still leaves the report path, and a wrong python as spawn', async () => {
    const failed = await runProbe({ ...base(), extraEnv: { FAKE_EXIT: '3' } });
    expect(failed.outcome).toMatchObject({ kind: 'exit', exitCode: 3 });
    expect(existsSync(failed.reportPath)).toBe(true);
    const missing = await runProbe({ ...base(), python: '/nonexistent/bin/python3.99' });
    expect(missing.outcome.kind).toBe('spawn');
    expect(missing.outcome.error).toBe('cannot run "/nonexistent/bin/python3.99": no such executable');
  });

  it('refuses to pass a token the user names', async () => {
    await expect(runProbe({ ...base(), passEnv: ['GITHUB_TOKEN'] })).rejects.toThrow(
      'refusing to pass environment variable "GITHUB_TOKEN"',
    );
  });

  it('runs the setup command through sh in the worktree with the same environment', async () => {
    const root = join(work, 'root');
    const ok = await runSetup({
      command:
        'echo built > setup-ran.txt && printf "%s|%s|%s" "$GITHUB_TOKEN" "$PYTHONHASHSEED" "$BENCH_MODE"',
      cwd: root,
      extraEnv: { BENCH_MODE: 'small' },
      timeoutMs: 5000,
    });
    expect(ok.kind).toBe('ok');
    expect(ok.stdoutTail).toBe('|0|small');
    expect(readFileSync(join(root, 'setup-ran.txt'), 'utf8')).toBe('built\n');
    expect(describeSetupFailure('x', ok)).toBeUndefined();

    const bad = await runSetup({
      command: 'echo "no such package" >&2; exit 4',
      cwd: root,
      extraEnv: {},
      timeoutMs: 5000,
    });
    expect(bad.stderrTail).toBe('no such package\n');
    expect(describeSetupFailure('pip install -e .', bad)).toBe(
      'The setup command "pip install -e ." exited with code 4.',
    );
    const slow = await runSetup({
      command: 'sleep 30',
      cwd: root,
      extraEnv: {},
      timeoutMs: 500,
      graceMs: 500,
    });
    expect(slow.kind).toBe('timeout');
    expect(describeSetupFailure('sleep 30', slow)).toMatch(
      /^The setup command "sleep 30" timed out after \d+ ms/,
    );
  });

  it.runIf(existsSync(join(process.cwd(), 'py-probe', 'memdelta_probe', '__main__.py')))(
    'runs the real probe on a small script and gets a report',
    async () => {
      const root = join(work, 'real');
      await mkdir(root, { recursive: true });
      await writeFile(join(root, 'bench.py'), 'data = [bytes(1000) for _ in range(100)]\n');
      const run = await runProbe({
        ...base(),
        probeDir: defaultProbeDir(),
        root,
        target: { kind: 'script', spec: 'bench.py', args: [] },
        out: join(work, 'real-report.json'),
        frames: 4,
        iterations: 1,
        warmup: 0,
        extraEnv: {},
        timeoutMs: 30_000,
      });
      expect(run.outcome.stderrTail).toBe('');
      expect(run.outcome.kind).toBe('ok');
      const report = JSON.parse(readFileSync(run.reportPath, 'utf8')) as { schema?: string };
      expect(report.schema).toMatch(/^memdelta\/probe@/);
      expect(existsSync(join(root, '__pycache__'))).toBe(false);
    },
  );
});

describe('interrupting memdelta', () => {
  it('kills the running process group and removes the worktrees on SIGTERM', async () => {
    const { build } = await import('esbuild');
    const work = await makeTempDir();
    const repo = await makeRepo([{ files: { 'a.py': '1\n' } }, { files: { 'a.py': '2\n' } }]);
    try {
      const src = join(process.cwd(), 'src', 'run');
      const entry = join(work, 'entry.ts');
      // A miniature entry point: install the registry, make worktrees, start a long child, wait.
      await writeFile(
        entry,
        [
          `import { writeFileSync } from 'node:fs';`,
          `import { defaultCleanups } from ${JSON.stringify(join(src, 'cleanup.ts'))};`,
          `import { childEnv } from ${JSON.stringify(join(src, 'env.ts'))};`,
          `import { makeGit } from ${JSON.stringify(join(src, 'git.ts'))};`,
          `import { runBounded } from ${JSON.stringify(join(src, 'process.ts'))};`,
          `import { makeWorktrees } from ${JSON.stringify(join(src, 'worktree.ts'))};`,
          `const [repo, base, head, pidFile] = process.argv.slice(2);`,
          `defaultCleanups.install();`,
          `const wt = await makeWorktrees(makeGit(repo), { baseSha: base, headSha: head });`,
          `void runBounded({ file: 'sh', args: ['-c', 'sleep 1000 & echo $! > "$0"; wait', pidFile], cwd: wt.head,`,
          `  env: childEnv(), timeoutMs: 60_000 });`,
          `console.log(JSON.stringify({ root: wt.root }));`,
          `setInterval(() => {}, 1000);`,
        ].join('\n'),
      );
      const bundle = join(work, 'entry.mjs');
      await build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'esm',
        outfile: bundle,
        logLevel: 'silent',
        banner: {
          js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        },
      });
      const pidFile = join(work, 'sleep.pid');
      const child = execa(process.execPath, [bundle, repo.dir, repo.shas[0]!, repo.shas[1]!, pidFile], {
        reject: false,
        buffer: { stdout: false },
      });
      const root = await new Promise<string>((resolve) => {
        child.stdout.once('data', (d: Buffer) =>
          resolve((JSON.parse(d.toString()) as { root: string }).root),
        );
      });
      // The file appears before its content does (the shell opens, then writes): wait for a whole pid.
      const readPid = () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) || 0 : 0);
      for (let i = 0; i < 250 && readPid() === 0; i++) await new Promise((r) => setTimeout(r, 20));
      const sleepPid = readPid();
      expect(isAliveProc(sleepPid)).toBe(true);
      expect(existsSync(join(root, 'head', 'a.py'))).toBe(true);

      child.kill('SIGTERM');
      const result = await child;
      expect(result.exitCode).toBe(143);
      expect(result.stderr).toContain('memdelta: SIGTERM received, cleaning up');
      expect(isAliveProc(sleepPid)).toBe(false);
      expect(existsSync(root)).toBe(false);
      expect(await repo.git('worktree', 'list', '--porcelain')).not.toContain(root);
    } finally {
      await repo.remove();
      await rm(work, { recursive: true, force: true });
    }
  });
});

function isAliveProc(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
