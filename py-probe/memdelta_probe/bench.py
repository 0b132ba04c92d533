"""Cost and accuracy of the probe: ``python -m memdelta_probe.bench [--quick] [--frames N] [--repeats N]``.

Every measurement is a fresh process; all variants of a workload run interleaved in each round, so a busy machine
slows them alike, and each ratio is taken within a round and then the median over rounds is printed. Wall time is the measured window only (the probe's
``wall_time``; the same span timed by a plain runner), plus end-to-end process time for the breakdown.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PROBE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKLOADS = {
    "small objects": """
rows = [(i, str(i), float(i)) for i in range(80000)]
index = {r[1]: r for r in rows}
del rows
""",
    "json round trips": """
import json


def roundtrip(data):
    for _ in range(6):
        data = json.loads(json.dumps(data))
    return data


DATA = roundtrip([{"id": i, "name": "n%d" % i, "tags": ["a", "b", str(i)]} for i in range(3000)])
""",
    "object trees": """
class Node:
    __slots__ = ("value", "children")

    def __init__(self, value):
        self.value = value
        self.children = []


def build(depth, fan):
    root = Node(0)
    level = [root]
    for d in range(depth):
        nxt = []
        for n in level:
            for i in range(fan):
                c = Node(d * fan + i)
                n.children.append(c)
                nxt.append(c)
        level = nxt
    return root


TREE = build(6, 6)
""",
    "large buffers": """
def chunks():
    total = 0
    for i in range(40):
        buf = bytearray(4 * 1024 * 1024)
        total += len(buf)
        del buf
    return total


KEEP = bytearray(8 * 1024 * 1024)
chunks()
""",
    "phased": """
import json

MiB = 1024 * 1024


def load():
    return [{"k": i, "v": str(i) * 3} for i in range(20000)]


def export(rows):
    text = json.dumps(rows)  # short-lived: the peak
    return len(text)


def scratch():
    buf = bytearray(24 * MiB)
    del buf


ROWS = load()
SIZE = export(ROWS)
scratch()
SUMMARY = {r["k"] % 100: r["v"] for r in ROWS}
""",
}

RUNNER = r"""
import sys, time, tracemalloc
path, frames = sys.argv[1], int(sys.argv[2])
with open(path, "rb") as f:
    code = compile(f.read(), path, "exec")
g = {"__name__": "__main__", "__file__": path, "__builtins__": __builtins__}
def run(c, g):
    exec(c, g)
if frames:
    tracemalloc.start(frames)
t0 = time.perf_counter()
run(code, g)
print(time.perf_counter() - t0)
"""


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONPATH"] = PROBE_PARENT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def plain(path: str, frames: int) -> float:
    out = subprocess.run([sys.executable, "-c", RUNNER, path, str(frames)], capture_output=True, text=True,
                         env=_env(), check=True)
    return float(out.stdout.strip().splitlines()[-1])


def probe(root: str, path: str, frames: int, *extra: str) -> tuple[dict, float]:
    out = os.path.join(root, "report.json")
    cmd = [sys.executable, "-m", "memdelta_probe", "--out", out, "--root", root, "--frames", str(frames), *extra,
           os.path.basename(path)]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=root, env=_env(), check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - t0
    with open(out, encoding="utf-8") as f:
        return json.load(f), elapsed


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m memdelta_probe.bench")
    ap.add_argument("--quick", action="store_true", help="fewer rounds (3 instead of 5)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--frames", type=int, default=8, help="depth of the probe runs (default 8)")
    ap.add_argument("--only", default=None, help="run the workloads whose name contains this")
    a = ap.parse_args(argv)
    rounds = a.repeats or (3 if a.quick else 5)
    depths = (1, 4, 8, 16)
    root = tempfile.mkdtemp(prefix="memdelta-bench-")
    try:
        print("Python %s, %d rounds, probe frames=%d, %d CPUs" % (sys.version.split()[0], rounds, a.frames,
                                                                 os.cpu_count() or 0))
        print()
        header = ("workload", "untraced s") + tuple("tm f=%d" % d for d in depths) + (
            "cheap/tm", "breakdown/tm", "breakdown e2e/cheap e2e", "accuracy", "peak MiB")
        print(" | ".join(header))
        print(" | ".join("---" for _ in header))
        for name, src in WORKLOADS.items():
            if a.only and a.only not in name:
                continue
            path = os.path.join(root, name.replace(" ", "_") + ".py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(src)
            ratios: dict = {}
            base_times = []
            acc = []
            peak = 0
            for _ in range(rounds):
                # One round = every variant once, back to back; ratios are taken within the round.
                base = plain(path, 0)
                base_times.append(base)
                tm = {}
                for d in depths:
                    tm[d] = plain(path, d)
                    ratios.setdefault(d, []).append(tm[d] / base)
                ref = tm[a.frames] if a.frames in tm else plain(path, a.frames)
                cheap, cheap_e2e = probe(root, path, a.frames, "--no-peak-sites")
                full, full_e2e = probe(root, path, a.frames, "--peak-hint", str(cheap["peak"]))
                ratios.setdefault("cheap", []).append(cheap["wall_time"] / ref)
                ratios.setdefault("full", []).append(full["wall_time"] / ref)
                ratios.setdefault("e2e", []).append(full_e2e / cheap_e2e)
                peak = full["peak"]
                acc.append(abs((full["peak_sites_total"] or 0) - full["peak"]) / max(1, full["peak"]))
            med = {k: statistics.median(v) for k, v in ratios.items()}
            row = [name, "%.3f" % statistics.median(base_times)] + ["%.1f×" % med[d] for d in depths] + [
                "%.2f" % med["cheap"],
                "%.2f" % med["full"],
                "%.2f" % med["e2e"],
                "%.3f %%" % (100 * max(acc)),
                "%.1f" % (peak / 1048576),
            ]
            print(" | ".join(row), flush=True)
    finally:
        shutil.rmtree(root, True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
