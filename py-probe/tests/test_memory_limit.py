from __future__ import annotations

import unittest

from tests.support import ProbeCase

MIB = 1024 * 1024


class MemoryLimit(ProbeCase):
    def test_unbounded_growth_ends_in_memory_error_with_a_report(self):
        self.write("grow.py", "kept = []\nwhile True:\n    kept.append(bytearray(1_000_000))\n")
        run = self.probe("--memory-limit", str(256 * MIB), "grow.py")
        self.assertEqual(run.rc, 1)
        self.assertEqual(run.report["error"]["type"], "MemoryError")
        self.assertTrue(any("grow.py" in line for line in run.report["error"]["traceback"]))
        self.assertLess(run.report["peak"], 256 * MIB)

    def test_a_target_within_the_limit_is_unaffected(self):
        self.write("small.py", "data = bytearray(10_000_000)\n")
        run = self.probe("--memory-limit", str(256 * MIB), "small.py")
        self.assertEqual(run.rc, 0)
        self.assertIsNone(run.report["error"])
        self.assertGreaterEqual(run.report["peak"], 10_000_000)

    def test_the_target_cannot_raise_the_limit_again(self):
        self.write(
            "raise_it.py",
            """
            import resource
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            try:
                resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                raised = True
            except (ValueError, OSError):
                raised = False
            assert not raised and hard <= %d, (soft, hard)
            """
            % (256 * MIB),
        )
        run = self.probe("--memory-limit", str(256 * MIB), "raise_it.py")
        self.assertEqual(run.rc, 0, run.stderr)

    def test_a_bad_limit_is_a_usage_error(self):
        self.write("small.py", "x = 1\n")
        run = self.probe("--memory-limit", "0", "small.py", expect_report=False)
        self.assertEqual(run.rc, 64)
        self.assertIn("--memory-limit", run.stderr)


if __name__ == "__main__":
    unittest.main()
