"""The pytest plugin, run for real as ``python -m pytest -p memdelta_probe.pytest_plugin`` on small suites in temp
directories. Skipped where this Python has no pytest, unless MEMDELTA_REQUIRE_PYTEST=1 (CI), where that fails."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

from tests.support import PROBE_DIR, MiB, check_shape

try:
    import pytest
except ImportError:
    pytest = None

REQUIRE_PYTEST = os.environ.get("MEMDELTA_REQUIRE_PYTEST") == "1"

try:
    import xdist
except ImportError:
    xdist = None

SUITE_KEYS = {"schema", "probe_version", "python", "pytest_version", "exit_code", "collected", "errors", "tests"}
ENTRY_KEYS = {"id", "index", "outcome", "phase", "error", "report"}
ERROR_KEYS = {"type", "message", "traceback"}
# What a test that allocates nothing of its own may still show: pytest's and the probe's bookkeeping.
NOISE = 64 * 1024

MAIN = '''
import pytest

KEPT = []
LEAKED = []
TORN_DOWN = []


@pytest.fixture
def big():
    data = bytearray(8 * 1024 * 1024)
    yield data
    TORN_DOWN.append(bytearray(8 * 1024 * 1024))


def test_reads_fixture(big):
    assert len(big) == 8 * 1024 * 1024 and big[-1] == 0


def test_temporary_list():
    tmp = [bytearray(1000) for _ in range(4000)]
    assert len(tmp) == 4000


def test_keeps():
    KEPT.append(bytearray(3_000_000))


@pytest.mark.memdelta(iterations=12)
def test_leaks():
    LEAKED.append(bytearray(100_000))


def test_leaks_was_called_warmup_plus_iterations_times():
    assert len(LEAKED) == 2 + 12


@pytest.mark.memdelta(12)
def test_mark_positional():
    pass


@pytest.mark.memdelta(iteratons=12)
def test_mark_unknown_key():
    pass


@pytest.mark.memdelta(iterations=0)
def test_mark_zero():
    pass


@pytest.mark.memdelta(iterations="12")
def test_mark_string():
    pass


def test_fails():
    raise ValueError("boom 42")


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known", strict=True)
def test_expected_failure():
    assert 1 + 1 == 3


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


def test_broken_fixture(broken):
    pass
'''


def fnv1a_reference(text: str) -> int:
    """32-bit FNV-1a over UTF-8 written independently of the plugin: the prime 0x01000193 as shifts and adds, the
    way the TypeScript side's Math.imul(h, 0x01000193) >>> 0 wraps, with lone surrogates as U+FFFD (TextEncoder)."""
    data = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text).encode("utf-8")
    h = 2166136261
    for byte in data:
        h ^= byte
        h = (h + (h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24)) % 2**32
    return h


def line_of(source: str, needle: str) -> int:
    lines = textwrap.dedent(source).lstrip("\n").splitlines()
    found = [i + 1 for i, ln in enumerate(lines) if ln.strip() == needle]
    if len(found) != 1:
        raise AssertionError("%r is on %d lines" % (needle, len(found)))
    return found[0]


