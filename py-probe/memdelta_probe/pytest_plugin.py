"""pytest plugin: each test's call phase measured as its own memdelta scenario (docs/pytest.md).

Loaded with ``python -m pytest -p memdelta_probe.pytest_plugin --memdelta-out FILE ...`` (the probe's folder on
PYTHONPATH, nothing installed). Without ``--memdelta-out`` it only registers the ``memdelta`` mark and does nothing
else, so a project may list it in its own configuration.

Only ``item.runtest()`` is inside the window: tracing starts after the test's fixtures are set up and stops before
they are torn down, so what fixtures allocate is never counted. A test marked ``@pytest.mark.memdelta(iterations=N)``
has its call repeated N times in the window (after ``warmup`` untraced calls, default 2), with the same fixture
values, which gives the leak per iteration. The file written at the end is ``memdelta/pytest@1``: one
``memdelta/probe@1`` report per test, plus the session's outcome (docs/report-schema.md).
"""
from __future__ import annotations

import gc
import json
import os
import platform
import sys
import traceback
import tracemalloc

import pytest

from memdelta_probe import __version__, capture, report as probe_report
from memdelta_probe.cli import limit_memory
from memdelta_probe.sites import PathClassifier, SourceIndex

SCHEMA = "memdelta/pytest@1"
MARK = "memdelta"
DEFAULT_FRAMES = 8
DEFAULT_MAX_SITES = 100
DEFAULT_MARKED_WARMUP = 2
MAX_ITERATIONS = 100_000
# Collection errors kept in the report; a broken tree can have thousands.
MAX_ERRORS = 50


class MarkError(Exception):
    """A ``memdelta`` mark with arguments that cannot be used; fails that test with this message."""


def fnv1a(text: str) -> int:
    """32-bit FNV-1a of the UTF-8 bytes of ``text``; the same function decides shards in memdelta's TypeScript."""
    # Lone surrogates become U+FFFD, as JavaScript's TextEncoder does, so both sides hash the same bytes.
    data = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode("utf-8")
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def parse_shard(text: str) -> tuple[int, int]:
    """``i/n`` with 1 <= i <= n <= 256."""
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise pytest.UsageError("--memdelta-shard: %r is not i/n" % text) from None
    if not 1 <= i <= n <= 256:
        raise pytest.UsageError("--memdelta-shard: %r must have 1 <= i <= n <= 256" % text)
    return i, n


def mark_settings(item) -> tuple[int, int]:
    """(iterations, warmup) from the test's closest ``memdelta`` mark; (1, 0) without one."""
    mark = item.get_closest_marker(MARK)
    if mark is None:
        return 1, 0
    if mark.args:
        raise MarkError("@pytest.mark.memdelta takes keyword arguments only (iterations=, warmup=)")
    unknown = sorted(set(mark.kwargs) - {"iterations", "warmup"})
    if unknown:
        raise MarkError("@pytest.mark.memdelta: unknown argument %s (known: iterations, warmup)" % unknown[0])
    iterations = mark.kwargs.get("iterations", 1)
    if type(iterations) is not int or not 1 <= iterations <= MAX_ITERATIONS:
        raise MarkError("@pytest.mark.memdelta: iterations must be a whole number from 1 to %d" % MAX_ITERATIONS)
    warmup = mark.kwargs.get("warmup", DEFAULT_MARKED_WARMUP if iterations > 1 else 0)
    if type(warmup) is not int or not 0 <= warmup <= MAX_ITERATIONS:
        raise MarkError("@pytest.mark.memdelta: warmup must be a whole number from 0 to %d" % MAX_ITERATIONS)
    return iterations, warmup


def _reset(job) -> None:
    """Undoes what a window that failed half-way may have left on: tracing, frozen objects, the peak hook."""
    if tracemalloc.is_tracing():
        tracemalloc.stop()
    gc.unfreeze()
    watcher = job.watcher
    if watcher is not None:
        for step in (watcher.disarm, watcher.release):
            try:
                step()
            except Exception:
                pass


