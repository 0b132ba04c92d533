/**
 * Benchmarks that misbehave on head, through the CLI bundle: one hits a memory limit (MemoryError), one is
 * SIGKILLed like the kernel's OOM killer would, one ignores SIGTERM and leaves a double-forked setsid daemon, one
 * floods stderr with 1 GB without a newline, invalid UTF-8 and a character split across writes. And a user
 * pressing Ctrl-C mid-run. memdelta itself survives all of it in bounded memory, exits 2, and leaves nothing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCompareReport } from '../../src/report/compare-schema.js';
import type { CompareReport, ScenarioResult } from '../../src/report/types.js';
import { makeRepo, makeTempDir, type TestRepo } from '../support/git-repo.js';
import { baseEnv, processesWith, runCli, worktreeFolders, type Ran } from './support.js';

// A unique word on the daemon's command line, to find it in /proc afterwards.
const DAEMON_TAG = `memdelta-adv-daemon-${process.pid}`;

const BENCH = `import os, resource, signal, sys, time
KEEP = [bytearray(200_000)]
mode = sys.argv[1]
if mode == "memerror":
    sys.stderr.write("allocating until the limit\\n")
    limit = 400 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    hog = []
    while True:
        hog.append(bytearray(16 * 1024 * 1024))
elif mode == "oomkill":
    sys.stderr.write("about to be killed by the kernel\\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)
elif mode == "daemon":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvpe("sleep", ["sleep", "3600"], dict(os.environ, ADV_TAG="${DAEMON_TAG}"))
        os._exit(0)
    time.sleep(3600)
elif mode == "flood":
    out = sys.stderr.buffer
    chunk = b"x" * (1024 * 1024)
    for _ in range(1024):
        out.write(chunk)
    out.write(b"\\ninvalid \\xff\\xfe utf-8\\n")
    snowman = "\\u2603".encode()
    out.write(b"split " + snowman[:1])
    out.flush()
    out.write(snowman[1:] + b" done\\n")
    out.flush()
    os._exit(3)
`;

const SCENARIOS = ['memerror', 'oomkill', 'daemon', 'flood'];

let repo: TestRepo;
let tmp: string;
let ran: Ran;
let report: CompareReport;
const scenario = (name: string): ScenarioResult => {
  const s = report.scenarios.find((x) => x.name === name);
  if (!s) throw new Error(`no scenario ${name}`);
  return s;
};

beforeAll(async () => {
  tmp = await makeTempDir('memdelta-adv-faults-');
  const config =
    'scenarios:\n' +
    SCENARIOS.map(
      (m) => `  - name: ${m}\n    run: bench.py ${m}\n    timeout: ${m === 'daemon' ? 2 : 120}\n`,
    ).join('');
  repo = await makeRepo([
    {
      files: {
        'bench.py': 'KEEP = [bytearray(200_000)]\n',
        'slow.py': 'KEEP = 1\n',
        '.memdelta.yml': config,
      },
      message: 'base',
    },
    {
      files: {
        'bench.py': BENCH,
        'slow.py':
          'import os, tempfile, time\nopen(os.path.join(tempfile.gettempdir(), "started-%d" % os.getpid()), "w").close()\ntime.sleep(3600)\n',
      },
      message: 'head misbehaves',
    },
  ]);
  ran = await runCli(['compare', '--base', 'HEAD~1', '--json', join(tmp, 'report.json'), '--no-color'], {
    cwd: repo.dir,
    env: baseEnv(),
    measureRss: true,
    timeoutMs: 150_000,
  });
  report = parseCompareReport(await readFile(join(tmp, 'report.json'), 'utf8'));
}, 180_000);

afterAll(async () => {
  await repo?.remove();
  await rm(tmp, { recursive: true, force: true });
});

describe('a head that misbehaves', () => {
  it('leaves memdelta alive with exit 2, verdict error, in bounded memory', () => {
    expect(ran.code, ran.stderr.slice(-2000)).toBe(2);
    expect(report.verdict).toBe('error');
    expect(ran.maxRss).toBeLessThan(300 * 1024 * 1024);
  });

  it('reports a memory limit as MemoryError on head, with the stderr tail, and still shows base', () => {
    const s = scenario('memerror');
    expect(s.status).toBe('error');
    expect(s.error?.side).toBe('head');
    expect(s.error?.message).toMatch(/MemoryError/);
    expect(s.base.peak).toBeGreaterThan(200_000);
    expect(ran.stdout).toMatch(/memerror[^\n]*\n[^\n]*could not be measured on head[^\n]*MemoryError/);
  });

  it('reports a SIGKILL it did not send as likely out of memory, with the stderr tail', () => {
    const s = scenario('oomkill');
    expect(s.error?.reason).toBe('oom');
    expect(s.error?.message).toBe('killed by SIGKILL, likely out of memory');
    expect(s.error?.tail).toContain('about to be killed by the kernel');
    expect(s.base.peak).toBeGreaterThan(200_000);
    expect(ran.stdout).toContain('about to be killed by the kernel');
  });

  it('kills a SIGTERM-ignoring benchmark at the timeout, and its escaped setsid daemon, naming it', () => {
    const s = scenario('daemon');
    expect(s.error?.reason).toBe('timeout');
    expect(s.error?.message).toMatch(
      /^timed out after 2 s and was killed; left processes behind, killed: sleep \(pid \d+\)$/,
    );
    expect(processesWith(DAEMON_TAG)).toEqual([]);
  });

  it('keeps a correct tail of 1 GB of stderr without a newline, invalid UTF-8 and a split character', () => {
    const s = scenario('flood');
    expect(s.error?.message).toMatch(/exit code 3/);
    const tail = s.error?.tail ?? [];
    expect(tail.at(-1)).toBe('split \u2603 done');
    expect(tail.at(-2)).toBe('invalid \ufffd\ufffd utf-8');
    // The megabyte line before them is cut, not kept whole.
    expect(tail.join('\n').length).toBeLessThan(70_000);
  });

  it('writes a report its own schema accepts: render and the comment workflow can read it back', async () => {
    const r = await runCli(['render', '--report', join(tmp, 'report.json'), '--markdown'], {
      cwd: repo.dir,
      env: baseEnv(),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('split \u2603 done');
  });
});

describe('Ctrl-C in the middle of a compare', () => {
  it('kills the probe groups, removes the worktrees and exits 130', async () => {
    const scratch = join(tmp, 'sigint');
    await mkdir(scratch);
    let pid = 0;
    const started = (async () => {
      for (let i = 0; i < 600; i++) {
        if ((await readdir(scratch)).some((f) => f.startsWith('started-'))) return true;
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    })();
    const running = runCli(['compare', '--base', 'HEAD~1', '--run', 'slow.py'], {
      cwd: repo.dir,
      env: baseEnv({ TMPDIR: scratch }),
      onStart: (child) => {
        pid = child.pid ?? 0;
      },
    });
    // The base side of slow.py returns at once; head blocks. Wait for head, then interrupt.
    expect(await started).toBe(true);
    const sleepers = (await readdir(scratch))
      .filter((f) => f.startsWith('started-'))
      .map((f) => Number(f.slice('started-'.length)));
    expect(worktreeFolders(scratch)).toHaveLength(1);
    process.kill(pid, 'SIGINT');
    const r = await running;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('memdelta: SIGINT received, cleaning up');
    for (const p of sleepers) expect(existsSync(`/proc/${p}`)).toBe(false);
    expect(worktreeFolders(scratch)).toEqual([]);
    const list = execFileSync('git', ['worktree', 'list', '--porcelain'], {
      cwd: repo.dir,
      encoding: 'utf8',
    });
    expect(list.match(/^worktree /gm)).toHaveLength(1);
  });
});
