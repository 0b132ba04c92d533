from __future__ import annotations

import os
import unittest

from tests.support import ProbeCase


class Exits(ProbeCase):
    def test_target_that_raises(self):
        self.write(
            "boom.py",
            """
            def fail():
                raise ValueError("bad input " + "x" * 5000)

            data = [1, 2, 3]
            fail()
            """,
        )
        run = self.probe("boom.py")
        self.assertEqual(run.rc, 1)
        r = run.report
        self.assertEqual(r["exit_code"], 1)
        self.assertEqual(r["error"]["type"], "ValueError")
        self.assertTrue(r["error"]["message"].startswith("bad input x"))
        self.assertLessEqual(len(r["error"]["message"]), 2000)
        tb = r["error"]["traceback"]
        self.assertTrue(0 < len(tb) <= 20)
        self.assertTrue(all(len(line) <= 300 for line in tb))
        self.assertTrue(any("boom.py" in line and "fail" in line for line in tb), tb)
        self.assertFalse(any("memdelta_probe" in line for line in tb), tb)
        self.assertIn("ValueError", run.stderr)

    def test_sys_exit_code(self):
        self.write("quit.py", "import sys\nkeep = bytearray(10000)\nsys.exit(3)\n")
        run = self.probe("quit.py")
        self.assertEqual(run.rc, 3)
        self.assertEqual(run.report["exit_code"], 3)
        self.assertEqual(run.report["error"]["type"], "SystemExit")
        self.assertGreaterEqual(run.report["retained"], 10000)

    def test_sys_exit_zero_is_success(self):
        self.write("ok.py", "import sys\nsys.exit(0)\n")
        run = self.probe("ok.py")
        self.assertEqual((run.rc, run.report["exit_code"], run.report["error"]), (0, 0, None))

    def test_garbage_on_stdout_does_not_touch_the_report(self):
        self.write("noisy.py", 'import sys\nprint("{not json", flush=True)\nsys.stdout.write("\\x00\\x01 ]]")\n')
        run = self.probe("noisy.py")
        self.assertEqual(run.rc, 0)
        self.assertIn("{not json", run.stdout)
        self.assertEqual(run.report["exit_code"], 0)
        self.assertNotIn("memdelta/probe@1", run.stdout)

    def test_script_sees_its_argv_and_path(self):
        self.write("sub/helper.py", "VALUE = 7\n")
        self.write(
            "sub/main.py",
            """
            import sys, helper
            assert sys.argv == ["sub/main.py", "a", "--b"], sys.argv
            assert __name__ == "__main__"
            sys.exit(helper.VALUE)
            """,
        )
        run = self.probe("sub/main.py", "a", "--b")
        self.assertEqual(run.rc, 7, run.report["error"])

    def test_missing_script_is_reported(self):
        run = self.probe("nope.py")
        self.assertEqual(run.rc, 2)
        self.assertEqual(run.report["error"]["type"], "FileNotFoundError")

    def test_import_error_of_a_callable_is_reported(self):
        self.write("broken.py", "import does_not_exist_anywhere\ndef run():\n    pass\n")
        run = self.probe("broken:run")
        self.assertEqual(run.rc, 1)
        self.assertEqual(run.report["error"]["type"], "ModuleNotFoundError")

    def test_usage_error_is_one_line_and_no_report(self):
        run = self.probe("--frames", "0", "x.py", expect_report=False)
        self.assertEqual(run.rc, 64)
        self.assertEqual(len(run.stderr.strip().splitlines()), 1, run.stderr)
        self.assertIn("--frames", run.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.root, "report.json")))
        run = self.probe("a:b", "extra", expect_report=False)
        self.assertEqual(run.rc, 64)
        run = self.probe(expect_report=False)
        self.assertEqual(run.rc, 64)
        self.assertIn("TARGET", run.stderr)


if __name__ == "__main__":
    unittest.main()