def _libc_trim():
    """glibc's ``malloc_trim``, loaded when the session starts (under memory pressure even an import can fail), or
    None where there is no such function."""
    try:
        import ctypes
        import ctypes.util

        name = ctypes.util.find_library("c")
        return ctypes.CDLL(name).malloc_trim if name else None
    except (ImportError, OSError, AttributeError):
        return None


def _give_back_memory(trim) -> None:
    """Returns the free parts of the C heap to the system, where ``trim`` exists."""
    if trim is None:
        return
    try:
        trim(0)
    except Exception:  # no room even for this: pytest will say what it can
        pass


class _Call:
    """The test's call as a probe target (``capture.Job`` calls ``fn``)."""

    __slots__ = ("kind", "spec", "args", "fn")

    def __init__(self, kind: str, nodeid: str, fn) -> None:
        self.kind = kind
        self.spec = nodeid
        self.args: list = []
        self.fn = fn


class _Settings:
    """What ``report.build`` reads from the probe's options."""

    __slots__ = ("frames", "iterations", "warmup", "peak_sites", "rss_only", "root", "max_sites")

    def __init__(self, frames: int, iterations: int, warmup: int, peak_sites: bool, root: str,
                 max_sites: int) -> None:
        self.frames = frames
        self.iterations = iterations
        self.warmup = warmup
        self.peak_sites = peak_sites
        self.rss_only = False
        self.root = root
        self.max_sites = max_sites


class Entry:
    """One test in the suite report."""

    __slots__ = ("id", "index", "outcome", "phase", "error", "report")

    def __init__(self, nodeid: str, index: int) -> None:
        self.id = nodeid
        self.index = index
        self.outcome = "not-run"
        self.phase = "setup"
        self.error: dict | None = None
        self.report: dict | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "index": self.index, "outcome": self.outcome, "phase": self.phase,
                "error": self.error, "report": self.report}


