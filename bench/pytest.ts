/**
 * The pytest plugin's per-test overhead: a generated suite of small tests run by plain pytest (untraced), by plain
 * pytest under `-X tracemalloc=4` (the compare's cheap-pass depth, for the whole process) and with
 * `-p memdelta_probe.pytest_plugin --memdelta-frames 4` (tracing only each test's call, plus the probe's per-test
 * bookkeeping), and by pytest with a two-line plugin that only starts and stops tracemalloc around each call (the
 * plugin's window without its bookkeeping). One more untimed plugin run, with a wrapper plugin around the probe's steps, says where the time goes.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultProbeDir } from '../src/run/probe.js';
import { describe, ms, timeAlternating, type Timing } from './lib/timing.js';

const run = promisify(execFile);

/** Tests per generated module. */
const PER_MODULE = 20;
const FRAMES = 4;
const PARTS_PLUGIN = 'memdelta_bench_parts';
const WINDOW_PLUGIN = 'memdelta_bench_window';

/** Tracing only around each test's call phase, like the plugin's window, without any of its bookkeeping. */
const WINDOW = `from __future__ import annotations

import tracemalloc

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    tracemalloc.start(${FRAMES})
    try:
        yield
    finally:
        tracemalloc.stop()
`;

const CONFTEST = `from __future__ import annotations

import pytest


@pytest.fixture
def table():
    return {i: str(i) for i in range(200)}
`;

/** Each test builds a list of a few hundred small tuples, a dict of them and a joined string; every fourth one
 * uses the conftest's fixture. */
function testModule(first: number, count: number): string {
  const lines = ['from __future__ import annotations', ''];
  for (let n = first; n < first + count; n++) {
    const fixture = n % 4 === 0;
    lines.push(
      '',
      `def test_case_${n}(${fixture ? 'table' : ''}):`,
      `    items = [(i, str(i)) for i in range(${200 + (n % 7) * 50})]`,
      '    index = {k: v for k, v in items}',
      "    text = ','.join(v for _, v in items)",
      "    assert len(index) == len(items) and text.count(',') == len(items) - 1",
    );
    if (fixture) lines.push(`    assert table[${n % 200}] == "${n % 200}"`);
  }
  return lines.join('\n') + '\n';
}

/**
 * A pytest plugin (loaded before memdelta's) that wraps the probe's per-test steps with timers and writes the sums
 * to $MEMDELTA_BENCH_PARTS at exit. Steps it cannot find are reported as missing, not guessed.
 */
const PARTS = `from __future__ import annotations

import atexit
import gc
import json
import os
import time
import tracemalloc

from memdelta_probe import capture, pytest_plugin, report

TIMES: dict = {}
MISSING: list = []
HEAP: list = []


def _wrap(owner, name, label, split=False):
    fn = getattr(owner, name, None)
    if fn is None:
        MISSING.append(label)
        return

    def timed(*a, **k):
        key = label + (" (traced)" if tracemalloc.is_tracing() else " (untraced)") if split else label
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            e = TIMES.setdefault(key, [0.0, 0])
            e[0] += time.perf_counter() - t0
            e[1] += 1

    setattr(owner, name, timed)


_wrap(pytest_plugin.Recorder, "_measure", "whole per-test measurement")
_wrap(capture.Job, "prepare", "Job.prepare")
_wrap(capture.Job, "stop", "Job.stop")
_wrap(capture, "count_types", "count_types", split=True)
_wrap(gc, "collect", "gc.collect", split=True)
_wrap(tracemalloc, "take_snapshot", "tracemalloc.take_snapshot")
_wrap(report, "build", "report.build")


def pytest_runtest_setup(item):
    if not HEAP:
        HEAP.append(len(gc.get_objects()))


def pytest_sessionfinish(session, exitstatus):
    HEAP.append(len(gc.get_objects()))


@atexit.register
def _dump():
    with open(os.environ["MEMDELTA_BENCH_PARTS"], "w", encoding="utf-8") as f:
        json.dump({"times": TIMES, "missing": MISSING, "heap": HEAP}, f)
`;

