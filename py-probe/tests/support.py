"""Runs the real probe as a subprocess on small Python files written to a temp directory."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

PROBE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1024 * 1024

TOP_KEYS = {"schema", "probe_version", "python", "target", "settings", "exit_code", "error", "wall_time", "peak",
            "peak_sites_total", "retained", "leak", "rss", "sites", "other", "gc"}
SITE_KEYS = {"file", "function", "line", "code", "stmt", "ordinal", "via", "peak", "retained", "leak", "count"}
SETTINGS_KEYS = {"frames", "iterations", "warmup", "peak_sites", "tolerance", "mode"}


class Run:
    __slots__ = ("rc", "stdout", "stderr", "report")

    def __init__(self, rc: int, stdout: str, stderr: str, report: dict | None) -> None:
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.report = report


class ProbeCase(unittest.TestCase):
    """A temp project directory per test, and a helper to run the probe in it."""

    def setUp(self) -> None:
        self.root = tempfile.mkdtemp(prefix="memdelta-probe-test-")
        self.addCleanup(shutil.rmtree, self.root, True)

    def write(self, rel: str, text: str) -> str:
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(textwrap.dedent(text).lstrip("\n"))
        return path

    def probe(self, *args: str, expect_report: bool = True) -> Run:
        out = os.path.join(self.root, "report.json")
        if os.path.exists(out):
            os.unlink(out)
        env = dict(os.environ)
        env["PYTHONPATH"] = PROBE_DIR
        env["PYTHONHASHSEED"] = "0"
        cmd = [sys.executable, "-m", "memdelta_probe", "--out", out, "--root", self.root, *args]
        proc = subprocess.run(cmd, cwd=self.root, env=env, capture_output=True, text=True, timeout=300)
        report = None
        if os.path.exists(out):
            with open(out, encoding="utf-8") as f:
                report = json.load(f)
            check_shape(self, report)
        if expect_report:
            self.assertIsNotNone(report, "no report; stderr: %s" % proc.stderr[-2000:])
        return Run(proc.returncode, proc.stdout, proc.stderr, report)


def check_shape(tc: unittest.TestCase, r: dict) -> None:
    """The report has exactly the keys of the memdelta/probe@1 contract, with plausible types."""
    tc.assertEqual(set(r), TOP_KEYS)
    tc.assertEqual(r["schema"], "memdelta/probe@1")
    tc.assertEqual(set(r["settings"]), SETTINGS_KEYS)
    tc.assertIn(r["target"]["kind"], ("script", "module", "callable"))
    for key in ("peak", "retained"):
        tc.assertIsInstance(r[key], int)
        tc.assertGreaterEqual(r[key], 0)
    for s in r["sites"]:
        tc.assertEqual(set(s), SITE_KEYS)
        tc.assertFalse(s["file"].startswith("/"), s["file"])
        tc.assertNotIn("..", s["file"].split("/"))
        for key in ("line", "ordinal", "peak", "retained", "count"):
            tc.assertIsInstance(s[key], int)
            tc.assertGreaterEqual(s[key], 0)
    tc.assertEqual(set(r["other"]), {"sites", "peak", "retained", "count"})
    if r["gc"] is not None:
        tc.assertEqual(set(r["gc"]), {"cyclic", "uncollectable", "growth"})
        tc.assertLessEqual(len(r["gc"]["growth"]), 20)
    if r["settings"]["mode"] == "traced":
        site_retained = sum(s["retained"] for s in r["sites"]) + r["other"]["retained"]
        tc.assertLessEqual(site_retained, r["retained"])


def site(report: dict, **match) -> dict:
    found = [s for s in report["sites"] if all(s[k] == v for k, v in match.items())]
    if len(found) != 1:
        raise AssertionError("expected one site matching %r, found %d in %r" % (match, len(found), report["sites"][:8]))
    return found[0]


def largest(report: dict, key: str) -> dict:
    return max(report["sites"], key=lambda s: s[key])