def _longrepr_error(rep) -> dict:
    """A failed phase's type, message and last lines, from pytest's own text of it."""
    text = str(rep.longrepr) if rep.longrepr is not None else ""
    lines = [ln[: probe_report.LINE_CAP] for ln in text.splitlines()]
    crash = getattr(rep.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else (lines[-1] if lines else "failed")
    if message.startswith("E "):  # pytest's marker for the error line of a collection failure
        message = message[1:].lstrip()
    return {"type": "%s failed" % rep.when, "message": message[: probe_report.MESSAGE_CAP],
            "traceback": lines[-probe_report.TRACEBACK_LINES:]}


class Recorder:
    """Measures each selected test's call and writes the suite report at the end of the session."""

    def __init__(self, config) -> None:
        self.out = os.path.abspath(config.getoption("memdelta_out"))
        self.root = os.path.abspath(config.getoption("memdelta_root") or os.getcwd())
        self.frames = config.getoption("memdelta_frames")
        self.max_sites = config.getoption("memdelta_max_sites")
        if not 1 <= self.frames <= 1000:
            raise pytest.UsageError("--memdelta-frames must be between 1 and 1000")
        if self.max_sites < 1:
            raise pytest.UsageError("--memdelta-max-sites must be at least 1")
        shard = config.getoption("memdelta_shard")
        self.shard = parse_shard(shard) if shard else None
        self.hints = self._read_hints(config.getoption("memdelta_hints"))
        # Shared by every test's report: pytest's and the project's sources are parsed once per session.
        self.index = SourceIndex()
        self.classifier = PathClassifier(self.root)
        self.trim = _libc_trim()
        self.entries: dict[str, Entry] = {}
        self.errors: list = []
        self.collected = 0

    @staticmethod
    def _read_hints(path: str | None) -> dict | None:
        """``{"tests": {nodeid: peak_hint or null}}``: only these tests are measured (with the breakdown where the
        hint is a number); the others still run, untraced, so that every measured test sees the same state."""
        if not path:
            return None
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            tests = data["tests"]
            if not isinstance(tests, dict):
                raise ValueError("tests is not a map")
            for k, v in tests.items():
                if not isinstance(k, str) or not (v is None or (type(v) is int and v >= 0)):
                    raise ValueError("bad hint for %r" % (k,))
            return tests
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise pytest.UsageError("--memdelta-hints: %s" % e) from None

    # -- collection ------------------------------------------------------------------------------------------

    def pytest_collectreport(self, report) -> None:
        if report.failed and len(self.errors) < MAX_ERRORS:
            err = _longrepr_error(report)
            err["type"] = "collection failed"
            self.errors.append({"id": report.nodeid, **err})

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items) -> None:
        self.collected = len(items)
        keep, drop = [], []
        for index, item in enumerate(items):
            if self.shard is not None and fnv1a(item.nodeid) % self.shard[1] != self.shard[0] - 1:
                drop.append(item)
                continue
            keep.append(item)
            if self.hints is None or item.nodeid in self.hints:
                self.entries[item.nodeid] = Entry(item.nodeid, index)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep

    # -- the window ------------------------------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        entry = self.entries.get(item.nodeid)
        original = item.runtest
        if entry is not None:
            item.runtest = lambda: self._measure(item, entry, original)
        elif item.get_closest_marker(MARK) is not None:
            # Not measured in this run (a detail run measures only some tests), but called as often as when it is,
            # so that the tests after it see the same state as in the run that measured everything.
            item.runtest = lambda: self._repeat(item, original)
        else:
            yield
            return
        try:
            yield
        finally:
            try:
                del item.runtest
            except AttributeError:
                pass

    @staticmethod
    def _repeat(item, original) -> None:
        """The calls a measured run makes (warm-up and measured iterations), untraced."""
        iterations, warmup = mark_settings(item)
        for _ in range(warmup + iterations):
            original()

    def _measure(self, item, entry: Entry, original) -> None:
        """Runs the test's call under the probe and re-raises what it raised, so pytest judges it as usual."""
        iterations, warmup = mark_settings(item)
        hint = self.hints.get(item.nodeid) if self.hints is not None else None
        call = _Call("callable", item.nodeid, original)
        job = capture.Job(call, self.frames, iterations, warmup, hint or None, None, session=True)
        try:
            if job.prepare():
                job.start()
                raised = job.go(*job.args)
                if isinstance(raised, MemoryError):
                    # The test reached the memory limit: free what its frames hold now, since the probe's
                    # bookkeeping and pytest's report of the failure need room (without it pytest ends the session
                    # with an INTERNALERROR), and give the freed heap back, as the limit is on address space.
                    traceback.clear_frames(raised.__traceback__)
                    _give_back_memory(self.trim)
                window = job.stop(raised)
                del raised
            else:
                window = job.w  # a warm-up call raised: nothing was measured
        except Exception as e:
            # The probe's own work failed (out of memory in its bookkeeping, say): whatever state it left would
            # measure every later test wrong, so it is undone, and this test fails saying why.
            _reset(job)
            raise RuntimeError("memdelta could not finish measuring this test: %s: %s" % (type(e).__name__, e)) \
                from None
        exc = window.exc
        window.exc = None
        error = probe_report.describe_error(exc) if exc is not None else None
        settings = _Settings(self.frames, iterations, warmup, hint is not None and hint > 0, self.root,
                             self.max_sites)
        # A single call has no leak to speak of: reported like a script (no leak fields), repeated calls like a
        # callable target.
        shape = _Call("callable" if iterations > 1 else "pytest", item.nodeid, None)
        doc = probe_report.build(settings, shape, window if window.retained_traces is not None else None,
                                 1 if exc is not None else 0, error, self.index, self.classifier)
        doc["target"]["kind"] = "pytest"
        if window.retained_traces is None:
            doc["wall_time"] = 0.0
        entry.report = doc
        if exc is not None:
            try:
                raise exc
            finally:
                exc = None

    # -- outcomes ------------------------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report) -> None:
        entry = self.entries.get(report.nodeid)
        if entry is None:
            return
        xfail = hasattr(report, "wasxfail")
        if report.when == "call":
            entry.phase = "call"
            if xfail:
                entry.outcome = "xfailed" if report.skipped else "xpassed"
            else:
                entry.outcome = report.outcome
            if report.failed:
                entry.error = _longrepr_error(report)
        elif report.failed:  # setup or teardown: the test's fixtures failed
            entry.outcome = "error"
            entry.phase = report.when
            entry.error = _longrepr_error(report)
        elif report.when == "setup" and report.skipped:
            entry.outcome = "xfailed" if xfail else "skipped"

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus) -> None:
        tests = []
        for entry in sorted(self.entries.values(), key=lambda e: e.index):
            if entry.outcome == "xfailed" and entry.report is not None:
                # The expected failure is the test's normal behaviour: its memory is measured like a pass.
                entry.report["error"] = None
                entry.report["exit_code"] = 0
            tests.append(entry.as_dict())
        doc = {
            "schema": SCHEMA,
            "probe_version": __version__,
            "python": {"version": "%d.%d.%d" % sys.version_info[:3],
                       "implementation": platform.python_implementation()},
            "pytest_version": pytest.__version__,
            "exit_code": int(exitstatus),
            "collected": self.collected,
            "errors": self.errors,
            "tests": tests,
        }
        probe_report.write_atomic(self.out, doc)