/** The first of `python3` and `/usr/bin/python3` that can import pytest, with its versions; null if neither. */
function findPython(): { exe: string; python: string; pytest: string } | null {
  for (const exe of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(
      exe,
      ['-c', 'import platform, pytest; print(platform.python_version(), pytest.__version__)'],
      { encoding: 'utf8' },
    );
    const [python, pytest] = (r.status === 0 ? r.stdout.trim() : '').split(' ');
    if (python && pytest) return { exe, python, pytest };
  }
  return null;
}

interface Suite {
  dir: string;
  tests: number;
}

function makeSuite(tests: number): Suite {
  const dir = mkdtempSync(join(tmpdir(), 'memdelta-bench-pytest-'));
  mkdirSync(join(dir, 'tests'));
  writeFileSync(join(dir, 'tests', 'conftest.py'), CONFTEST);
  for (let first = 0, m = 0; first < tests; first += PER_MODULE, m++) {
    writeFileSync(
      join(dir, 'tests', `test_mod_${m}.py`),
      testModule(first, Math.min(PER_MODULE, tests - first)),
    );
  }
  writeFileSync(join(dir, `${PARTS_PLUGIN}.py`), PARTS);
  writeFileSync(join(dir, `${WINDOW_PLUGIN}.py`), WINDOW);
  return { dir, tests };
}

