from __future__ import annotations

import unittest

from tests.support import ProbeCase, largest

WORK = '''
import functools

KEEP = []


def grows():
    KEEP.append(bytearray(48 * 1024))


@functools.lru_cache(maxsize=None)
def table(n):
    return [str(i) * 10 for i in range(n)]


def cached():
    table(3000)


def churn():
    x = [bytearray(1000) for _ in range(200)]
    del x
'''


class Leak(ProbeCase):
    def setUp(self):
        super().setUp()
        self.write("bench/__init__.py", "")
        self.write("bench/work.py", WORK)

    def run_callable(self, name, *extra):
        return self.probe("--no-peak-sites", "--iterations", "10", "--warmup", "0", *extra, "bench.work:" + name).report

    def test_list_growing_each_call_leaks_48_kib_per_iteration_at_its_site(self):
        r = self.run_callable("grows")
        leak = r["leak"]
        self.assertEqual((leak["iterations"], leak["warmup"], len(leak["series"])), (10, 0, 10))
        self.assertAlmostEqual(leak["per_iteration"], 48 * 1024, delta=0.03 * 48 * 1024)
        top = largest(r, "leak")
        self.assertEqual((top["file"], top["function"], top["stmt"]), ("bench/work.py", "grows",
                                                                        "KEEP.append(bytearray(48*1024))"))
        self.assertAlmostEqual(top["leak"], 48 * 1024, delta=0.03 * 48 * 1024)
        self.assertAlmostEqual(r["retained"], 10 * 48 * 1024, delta=0.03 * 10 * 48 * 1024)
        self.assertEqual(leak["series"][-1], r["retained"])

    def test_one_time_cache_is_setup_not_leak(self):
        r = self.run_callable("cached")
        self.assertEqual(r["leak"]["per_iteration"], 0)
        self.assertTrue(all(s["leak"] == 0 for s in r["sites"]))
        # The cache is filled by the first measured call and kept: setup, then flat.
        self.assertGreater(r["leak"]["setup"], 100_000)
        self.assertGreater(r["retained"], 100_000)

    def test_allocate_and_free_retains_nothing(self):
        r = self.run_callable("churn")
        self.assertGreater(r["peak"], 200 * 1000)
        self.assertLess(r["retained"], 2048)
        self.assertEqual(r["leak"]["per_iteration"], 0)

    def test_breakdown_for_a_callable(self):
        r = self.probe("--iterations", "3", "--warmup", "1", "bench.work:churn").report
        top = largest(r, "peak")
        self.assertEqual((top["function"], top["stmt"]), ("churn", "x=[bytearray(1000)for _ in range(200)]"))
        self.assertLessEqual(abs(r["peak_sites_total"] - r["peak"]), 0.01 * r["peak"])
        self.assertTrue(all(s["leak"] == 0 for s in r["sites"]))


if __name__ == "__main__":
    unittest.main()
