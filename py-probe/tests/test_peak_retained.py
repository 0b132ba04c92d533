from __future__ import annotations

import unittest

from tests.support import MiB, ProbeCase, largest

PHASED = '''
MiB = 1024 * 1024
keep = []


def f():
    buf = bytearray(50 * MiB)
    del buf


def g():
    keep.append(bytearray(10 * MiB))


f()
g()
'''


class PeakAndRetained(ProbeCase):
    def test_phased_script_peak_site_retained_site_and_total(self):
        self.write("phased.py", PHASED)
        r = self.probe("phased.py").report
        self.assertEqual(r["exit_code"], 0)
        top = largest(r, "peak")
        self.assertEqual((top["file"], top["function"], top["line"]), ("phased.py", "f", 6))
        self.assertEqual(top["stmt"], "buf=bytearray(50*MiB)")
        self.assertAlmostEqual(top["peak"], 50 * MiB, delta=0.01 * 50 * MiB)
        kept = largest(r, "retained")
        self.assertEqual((kept["file"], kept["function"], kept["line"]), ("phased.py", "g", 11))
        self.assertAlmostEqual(kept["retained"], 10 * MiB, delta=0.01 * 10 * MiB)
        self.assertAlmostEqual(r["retained"], 10 * MiB, delta=0.01 * 10 * MiB)
        self.assertGreaterEqual(r["peak"], 50 * MiB)
        self.assertIsNotNone(r["peak_sites_total"])
        self.assertLessEqual(abs(r["peak_sites_total"] - r["peak"]), 0.01 * r["peak"])
        self.assertTrue(r["settings"]["peak_sites"])
        self.assertIsNone(r["leak"])

    def test_a_small_peak_is_broken_down_at_its_line_not_at_the_probes_snapshot(self):
        # Taking a snapshot allocates; for a peak of a few hundred KB that rise once fired a second snapshot after
        # the peak, and the breakdown reported a peak of a few bytes at the function's first line.
        self.write("small/__init__.py", "")
        self.write("small/work.py", "def f():\n    x = [0] * 20000\n    return len(x)\n")
        cheap = self.probe("--no-peak-sites", "--iterations", "1", "--warmup", "0", "small.work:f").report
        r = self.probe("--iterations", "1", "--warmup", "0", "small.work:f").report
        self.assertGreaterEqual(cheap["peak"], 160_000)
        self.assertLessEqual(abs(r["peak"] - cheap["peak"]), 0.01 * cheap["peak"])
        self.assertLessEqual(abs(r["peak_sites_total"] - r["peak"]), 0.01 * r["peak"])
        top = largest(r, "peak")
        self.assertEqual((top["file"], top["line"]), ("small/work.py", 2))
        self.assertGreaterEqual(top["peak"], 160_000)

    def test_peak_hint_gives_the_same_breakdown(self):
        self.write("phased.py", PHASED)
        cheap = self.probe("--no-peak-sites", "phased.py").report
        hinted = self.probe("--peak-hint", str(cheap["peak"]), "phased.py").report
        top = largest(hinted, "peak")
        self.assertEqual((top["function"], top["line"]), ("f", 6))
        self.assertLessEqual(abs(hinted["peak_sites_total"] - hinted["peak"]), 0.01 * hinted["peak"])

    def test_cheap_mode_has_totals_and_retained_sites_only(self):
        self.write("phased.py", PHASED)
        r = self.probe("--no-peak-sites", "phased.py").report
        self.assertIsNone(r["peak_sites_total"])
        self.assertFalse(r["settings"]["peak_sites"])
        self.assertTrue(all(s["peak"] == 0 for s in r["sites"]))
        self.assertAlmostEqual(r["peak"], 50 * MiB, delta=0.01 * 50 * MiB)
        kept = largest(r, "retained")
        self.assertEqual((kept["function"], kept["line"]), ("g", 11))

    def test_rss_only(self):
        self.write("phased.py", PHASED)
        r = self.probe("--rss-only", "phased.py").report
        self.assertEqual(r["settings"]["mode"], "rss")
        self.assertGreater(r["rss"], 50 * MiB)
        self.assertEqual((r["peak"], r["retained"], r["sites"]), (0, 0, []))

    def test_module_target_runs_as_main_with_args(self):
        self.write("pkg/__init__.py", "")
        self.write(
            "pkg/tool.py",
            """
            import sys
            KEEP = None
            if __name__ == "__main__":
                KEEP = bytearray(int(sys.argv[1]))
            """,
        )
        r = self.probe("-m", "pkg.tool", "300000").report
        self.assertEqual(r["target"], {"kind": "module", "spec": "pkg.tool", "args": ["300000"]})
        kept = largest(r, "retained")
        self.assertEqual((kept["file"], kept["function"]), ("pkg/tool.py", "<module>"))
        self.assertAlmostEqual(kept["retained"], 300000, delta=1000)


if __name__ == "__main__":
    unittest.main()