def pytest_addoption(parser) -> None:
    g = parser.getgroup("memdelta", "memdelta: memory of each test's call (docs/pytest.md)")
    g.addoption("--memdelta-out", default=None, help="write the memdelta/pytest@1 report here (turns the plugin on)")
    g.addoption("--memdelta-root", default=None, help="project root: files under it are the project (default: cwd)")
    g.addoption("--memdelta-frames", type=int, default=DEFAULT_FRAMES, help="traceback depth (default %(default)s)")
    g.addoption("--memdelta-max-sites", type=int, default=DEFAULT_MAX_SITES,
                help="sites listed per test before the rest goes to 'other' (default %(default)s)")
    g.addoption("--memdelta-hints", default=None,
                help="JSON {\"tests\": {id: peak or null}}: measure only these, with the peak breakdown")
    g.addoption("--memdelta-shard", default=None, help="i/n: run only the tests whose id hashes to slice i of n")
    g.addoption("--memdelta-memory-limit", type=int, default=None,
                help="address-space limit in bytes for this process (RLIMIT_AS), where prlimit is not used")


def _run_here(config) -> None:
    """Keeps the tests in this process when pytest-xdist is installed and the project's configuration asks for
    workers (``addopts = -n auto``): tests run elsewhere could not be measured. Runs before xdist's own
    ``pytest_configure``, which starts the workers only when ``dist`` is not ``"no"``."""
    option = config.option
    if getattr(option, "dist", "no") != "no" or getattr(option, "numprocesses", None):
        option.dist = "no"
        option.numprocesses = 0
        option.tx = []
        sys.stderr.write("memdelta-probe: pytest-xdist workers turned off: memdelta measures tests in one process\n")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "memdelta(iterations=1, warmup=2): repeat this test's call in memdelta's window to measure its leak",
    )
    if config.getoption("memdelta_out", None):
        limit = config.getoption("memdelta_memory_limit")
        if limit is not None:
            if limit < 1:
                raise pytest.UsageError("--memdelta-memory-limit must be a positive number of bytes")
            limit_memory(limit)
        _run_here(config)
        config.pluginmanager.register(Recorder(config), "memdelta-recorder")
