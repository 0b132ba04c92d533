from __future__ import annotations

import unittest

from tests.support import ProbeCase

CYCLES = '''
class Node:
    def __init__(self):
        self.me = self
        self.payload = bytearray(20000)


def make():
    for _ in range(30):
        Node()


KEEP = [bytearray(5000) for _ in range(10)]
make()
'''


class Gc(ProbeCase):
    def test_cycles_left_behind_are_reported_and_change_nothing_else(self):
        self.write("cyc.py", CYCLES)
        r = self.probe("--no-peak-sites", "cyc.py").report
        cyclic = r["gc"]["cyclic"]
        self.assertGreaterEqual(cyclic["objects"], 30)
        self.assertIn({"type": "__main__.Node", "count": 30}, cyclic["types"])
        self.assertGreaterEqual(cyclic["bytes"], 30 * 20000)
        self.assertEqual(r["gc"]["uncollectable"]["count"], 0)
        growth = {g["type"]: g["delta"] for g in r["gc"]["growth"]}
        self.assertNotIn("__main__.Node", growth)
        plain = self.probe("--no-peak-sites", "--no-gc-cyclic", "cyc.py").report
        self.assertEqual(plain["gc"]["cyclic"]["objects"], 0)
        self.assertEqual(r["retained"], plain["retained"])
        self.assertEqual({(s["stmt"], s["ordinal"]): s["retained"] for s in r["sites"]},
                         {(s["stmt"], s["ordinal"]): s["retained"] for s in plain["sites"]})

    def test_growth_counts_live_objects_by_type(self):
        self.write("grow.py", "class Box:\n    pass\n\nBOXES = [Box() for _ in range(500)]\n")
        r = self.probe("--no-peak-sites", "grow.py").report
        growth = {g["type"]: g for g in r["gc"]["growth"]}
        self.assertIn("__main__.Box", growth)
        self.assertGreaterEqual(growth["__main__.Box"]["delta"], 500)


if __name__ == "__main__":
    unittest.main()