class Project:
    """A temp directory with a pytest.ini and test files, and a helper that runs pytest with the plugin in it."""

    __slots__ = ("root",)

    def __init__(self, add_cleanup, files: dict) -> None:
        self.root = tempfile.mkdtemp(prefix="memdelta-pytest-test-")
        add_cleanup(shutil.rmtree, self.root, True)
        self.write("pytest.ini", "[pytest]\n")
        for rel, text in files.items():
            self.write(rel, text)

    def write(self, rel: str, text: str) -> str:
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text).lstrip("\n"))
        return path

    def pytest(self, *args: str, plugin: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env["PYTHONPATH"] = PROBE_DIR
        env["PYTHONHASHSEED"] = "0"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONIOENCODING"] = "utf-8"
        # Only the plugin under test: what else is installed here must not change the runs.
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        env.pop("PYTEST_ADDOPTS", None)
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", self.root, "-q"]
        if plugin:
            cmd += ["-p", "memdelta_probe.pytest_plugin"]
        return subprocess.run(cmd + list(args), cwd=self.root, env=env, capture_output=True,
                              encoding="utf-8", errors="replace", timeout=120)

    def measure(self, tc: unittest.TestCase, *args: str, out: str = "run.json") -> tuple:
        """Runs with ``--memdelta-out``; (process, run file) with the run file's shape checked."""
        path = os.path.join(self.root, out)
        proc = self.pytest("--memdelta-out", path, *args)
        tc.assertTrue(os.path.exists(path), "no run file; rc %d\n%s\n%s" % (proc.returncode, proc.stdout[-3000:],
                                                                           proc.stderr[-3000:]))
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        check_run(tc, doc)
        return proc, doc


def check_run(tc: unittest.TestCase, doc: dict) -> None:
    """The memdelta/pytest@1 envelope, and each report as a memdelta/probe@1 report of that test."""
    tc.assertEqual(set(doc), SUITE_KEYS)
    tc.assertEqual(doc["schema"], "memdelta/pytest@1")
    tc.assertEqual(doc["pytest_version"], pytest.__version__)
    tc.assertEqual(doc["python"]["version"], "%d.%d.%d" % sys.version_info[:3])
    for err in doc["errors"]:
        tc.assertEqual(set(err), ERROR_KEYS | {"id"})
    ids = [t["id"] for t in doc["tests"]]
    tc.assertEqual(len(ids), len(set(ids)))
    indexes = [t["index"] for t in doc["tests"]]
    tc.assertEqual(indexes, sorted(indexes))
    for t in doc["tests"]:
        tc.assertEqual(set(t), ENTRY_KEYS)
        tc.assertLess(t["index"], doc["collected"])
        if t["error"] is not None:
            tc.assertEqual(set(t["error"]), ERROR_KEYS)
        r = t["report"]
        if r is None:
            continue
        tc.assertEqual((r["target"]["kind"], r["target"]["spec"]), ("pytest", t["id"]))
        # The probe report's own contract, which names the kinds a probe run can have.
        check_shape(tc, dict(r, target=dict(r["target"], kind="callable")))


def by_id(doc: dict) -> dict:
    return {t["id"].split("::")[-1]: t for t in doc["tests"]}


@unittest.skipUnless(pytest is not None or REQUIRE_PYTEST, "pytest is not installed for this Python")
class PytestPlugin(unittest.TestCase):
    main_proc: subprocess.CompletedProcess
    main: dict

    @classmethod
    def setUpClass(cls) -> None:
        if pytest is None:
            raise AssertionError("MEMDELTA_REQUIRE_PYTEST=1 but %s cannot import pytest" % sys.executable)
        cls.main_proc = None
        cls.main = None

    def main_run(self) -> tuple:
        """The main suite, run once for the tests that read it."""
        cls = type(self)
        if cls.main is None:
            # Removed with the class: the run outlives the test method that made it.
            project = Project(cls.addClassCleanup, {"tests/test_main.py": MAIN})
            cls.main_proc, cls.main = project.measure(self, "--memdelta-root", project.root)
        return cls.main_proc, by_id(cls.main)

    # -- the window --------------------------------------------------------------------------------------

    def test_fixture_allocations_in_setup_and_teardown_are_not_the_tests(self):
        _, t = self.main_run()
        r = t["test_reads_fixture"]["report"]
        self.assertEqual(t["test_reads_fixture"]["outcome"], "passed")
        self.assertIsNone(r["error"])
        # The fixture's 8 MiB made before the call and 8 MiB kept by its teardown after it.
        self.assertLess(r["peak"], 1 * MiB)
        self.assertLess(r["retained"], NOISE)
        self.assertFalse(any(s["function"] == "big" for s in r["sites"]), r["sites"])

    def test_temporary_list_is_peak_not_retained(self):
        _, t = self.main_run()
        r = t["test_temporary_list"]["report"]
        self.assertGreaterEqual(r["peak"], 4000 * 1000)
        self.assertLess(r["peak"], 4000 * 1000 + 1 * MiB)
        self.assertLess(r["retained"], NOISE)
        self.assertIsNone(r["leak"])
        self.assertEqual((r["settings"]["iterations"], r["settings"]["warmup"]), (1, 0))

    def test_list_kept_by_the_module_is_retained_at_its_line(self):
        _, t = self.main_run()
        r = t["test_keeps"]["report"]
        self.assertGreaterEqual(r["retained"], 3_000_000)
        self.assertLess(r["retained"], 3_000_000 + NOISE)
        top = max(r["sites"], key=lambda s: s["retained"])
        self.assertEqual((top["file"], top["function"], top["line"]),
                         ("tests/test_main.py", "test_keeps", line_of(MAIN, "KEPT.append(bytearray(3_000_000))")))
        self.assertGreaterEqual(top["retained"], 3_000_000)

    # -- the mark ------------------------------------------------------------------------------------------

    def test_marked_test_is_repeated_and_its_leak_per_call_measured(self):
        _, t = self.main_run()
        r = t["test_leaks"]["report"]
        self.assertEqual(t["test_leaks"]["outcome"], "passed")
        self.assertEqual((r["settings"]["iterations"], r["settings"]["warmup"]), (12, 2))
        self.assertEqual((r["leak"]["iterations"], len(r["leak"]["series"])), (12, 12))
        self.assertAlmostEqual(r["leak"]["per_iteration"], 100_000, delta=2_000)
        self.assertAlmostEqual(r["retained"], 12 * 100_000, delta=12 * 2_000)
        top = max(r["sites"], key=lambda s: s["leak"] or 0)
        self.assertEqual((top["function"], top["line"]),
                         ("test_leaks", line_of(MAIN, "LEAKED.append(bytearray(100_000))")))
        # Two warm-up calls and twelve measured ones, seen by the next test in the same process.
        self.assertEqual(t["test_leaks_was_called_warmup_plus_iterations_times"]["outcome"], "passed")

    def test_bad_mark_arguments_fail_that_test_with_the_problem_named(self):
        _, t = self.main_run()
        expected = {
            "test_mark_positional": "keyword arguments only",
            "test_mark_unknown_key": "unknown argument iteratons",
            "test_mark_zero": "iterations must be a whole number from 1 to",
            "test_mark_string": "iterations must be a whole number from 1 to",
        }
        for name, text in expected.items():
            with self.subTest(name):
                entry = t[name]
                self.assertEqual((entry["outcome"], entry["phase"]), ("failed", "call"))
                self.assertIsNone(entry["report"])
                self.assertIn("@pytest.mark.memdelta", entry["error"]["message"])
                self.assertIn(text, entry["error"]["message"])

    # -- outcomes ----------------------------------------------------------------------------------------

    def test_outcomes_and_errors_of_each_kind(self):
        proc, t = self.main_run()
        self.assertEqual(proc.returncode, 1, proc.stdout[-2000:])
        self.assertEqual(type(self).main["exit_code"], 1)
        self.assertEqual(type(self).main["collected"], len(t))
        self.assertEqual(type(self).main["errors"], [])

        passed = t["test_keeps"]
        self.assertEqual((passed["outcome"], passed["phase"], passed["error"]), ("passed", "call", None))
        self.assertEqual((passed["report"]["exit_code"], passed["report"]["error"]), (0, None))

        failed = t["test_fails"]
        self.assertEqual((failed["outcome"], failed["phase"]), ("failed", "call"))
        self.assertIn("ValueError", failed["error"]["message"])
        self.assertIn("boom 42", failed["error"]["message"])
        self.assertEqual(failed["report"]["exit_code"], 1)
        self.assertEqual((failed["report"]["error"]["type"], failed["report"]["error"]["message"]),
                         ("ValueError", "boom 42"))
        self.assertTrue(any("test_main.py" in ln for ln in failed["report"]["error"]["traceback"]))

        skipped = t["test_skipped"]
        self.assertEqual((skipped["outcome"], skipped["phase"], skipped["report"]), ("skipped", "setup", None))

        xfailed = t["test_expected_failure"]
        self.assertEqual((xfailed["outcome"], xfailed["phase"], xfailed["error"]), ("xfailed", "call", None))
        self.assertEqual((xfailed["report"]["error"], xfailed["report"]["exit_code"]), (None, 0))

        broken = t["test_broken_fixture"]
        self.assertEqual((broken["outcome"], broken["phase"], broken["report"]), ("error", "setup", None))
        self.assertIn("fixture broke", broken["error"]["message"])

    def test_collection_error_names_the_file_and_exits_2(self):
        project = Project(self.addCleanup, {"tests/test_fine.py": "def test_ok():\n    pass\n",
                                 "tests/test_broken.py": "def test_x(:\n    pass\n"})
        proc, doc = project.measure(self)
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(doc["exit_code"], 2)
        self.assertEqual(doc["errors"][0]["id"], "tests/test_broken.py")
        self.assertEqual(doc["errors"][0]["type"], "collection failed")
        self.assertIn("SyntaxError", doc["errors"][0]["message"])
        self.assertTrue(any("test_broken.py" in ln for ln in doc["errors"][0]["traceback"]))
        # pytest stops before running anything: the collected test is listed, not run.
        self.assertEqual([(x["id"], x["outcome"], x["report"]) for x in doc["tests"]],
                         [("tests/test_fine.py::test_ok", "not-run", None)])

    # -- selection ---------------------------------------------------------------------------------------

    def test_hints_measure_only_the_hinted_tests_with_the_peak_breakdown_where_a_peak_is_given(self):
        source = '''
            import tracemalloc


            def test_broken_down():
                tmp = bytearray(5_000_000)
                more = [bytearray(1000) for _ in range(1000)]
                del tmp, more


            def test_plain():
                tmp = bytearray(2_000_000)
                del tmp


            def test_not_hinted():
                assert not tracemalloc.is_tracing()
            '''
        project = Project(self.addCleanup, {"tests/test_hints.py": source})
        # The cheap pass gives the peak; the hinted pass breaks that peak down by site.
        _, cheap = project.measure(self, out="cheap.json")
        self.assertEqual(len(cheap["tests"]), 3)
        peak = by_id(cheap)["test_broken_down"]["report"]["peak"]
        self.assertGreater(peak, 5_000_000)
        hints = {"tests": {"tests/test_hints.py::test_broken_down": peak, "tests/test_hints.py::test_plain": None}}
        project.write("hints.json", json.dumps(hints))
        proc, doc = project.measure(self, "--memdelta-hints", os.path.join(project.root, "hints.json"))
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:])
        self.assertIn("3 passed", proc.stdout)  # the unhinted test still ran, untraced
        self.assertEqual(sorted(by_id(doc)), ["test_broken_down", "test_plain"])
        self.assertEqual(doc["collected"], 3)

        r = by_id(doc)["test_broken_down"]["report"]
        self.assertTrue(r["settings"]["peak_sites"])
        self.assertLessEqual(abs(r["peak_sites_total"] - r["peak"]), 0.01 * r["peak"])
        top = max(r["sites"], key=lambda s: s["peak"])
        self.assertEqual((top["file"], top["line"]),
                         ("tests/test_hints.py", line_of(source, "tmp = bytearray(5_000_000)")))
        self.assertGreaterEqual(top["peak"], 5_000_000)

        plain = by_id(doc)["test_plain"]["report"]
        self.assertFalse(plain["settings"]["peak_sites"])
        self.assertIsNone(plain["peak_sites_total"])
        self.assertGreaterEqual(plain["peak"], 2_000_000)

    def test_a_run_with_hints_still_repeats_marked_tests_it_does_not_measure(self):
        source = '''
            import pytest

            CALLS = []


            @pytest.mark.memdelta(iterations=5, warmup=1)
            def test_marked():
                CALLS.append(1)


            def test_sees_every_call():
                assert len(CALLS) == 6
            '''
        project = Project(self.addCleanup, {"tests/test_rep.py": source})
        proc, _ = project.measure(self, out="cheap.json")
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:])
        project.write("hints.json", json.dumps({"tests": {"tests/test_rep.py::test_sees_every_call": None}}))
        proc, doc = project.measure(self, "--memdelta-hints", os.path.join(project.root, "hints.json"))
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:])
        self.assertEqual(sorted(by_id(doc)), ["test_sees_every_call"])

    def test_a_failure_in_the_probes_bookkeeping_fails_that_test_and_leaves_the_next_clean(self):
        conftest = '''
            import memdelta_probe.capture as capture

            real = capture.count_types
            calls = []


            def failing_second_count():
                calls.append(1)
                if len(calls) == 2:
                    raise MemoryError("no room to count")
                return real()


            capture.count_types = failing_second_count
            '''
        source = '''
            KEPT = []


            def test_first():
                KEPT.extend(bytearray(1000) for _ in range(400))


            def test_second():
                pass
            '''
        project = Project(self.addCleanup, {"tests/conftest.py": conftest, "tests/test_b.py": source})
        proc, doc = project.measure(self)
        t = by_id(doc)
        self.assertEqual(t["test_first"]["outcome"], "failed")
        self.assertIn("memdelta could not finish measuring this test: MemoryError: no room to count",
                      t["test_first"]["error"]["message"])
        second = t["test_second"]["report"]
        self.assertEqual(t["test_second"]["outcome"], "passed")
        # Measured from a clean start: not the first test's 400 KB still traced, nor a stale hook or freeze.
        self.assertLess(second["peak"], NOISE)
        self.assertLess(second["retained"], NOISE)

    def test_shards_are_disjoint_slices_by_fnv1a_of_the_node_id(self):
        from memdelta_probe.pytest_plugin import fnv1a

        for text in ("tests/test_a.py::test_x", "", "tests/test_ünï.py::test_λ[😀]", "a\ud800b"):
            self.assertEqual(fnv1a(text), fnv1a_reference(text), repr(text))
        self.assertEqual(fnv1a_reference(""), 0x811C9DC5)

        files = {
            "tests/test_a.py": "def test_x():\n    pass\n\n\ndef test_y():\n    pass\n",
            "tests/test_b.py": "".join("def test_%d():\n    pass\n\n\n" % i for i in range(3)),
            "tests/test_c.py": "def test_z():\n    pass\n",
            "tests/test_ünï.py": "def test_λ():\n    pass\n\n\ndef test_µ():\n    pass\n",
        }
        project = Project(self.addCleanup, files)
        # The whole suite as pytest itself collects it, in its order.
        proc = project.pytest("--collect-only", plugin=False)
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:])
        listed = [ln for ln in proc.stdout.splitlines() if "::" in ln]
        everything = {nodeid: index for index, nodeid in enumerate(listed)}
        self.assertEqual(len(everything), 8)
        self.assertIn("tests/test_ünï.py::test_λ", everything)
        slices = []
        for i in (1, 2, 3):
            _, doc = project.measure(self, "--memdelta-shard", "%d/3" % i, out="shard%d.json" % i)
            self.assertEqual(doc["collected"], len(everything))
            ids = {t["id"]: t["index"] for t in doc["tests"]}
            for nodeid, index in ids.items():
                self.assertEqual(fnv1a_reference(nodeid) % 3, i - 1, nodeid)
                self.assertEqual(index, everything[nodeid], nodeid)
            slices.append(set(ids))
        self.assertEqual(set().union(*slices), set(everything))
        self.assertEqual(sum(len(s) for s in slices), len(everything))
        self.assertGreaterEqual(sum(1 for s in slices if s), 2)
        self.assertIn("tests/test_a.py::test_x", slices[fnv1a_reference("tests/test_a.py::test_x") % 3])

    # -- switched off, and limits ----------------------------------------------------------------------------

    def test_without_out_the_plugin_only_registers_the_mark(self):
        source = '''
            import tracemalloc

            import pytest

            CALLS = []


            @pytest.mark.memdelta(iterations=5)
            def test_marked():
                assert not tracemalloc.is_tracing()
                CALLS.append(1)


            def test_called_once():
                assert CALLS == [1]
            '''
        project = Project(self.addCleanup, {"tests/test_off.py": source})
        before = sorted(os.listdir(project.root))
        proc = project.pytest("--strict-markers")
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:] + proc.stderr[-2000:])
        self.assertIn("2 passed", proc.stdout)
        self.assertEqual(sorted(os.listdir(project.root)), before)
        # Without the plugin the mark is unknown, so the pass above is the plugin's registration.
        proc = project.pytest("--strict-markers", plugin=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("'memdelta' not found in `markers`", proc.stdout + proc.stderr)

    def test_memory_limit_fails_the_unbounded_test_only(self):
        source = '''
            def test_before():
                tmp = bytearray(10_000_000)
                del tmp


            def test_grows_without_bound():
                kept = []
                while True:
                    kept.append(bytearray(1_000_000))


            def test_after():
                tmp = bytearray(20_000_000)
                del tmp
            '''
        project = Project(self.addCleanup, {"tests/test_grow.py": source})
        proc, doc = project.measure(self, "--memdelta-memory-limit", str(256 * MiB))
        self.assertEqual(proc.returncode, 1, proc.stdout[-2000:] + proc.stderr[-2000:])
        t = by_id(doc)
        grow = t["test_grows_without_bound"]
        self.assertEqual((grow["outcome"], grow["phase"]), ("failed", "call"))
        self.assertIn("MemoryError", grow["error"]["message"])
        self.assertEqual(grow["report"]["error"]["type"], "MemoryError")
        self.assertTrue(any("test_grow.py" in ln for ln in grow["report"]["error"]["traceback"]))
        self.assertGreater(grow["report"]["peak"], 64 * MiB)
        self.assertLess(grow["report"]["peak"], 256 * MiB)
        for name, size in (("test_before", 10_000_000), ("test_after", 20_000_000)):
            with self.subTest(name):
                self.assertEqual(t[name]["outcome"], "passed")
                self.assertIsNone(t[name]["report"]["error"])
                self.assertGreaterEqual(t[name]["report"]["peak"], size)

    @unittest.skipUnless(xdist is not None, "pytest-xdist is not installed for this Python")
    def test_xdist_workers_from_the_project_config_are_turned_off(self):
        source = '''
            import os


            def test_allocates():
                tmp = [bytearray(1000) for _ in range(1000)]
                del tmp


            def test_runs_in_this_process():
                assert "PYTEST_XDIST_WORKER" not in os.environ
            '''
        project = Project(self.addCleanup, {"tests/test_x.py": source})
        project.write("pytest.ini", "[pytest]\naddopts = -p xdist -n 2\n")
        # Without memdelta the project's configuration does start workers.
        control = project.pytest("tests", plugin=False)
        self.assertEqual(control.returncode, 1, control.stdout[-2000:])
        proc, doc = project.measure(self, "tests")
        self.assertEqual(proc.returncode, 0, proc.stdout[-2000:] + proc.stderr[-2000:])
        self.assertIn("pytest-xdist workers turned off", proc.stderr)
        t = by_id(doc)
        self.assertEqual(set(t), {"test_allocates", "test_runs_in_this_process"})
        self.assertGreaterEqual(t["test_allocates"]["report"]["peak"], 1_000_000)


if __name__ == "__main__":
    unittest.main()
