"""Building the ``memdelta/probe@1`` report (docs/report-schema.md) and writing it atomically."""
from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import traceback

from memdelta_probe import SCHEMA, __version__
from memdelta_probe.aggregate import build_sites, totals
from memdelta_probe.capture import LEAK_MIN_ITERATIONS
from memdelta_probe.gcstats import growth
from memdelta_probe.sites import PathClassifier, SourceIndex

TRACEBACK_LINES = 20
LINE_CAP = 300
MESSAGE_CAP = 2000
TOLERANCE = 0.01
_PROBE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def robust_slope(series: list) -> int:
    """Median of successive differences over the second half of the series."""
    n = len(series)
    if n < 2:
        return 0
    diffs = sorted(series[i] - series[i - 1] for i in range(max(1, n // 2), n))
    mid = len(diffs) // 2
    if len(diffs) % 2:
        return int(diffs[mid])
    return int(round((diffs[mid - 1] + diffs[mid]) / 2))


def leak_of(series: list) -> int:
    """Per-iteration leak: flagged only over >= 10 calls when the robust slope and the slope from call 2 are > 0."""
    n = len(series)
    if n < LEAK_MIN_ITERATIONS:
        return 0
    median = robust_slope(series)
    if median <= 0 or series[-1] - series[1] <= 0:
        return 0
    return median


def describe_error(exc: BaseException) -> dict:
    """Type, message and a bounded traceback tail without the probe's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PROBE_DIR):
        tb = tb.tb_next
    lines: list = []
    for chunk in traceback.format_exception(type(exc), exc, tb):
        lines.extend(chunk.rstrip("\n").split("\n"))
    lines = [ln[:LINE_CAP] for ln in lines[-TRACEBACK_LINES:]]
    t = type(exc)
    name = t.__qualname__ if t.__module__ in ("builtins", "__main__") else "%s.%s" % (t.__module__, t.__qualname__)
    try:
        message = str(exc)
    except Exception:  # a broken __str__ in the target must not break the report
        message = "<unprintable %s>" % t.__name__
    return {"type": name[:512], "message": message[:MESSAGE_CAP], "traceback": lines}


def build(opts, target, window, exit_code: int, error: dict | None, index: SourceIndex | None = None,
          classifier: PathClassifier | None = None) -> dict:
    """The report as a plain dict. ``index`` and ``classifier`` may be shared by many reports of one process (the
    pytest plugin's tests): each source file is then parsed once per session, not once per report."""
    is_callable = target.kind == "callable"
    report = {
        "schema": SCHEMA,
        "probe_version": __version__,
        "python": {"version": "%d.%d.%d" % sys.version_info[:3], "implementation": platform.python_implementation()},
        "target": {"kind": target.kind, "spec": target.spec, "args": list(target.args)},
        "settings": {
            "frames": opts.frames,
            "iterations": window.iterations if window is not None else (opts.iterations if is_callable else 1),
            "warmup": window.warmup if window is not None else (opts.warmup if is_callable else 0),
            "peak_sites": bool(opts.peak_sites and not opts.rss_only),
            "tolerance": TOLERANCE,
            "mode": "rss" if opts.rss_only else "traced",
        },
        "exit_code": max(-255, min(255, exit_code)),
        "error": error,
        "wall_time": round(window.wall_time, 6) if window is not None else 0.0,
        "peak": 0,
        "peak_sites_total": None,
        "retained": 0,
        "leak": None,
        "rss": window.rss if window is not None else None,
        "sites": [],
        "other": {"sites": 0, "peak": 0, "retained": 0, "count": 0},
        "gc": None,
    }
    if window is None or opts.rss_only or window.retained_traces is None:
        return report
    classify = (classifier or PathClassifier(opts.root)).classify
    retained = totals(window.retained_traces, classify)
    peak = None
    bd = window.breakdown
    if bd is not None and bd.traces is not None:
        peak = totals(bd.traces, classify, (bd.gap_frames, bd.gap))
    series = list(window.series)
    leak_total = 0
    early = None
    span = 0
    if is_callable:
        if window.done == window.iterations:
            series.append(retained.total)
        leak_total = leak_of(series)
        if leak_total and window.early_traces is not None:
            early = totals(window.early_traces, classify)
            span = len(series) - 2
        report["leak"] = {
            "iterations": window.iterations,
            "warmup": window.warmup,
            "per_iteration": leak_total,
            "setup": series[0] if series else 0,
            "series": [max(0, int(v)) for v in series],
        }
    sites, other = build_sites(peak, retained, early, span, opts.max_sites, index or SourceIndex())
    report["peak"] = window.peak
    report["retained"] = retained.total
    if peak is not None:
        total = sum(s.peak for s in sites) + other.peak
        report["peak_sites_total"] = total
        # The probe's own bookkeeping alive at the peak (the hook's state, the snapshot being taken) is not the
        # target's memory; it can even exceed what was there at the peak, hence the floor.
        report["peak"] = max(total, window.peak - peak.probe_bytes)
    report["sites"] = [s.as_dict(is_callable) for s in sites]
    report["other"] = other.as_dict()
    if window.cyclic is not None:
        report["gc"] = window.cyclic.as_dict(growth(window.growth_before, window.growth_after))
    return report


def write_atomic(path: str, report: dict) -> None:
    """Writes JSON to a temp file in the same directory, then renames it over ``path``."""
    directory = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix=".memdelta-probe-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(report, f, separators=(",", ":"), allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
