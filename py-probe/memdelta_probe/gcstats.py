"""Garbage-collector findings: cyclic garbage, uncollectable objects and growth of live object counts by type.

``gc.get_objects()`` allocates a list the size of the heap, so live counts are taken only outside the traced window.
"""
from __future__ import annotations

import gc

TOP_TYPES = 10
TOP_GROWTH = 20


def type_name(obj) -> str:
    return _name_of_type(type(obj))


def count_types() -> dict:
    """Live gc-tracked objects by type name.

    Counted by type object into one list per type (its length is the count): an int counter above 256 would be a
    new int object at every step, and while tracemalloc is tracing each of those is a traced allocation with a
    traceback, which made counting a large heap ten times slower than the list appends.
    """
    by_type: dict = {}
    get = by_type.get
    objs = gc.get_objects()
    try:
        for o in objs:
            t = type(o)
            tally = get(t)
            if tally is None:
                tally = by_type[t] = []
            tally.append(None)
    finally:
        del objs
    counts: dict = {}
    for t, tally in by_type.items():
        k = _name_of_type(t)
        counts[k] = counts.get(k, 0) + len(tally)
    return counts


def _name_of_type(t) -> str:
    mod = getattr(t, "__module__", None)
    name = getattr(t, "__qualname__", None) or t.__name__
    if mod and mod != "builtins":
        return "%s.%s" % (mod, name)
    return name


def top_types(objs, limit: int = TOP_TYPES) -> list:
    counts: dict = {}
    for o in objs:
        k = type_name(o)
        counts[k] = counts.get(k, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [{"type": k[:512], "count": v} for k, v in ranked]


def growth(before: dict, after: dict, limit: int = TOP_GROWTH) -> list:
    rows = []
    for k in set(before) | set(after):
        b = before.get(k, 0)
        a = after.get(k, 0)
        if a != b:
            rows.append((a - b, k, b, a))
    rows.sort(key=lambda r: (-abs(r[0]), r[1]))
    return [{"type": k[:512], "before": b, "after": a, "delta": d} for d, k, b, a in rows[:limit]]


class CyclicStep:
    """The final collection, done twice: once with DEBUG_SAVEALL to see the cyclic garbage, then for real.

    Leaves the heap as a plain ``gc.collect()`` would: the saved objects are dropped and collected again, and the
    probe's own findings are attributed to the probe (its frame is innermost), never to the target.
    """

    __slots__ = ("objects", "bytes", "types", "uncollectable", "uncollectable_types")

    def __init__(self) -> None:
        self.objects = 0
        self.bytes = 0
        self.types: list = []
        self.uncollectable = 0
        self.uncollectable_types: list = []

    def run(self, current) -> None:
        """``current`` returns traced bytes now (tracemalloc.get_traced_memory()[0])."""
        pre = len(gc.garbage)
        old = gc.get_debug()
        gc.set_debug(old | gc.DEBUG_SAVEALL)
        try:
            gc.collect()
        finally:
            gc.set_debug(old)
        with_cycles = current()
        found = gc.garbage[pre:]
        self.objects = len(found)
        if found:
            self.types = top_types(found)
        del found
        del gc.garbage[pre:]
        gc.collect()
        # Off by the few hundred bytes of the type list kept above.
        self.bytes = max(0, with_cycles - current())
        self.uncollectable = len(gc.garbage)
        if gc.garbage:
            self.uncollectable_types = top_types(gc.garbage)

    def as_dict(self, growth_rows: list) -> dict:
        return {
            "cyclic": {"objects": self.objects, "bytes": self.bytes, "types": self.types},
            "uncollectable": {"count": self.uncollectable, "types": self.uncollectable_types},
            "growth": growth_rows,
        }