/** Runs pytest in the suite's folder; throws with its output unless every test passed. */
async function pytest(
  exe: string,
  suite: Suite,
  pre: string[],
  post: string[],
  env: Record<string, string> = {},
): Promise<void> {
  const argv = [...pre, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', ...post, 'tests'];
  const collectOnly = post.includes('--collect-only');
  try {
    const { stdout } = await run(exe, argv, {
      cwd: suite.dir,
      maxBuffer: 1 << 24,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? suite.dir,
        PYTHONPATH: `${defaultProbeDir(import.meta.url)}:${suite.dir}`,
        PYTHONHASHSEED: '0',
        ...env,
      },
    });
    const want = collectOnly ? `${suite.tests} tests collected` : `${suite.tests} passed`;
    if (!stdout.includes(want)) throw new Error(`expected "${want}" in pytest's output:\n${stdout}`);
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${exe} ${argv.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}${err.stderr ?? ''}`,
      { cause: e },
    );
  }
}

/** The plugin's report must list every test as passed: a plugin that silently measured nothing would be fast. */
function checkReport(file: string, tests: number): void {
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { tests?: { outcome?: string; report?: unknown }[] };
  const measured = (doc.tests ?? []).filter((t) => t.outcome === 'passed' && t.report).length;
  if (measured !== tests)
    throw new Error(`the plugin's report has ${measured} measured passing tests, not ${tests}`);
}

interface Parts {
  times: Record<string, [number, number]>;
  missing: string[];
  heap: number[];
}

function printParts(parts: Parts, tests: number, wall: number): void {
  console.log(
    `\nWhere the plugin's time goes (one untimed plugin run with timers around the probe's steps; ` +
      `${ms(wall)} wall; nested rows overlap):\n`,
  );
  console.log('| step | ms per test | calls per test | ms per call |');
  console.log('|---|---|---|---|');
  const rows = Object.entries(parts.times).sort((a, b) => b[1][0] - a[1][0]);
  for (const [name, [seconds, calls]] of rows) {
    console.log(
      `| ${name} | ${((1000 * seconds) / tests).toFixed(1)} | ${(calls / tests).toFixed(1)} | ` +
        `${((1000 * seconds) / Math.max(1, calls)).toFixed(2)} |`,
    );
  }
  if (parts.missing.length)
    console.log(`\n(not found in the probe, so not timed: ${parts.missing.join(', ')})`);
  console.log(
    `\ngc-tracked objects in the pytest process: ${parts.heap[0] ?? '?'} at the first test's setup, ` +
      `${parts.heap[1] ?? '?'} at the end (gc.get_objects() and full collections walk all of them, per test).`,
  );
}

/**
 * Section "pytest plugin per-test overhead": `tests` generated tests, `reps` alternating repetitions per variant.
 * Prints a skip line when no interpreter with pytest is found.
 */
export async function benchPytest(reps: number, tests: number): Promise<void> {
  if (!Number.isInteger(tests) || tests < 1)
    throw new Error(`--pytest-tests must be a positive whole number`);
  console.log(`\n## pytest plugin per-test overhead (${tests} small tests, --memdelta-frames ${FRAMES})\n`);
  const py = findPython();
  if (!py) {
    console.log('Neither python3 nor /usr/bin/python3 can import pytest: skipped.');
    return;
  }
  console.log(`interpreter ${py.exe}: Python ${py.python}, pytest ${py.pytest}`);
  const suite = makeSuite(tests);
  const out = join(suite.dir, 'memdelta-pytest.json');
  try {
    // Untimed: compiles and caches the test modules (assertion rewriting) so no variant pays for it.
    await pytest(py.exe, suite, [], ['--collect-only']);
    const plugin = [
      '-p',
      'memdelta_probe.pytest_plugin',
      '--memdelta-out',
      out,
      '--memdelta-frames',
      `${FRAMES}`,
    ];
    const [collect, plain, traced, window, withPlugin] = (await timeAlternating(
      [
        { name: '(0) collection only, untraced', run: () => pytest(py.exe, suite, [], ['--collect-only']) },
        { name: '(a) pytest, untraced', run: () => pytest(py.exe, suite, [], []) },
        {
          name: `(b) pytest -X tracemalloc=${FRAMES}`,
          run: () => pytest(py.exe, suite, ['-X', `tracemalloc=${FRAMES}`], []),
        },
        {
          name: `(w) tracemalloc.start(${FRAMES}) around each call`,
          run: () => pytest(py.exe, suite, [], ['-p', WINDOW_PLUGIN]),
        },
        {
          name: `(c) pytest + memdelta plugin, frames ${FRAMES}`,
          run: async () => {
            rmSync(out, { force: true });
            await pytest(py.exe, suite, [], plugin);
            checkReport(out, tests);
          },
        },
      ],
      reps,
      0,
    )) as [Timing, Timing, Timing, Timing, Timing];
    for (const t of [collect, plain, traced, window, withPlugin]) console.log(describe(t));
    const perTest = (x: Timing, y: Timing) => ms((x.median - y.median) / tests).padStart(9);
    const ratio = (x: Timing, y: Timing) => (x.median / y.median).toFixed(2).padStart(9);
    console.log('');
    console.log(`plain pytest per test                  (a − 0) / tests ${perTest(plain, collect)}`);
    console.log(`plugin per test vs -X tracemalloc      (c − b) / tests ${perTest(withPlugin, traced)}`);
    console.log(`plugin per test vs untraced            (c − a) / tests ${perTest(withPlugin, plain)}`);
    console.log(`plugin per test vs tracing its window  (c − w) / tests ${perTest(withPlugin, window)}`);
    console.log(`ratio                                            c / b ${ratio(withPlugin, traced)}`);
    console.log(`ratio                                            c / a ${ratio(withPlugin, plain)}`);
    console.log(`ratio                                            c / w ${ratio(withPlugin, window)}`);
    console.log(
      `(b traces pytest's start-up and collection too, which the plugin does not: b − a is mostly that, ` +
        `${ms(traced.median - plain.median)} here; w traces what the plugin traces, without its bookkeeping.)`,
    );

    const partsFile = join(suite.dir, 'parts.json');
    const t0 = performance.now();
    await pytest(py.exe, suite, [], ['-p', PARTS_PLUGIN, ...plugin], { MEMDELTA_BENCH_PARTS: partsFile });
    const wall = performance.now() - t0;
    checkReport(out, tests);
    printParts(JSON.parse(readFileSync(partsFile, 'utf8')) as Parts, tests, wall);
  } finally {
    rmSync(suite.dir, { recursive: true, force: true });
  }
}
