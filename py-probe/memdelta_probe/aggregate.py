"""Turns raw tracemalloc traces into report sites. Runs after tracing has stopped."""
from __future__ import annotations

from memdelta_probe.sites import IMPORTS, UNKNOWN, SiteAcc, SourceIndex, attribute


class LineTotals:
    """Bytes and blocks per attributed line, plus the bytes that belonged to the probe itself."""

    __slots__ = ("lines", "probe_bytes", "total")

    def __init__(self) -> None:
        self.lines: dict[tuple[str, str, int], list] = {}  # key -> [size, count, via, via_size]
        self.probe_bytes = 0
        self.total = 0

    def add(self, key, via, size: int, count: int) -> None:
        acc = self.lines.get(key)
        if acc is None:
            self.lines[key] = [size, count, via, size]
            return
        acc[0] += size
        acc[1] += count
        if size > acc[3] or (size == acc[3] and (via or "") < (acc[2] or "")):
            acc[2] = via
            acc[3] = size


def raw_traces(snapshot) -> list:
    """The snapshot's raw traces: tuples whose [1] is the size and [2] the traceback, innermost frame first."""
    traces = snapshot.traces
    raw = getattr(traces, "_traces", None)
    if raw is not None:
        return raw
    return [(t.domain, t.size, tuple((f.filename, f.lineno) for f in reversed(t.traceback))) for t in traces]


def totals(traces, classify, extra=None) -> LineTotals:
    """Aggregates traces by site line. ``extra`` is an optional (innermost-first frames, size) to add once."""
    out = LineTotals()
    by_tb: dict[int, list] = {}
    for t in traces:
        tb = t[2]
        acc = by_tb.get(id(tb))
        if acc is None:
            by_tb[id(tb)] = [tb, t[1], 1]
        else:
            acc[1] += t[1]
            acc[2] += 1
    groups = list(by_tb.values())
    if extra is not None and extra[1] > 0:
        groups.append([tuple(extra[0]), extra[1], 0])
    for tb, size, count in groups:
        picked = attribute(tb, classify)
        if picked is None:
            out.probe_bytes += size
            continue
        path, filename, lineno, via = picked
        out.total += size
        out.add((path, filename, lineno), via, size, count)
    return out


class Other:
    __slots__ = ("sites", "peak", "retained", "count")

    def __init__(self) -> None:
        self.sites = 0
        self.peak = 0
        self.retained = 0
        self.count = 0

    def add(self, peak: int, retained: int, count: int) -> None:
        self.sites += 1
        self.peak += peak
        self.retained += retained
        self.count += count

    def as_dict(self) -> dict:
        return {"sites": self.sites, "peak": self.peak, "retained": self.retained, "count": self.count}


def build_sites(peak: LineTotals | None, retained: LineTotals, early: LineTotals | None, leak_span: int,
                max_sites: int, index: SourceIndex) -> tuple[list[SiteAcc], Other]:
    """Merges peak and retained line totals into identity-keyed sites, largest first, capped at ``max_sites``.

    ``early`` is the retained state after call 2 and ``leak_span`` the number of calls between it and the end;
    each site's leak is its growth over that span divided by the span (0 when ``early`` is None).
    """
    keys = set(retained.lines)
    if peak is not None:
        keys.update(peak.lines)
    if early is not None:
        keys.update(early.lines)
    rows = []
    for key in keys:
        p = peak.lines[key][0] if peak is not None and key in peak.lines else 0
        r_acc = retained.lines.get(key)
        r = r_acc[0] if r_acc else 0
        e = early.lines[key][0] if early is not None and key in early.lines else 0
        rows.append((max(p, r, abs(r - e)), key, p, r, e))
    # Deterministic order: size, then path and line.
    rows.sort(key=lambda row: (-row[0], row[1][0], row[1][2]))
    other = Other()
    # Parse sources only for lines that can make the cut; two lines often fold into one statement.
    limit = max_sites * 2
    merged: dict[tuple[str, str, str, int], SiteAcc] = {}
    for n, (_, key, p, r, e) in enumerate(rows):
        path, filename, lineno = key
        if n >= limit:
            count = retained.lines[key][1] if key in retained.lines else 0
            other.add(p, r, count)
            continue
        if path in (IMPORTS, UNKNOWN) or not filename:
            function, code, stmt, ordinal = "", "", "", 0
        else:
            function, code, stmt, ordinal = index.describe(filename, lineno)
        ident = (path, function, stmt, ordinal)
        site = merged.get(ident)
        if site is None:
            site = SiteAcc(path, function, lineno, code, stmt, ordinal)
            merged[ident] = site
        weight = max(p, r)
        if weight > site.best or (weight == site.best and lineno < site.line):
            site.best = weight
            site.line = lineno
            site.code = code
            via_src = (peak.lines.get(key) if peak is not None and p >= r else None) or retained.lines.get(key)
            site.via = via_src[2] if via_src else None
        site.peak += p
        site.retained += r
        site.leak += r - e
        if key in retained.lines:
            site.count += retained.lines[key][1]
    sites = [s for s in merged.values() if s.peak or s.retained or s.count or s.leak]
    for s in sites:
        s.leak = int(round(s.leak / leak_span)) if early is not None and leak_span > 0 else 0
    sites.sort(key=lambda s: (-max(s.peak, s.retained, abs(s.leak)), s.file, s.line, s.function))
    for s in sites[max_sites:]:
        other.add(s.peak, s.retained, s.count)
    return sites[:max_sites], other
