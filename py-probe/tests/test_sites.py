from __future__ import annotations

import unittest

from tests.support import ProbeCase, largest, site

DETERMINISTIC = '''
class Item:
    def __init__(self, i):
        self.name = "item-%d" % i
        self.tags = {"k%d" % j: str(j) * 3 for j in range(i % 7)}


def build(n):
    return [Item(i) for i in range(n)]


def index(items):
    table = {}
    for it in items:
        table.setdefault(len(it.tags), []).append(it.name)
    return table


ITEMS = build(3000)
TABLE = index(ITEMS)
temp = [str(i) * 20 for i in range(20000)]
del temp
'''


def keyed(report, field):
    return {(s["file"], s["function"], s["stmt"], s["ordinal"]): s[field] for s in report["sites"]}


class Sites(ProbeCase):
    def test_same_target_twice_gives_identical_sites(self):
        self.write("det.py", DETERMINISTIC)
        a = self.probe("det.py").report
        b = self.probe("det.py").report
        self.assertEqual(keyed(a, "retained"), keyed(b, "retained"))
        self.assertEqual(keyed(a, "peak"), keyed(b, "peak"))
        self.assertEqual((a["peak"], a["retained"]), (b["peak"], b["retained"]))
        self.assertGreater(a["retained"], 500_000)

    def test_json_inside_project_code_is_attributed_to_the_project_function(self):
        self.write(
            "loader.py",
            """
            import json

            TEXT = json.dumps([{"id": i, "name": "n%d" % i} for i in range(3000)])


            def load():
                return json.loads(TEXT)


            DATA = load()
            """,
        )
        r = self.probe("--no-peak-sites", "loader.py").report
        top = largest(r, "retained")
        self.assertEqual((top["file"], top["function"], top["stmt"]), ("loader.py", "load", "return json.loads(TEXT)"))
        self.assertTrue(top["via"].startswith("<stdlib>/json/decoder.py:"), top["via"])
        self.assertFalse(any(s["file"].startswith("<stdlib>/json") for s in r["sites"][:3]))

    def test_identity_survives_insertions_above_and_reflow(self):
        before = '''
        KEEP = []


        def fill():
            KEEP.append(bytearray(100000))
            KEEP.append(bytearray(100000))
            KEEP.append({"a": list(range(5000)), "b": "x" * 1000})


        fill()
        '''
        after = '''
        """A docstring added above."""
        import os

        KEEP = []


        def unrelated():
            return os.sep


        def fill():
            KEEP.append(bytearray(100000))  # a comment
            KEEP.append(bytearray(100000))
            KEEP.append({"a": list(range(5000)),
                         "b": "x" * 1000})


        fill()
        '''
        self.write("ident.py", before)
        a = self.probe("--no-peak-sites", "ident.py").report
        self.write("ident.py", after)
        b = self.probe("--no-peak-sites", "ident.py").report
        for ordinal, (line_a, line_b) in enumerate([(5, 12), (6, 13)]):
            sa = site(a, function="fill", stmt="KEEP.append(bytearray(100000))", ordinal=ordinal)
            sb = site(b, function="fill", stmt="KEEP.append(bytearray(100000))", ordinal=ordinal)
            self.assertEqual((sa["line"], sb["line"]), (line_a, line_b))
            self.assertEqual(sa["retained"], sb["retained"])
        stmt = 'KEEP.append({"a":list(range(5000)),"b":"x"*1000})'
        sa = site(a, function="fill", stmt=stmt, ordinal=0)
        sb = site(b, function="fill", stmt=stmt, ordinal=0)
        self.assertEqual(sa["line"], 7)
        self.assertIn(sb["line"], (14, 15))
        self.assertEqual(sb["code"], sb["code"].strip())

    def test_max_sites_puts_the_rest_in_other(self):
        lines = ["K = []"] + ["K.append(bytearray(%d))" % (1000 + i) for i in range(30)]
        self.write("many.py", "\n".join(lines) + "\n")
        full = self.probe("--no-peak-sites", "many.py").report
        capped = self.probe("--no-peak-sites", "--max-sites", "5", "many.py").report
        self.assertEqual(len(capped["sites"]), 5)
        self.assertGreaterEqual(capped["other"]["sites"], 25)
        self.assertEqual(sum(s["retained"] for s in capped["sites"]) + capped["other"]["retained"],
                         sum(s["retained"] for s in full["sites"]) + full["other"]["retained"])
        self.assertEqual([(x["stmt"], x["retained"]) for x in capped["sites"]],
                         [(x["stmt"], x["retained"]) for x in full["sites"][:5]])
        self.assertEqual(full["sites"][0]["retained"], max(x["retained"] for x in full["sites"]))


if __name__ == "__main__":
    unittest.main()
