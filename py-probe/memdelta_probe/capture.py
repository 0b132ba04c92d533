"""The measured window: tracing, the peak-counter hook for the breakdown, per-iteration retained bytes.

Breakdown (see docs/probe.md): knowing the peak P from a cheap pass, a hook on call, return and C-return events
takes a snapshot whenever tracemalloc's *peak counter* reaches (1 - EPS) * P and has risen by more than EPS since
the last snapshot. The last snapshot plus the gap (peak counter minus current memory at that hook), attributed to
the frame the hook sees, adds up to the peak. When that frame is a Python function that returned (the peak was a
temporary made and freed by bytecode, not by a call), a refining run adds line events in that one function so the
gap lands on the line that made it.
"""
from __future__ import annotations

import array
import gc
import mmap
import sys
import time
import tracemalloc

from memdelta_probe import _tramp
from memdelta_probe.aggregate import raw_traces
from memdelta_probe.gcstats import CyclicStep, count_types

EPS = 0.002
# A gap larger than this share of the peak, seen at a Python-level event, asks for a refining run.
REFINE_GAP = 0.002
LEAK_MIN_ITERATIONS = 10
# Address space kept free for the probe's own work after the window (see Job.prepare).
RESERVE_BYTES = 16 * 1024 * 1024


class Breakdown:
    """What the hook saw at the last snapshot near the peak."""

    __slots__ = ("traces", "peak_at", "gap", "gap_frames", "python_event", "code_key", "snapshots")

    def __init__(self) -> None:
        self.traces = None
        self.peak_at = 0
        self.gap = 0
        self.gap_frames: list = []
        self.python_event = False
        self.code_key: tuple | None = None
        self.snapshots = 0


class PeakWatcher:
    """The breakdown hook: sys.monitoring on 3.12+, sys.setprofile before; optional line events in one function."""

    __slots__ = ("nxt", "floor", "gapmax", "frames", "result", "tool", "refine", "last_line", "_hook", "_local",
                 "_global", "_events", "held", "best")

    def __init__(self, hint: int, frames: int, refine: tuple | None) -> None:
        # Fire on a new high of the peak counter (nxt), or, near the best peak (floor), on a moment whose gap
        # (peak minus current) is much smaller than the best one's: where less is left to attribute by frame.
        self.nxt = [max(1, int(hint * (1 - EPS)))]
        self.floor = [self.nxt[0]]
        self.gapmax = [0]
        self.frames = frames
        self.result = Breakdown()
        self.tool = None
        self.refine = refine
        self.last_line = [0]
        self._hook = None
        self._local = None
        self._global = None
        self._events = 0
        # Bytes of the last snapshot the hook keeps (traced, the probe's), and the target's best peak so far. The
        # peak counter is reset after each snapshot: taking one allocates, and that rise is the probe's, not the
        # target's (counted as the target's, it fired a second snapshot after the real peak). The thresholds in
        # nxt and floor are in counter units: the target's level plus what the hook holds.
        self.held = 0
        self.best = 0

    def take(self, frame, python_event: bool, line: int = 0) -> None:
        try:
            self._take(frame, python_event, line)
        except Exception:  # never let the probe's hook break the target: stop watching instead
            self.nxt[0] = self.floor[0] = 1 << 62
            self.result.traces = None

    def _take(self, frame, python_event: bool, line: int) -> None:
        gtm = tracemalloc.get_traced_memory
        cur, peak = gtm()
        r = self.result
        held = self.held
        target_peak = peak - held
        r.traces = None
        before = gtm()[0]
        r.traces = raw_traces(tracemalloc.take_snapshot())
        if target_peak > self.best:
            self.best = target_peak
        r.peak_at = target_peak
        r.gap = max(0, peak - cur)
        chain = []
        f = frame
        while f is not None and len(chain) < self.frames:
            chain.append((f.f_code.co_filename, f.f_lineno))
            f = f.f_back
        if line and chain:
            chain[0] = (chain[0][0], line)
        r.gap_frames = chain
        r.python_event = python_event
        code = frame.f_code if frame is not None else None
        r.code_key = (code.co_filename, code.co_firstlineno, code.co_name) if code is not None else None
        r.snapshots += 1
        nxt, floor = self.nxt[0] - held, self.floor[0] - held
        if target_peak >= nxt:
            nxt = int(target_peak * (1 + EPS)) + 1
            floor = max(floor, int(target_peak * (1 - EPS)))
        gap = r.gap
        self.gapmax[0] = gap // 2 if gap > EPS * target_peak else 0
        self.nxt[0], self.floor[0] = nxt, floor
        # Last: everything this call keeps (the snapshot, the frames, the numbers above) is the probe's, and the
        # peak counter restarts from here, so the next event compares the target's memory plus that.
        self.held = new_held = max(0, gtm()[0] - before)
        self.nxt[0], self.floor[0] = nxt + new_held, floor + new_held
        tracemalloc.reset_peak()

    def peak(self, counter_peak: int) -> int:
        """The target's peak in the window, given the peak counter read after the last snapshot's reset."""
        return max(self.best, counter_peak - self.held)

    def install(self) -> None:
        """Builds the hooks; nothing fires until arm(). Called before tracing starts so the hooks are untraced."""
        gtm = tracemalloc.get_traced_memory
        nxt = self.nxt
        floor = self.floor
        gapmax = self.gapmax
        take = self.take
        if sys.version_info >= (3, 12):
            mon = sys.monitoring
            for tool in (mon.PROFILER_ID, 3, 4, 5):
                if mon.get_tool(tool) is None:
                    mon.use_tool_id(tool, "memdelta-probe")
                    self.tool = tool
                    break
            if self.tool is None:
                raise RuntimeError("no free sys.monitoring tool id")
            getframe = sys._getframe

            def on_call(code, offset, fn, arg0):
                # Required for C_RETURN; checking here too would double the hook's own (traced) allocations.
                return None

            def on_c_return(code, offset, fn, arg0):
                c, p = gtm()
                if p >= nxt[0] or (p >= floor[0] and p - c < gapmax[0]):
                    take(getframe(1), False)

            def on_py_return(code, offset, retval):
                c, p = gtm()
                if p >= nxt[0] or (p >= floor[0] and p - c < gapmax[0]):
                    take(getframe(1), True)

            ev = mon.events
            mon.register_callback(self.tool, ev.CALL, on_call)
            mon.register_callback(self.tool, ev.C_RETURN, on_c_return)
            mon.register_callback(self.tool, ev.C_RAISE, on_c_return)
            mon.register_callback(self.tool, ev.PY_RETURN, on_py_return)
            # C_RETURN needs CALL, and cannot be set without C_RAISE.
            self._events = ev.CALL | ev.C_RETURN | ev.C_RAISE | ev.PY_RETURN
        else:

            def hook(frame, event, arg):
                # Only returns: the peak counter remembers any rise, and each check allocates (traced) ints.
                if event == "return" or event == "c_return" or event == "c_exception":
                    c, p = gtm()
                    if p >= nxt[0] or (p >= floor[0] and p - c < gapmax[0]):
                        take(frame, event == "return")

            self._hook = hook
        if self.refine is not None:
            self._install_lines(gtm, nxt, floor, gapmax, take)

    def _install_lines(self, gtm, nxt, floor, gapmax, take) -> None:
        key = self.refine
        last = self.last_line
        me = self

        def local(frame, event, arg):
            c, p = gtm()
            if p >= nxt[0] or (p >= floor[0] and p - c < gapmax[0]):
                # The peak was reached by the line that just ran, not the one about to run.
                take(frame, False, last[0] or frame.f_lineno)
            last[0] = frame.f_lineno
            return me._local  # not a closure over itself: no reference cycle left behind

        self._local = local

        def global_trace(frame, event, arg):
            code = frame.f_code
            if code.co_firstlineno == key[1] and code.co_name == key[2] and code.co_filename == key[0]:
                last[0] = 0
                return me._local
            return None

        self._global = global_trace

    def arm(self) -> None:
        if self.tool is not None:
            sys.monitoring.set_events(self.tool, self._events)
        elif self._hook is not None:
            sys.setprofile(self._hook)
        if self._global is not None:
            sys.settrace(self._global)

    def disarm(self) -> None:
        """Stops the events; the hooks stay referenced until release() so object counts see no change."""
        if self.refine is not None:
            sys.settrace(None)
        if self.tool is not None:
            sys.monitoring.set_events(self.tool, 0)
        elif self._hook is not None:
            sys.setprofile(None)
        # A rise after the last event (none fired since) still counts.
        if tracemalloc.get_traced_memory()[1] >= self.nxt[0]:
            self.take(None, False)
        self.floor[0] = self.nxt[0] = 1 << 62

    def release(self) -> None:
        self._local = None
        self._global = None
        self._hook = None
        if self.tool is not None:
            mon = sys.monitoring
            ev = mon.events
            for e in (ev.CALL, ev.C_RETURN, ev.C_RAISE, ev.PY_RETURN):
                mon.register_callback(self.tool, e, None)
            mon.free_tool_id(self.tool)
            self.tool = None


class Window:
    """Everything measured in one run of the target."""

    __slots__ = ("exc", "wall_time", "peak", "retained_traces", "early_traces", "series", "done", "cyclic",
                 "growth_before", "growth_after", "breakdown", "iterations", "warmup", "rss")

    def __init__(self) -> None:
        self.exc: BaseException | None = None
        self.wall_time = 0.0
        self.peak = 0
        self.retained_traces = None
        self.early_traces = None
        self.series: list = []
        self.done = 0
        self.cyclic: CyclicStep | None = None
        self.growth_before: dict = {}
        self.growth_after: dict = {}
        self.breakdown: Breakdown | None = None
        self.iterations = 1
        self.warmup = 0
        self.rss: int | None = None


class Job:
    """One traced run, split so that the window is entered from tiny frames (see __main__.py): ``prepare()`` and
    ``stop()`` do the bookkeeping outside it; ``go(*args)`` is the whole window."""

    __slots__ = ("w", "target", "frames", "watcher", "gc_cyclic", "series", "done", "early", "offset", "n",
                 "go", "args", "t0", "is_callable", "cyc", "current", "reserve", "session")

    def __init__(self, target, frames: int, iterations: int, warmup: int, hint: int | None, refine: tuple | None,
                 gc_cyclic: bool = True, session: bool = False) -> None:
        self.w = Window()
        # Session mode (many windows in one long-lived process, the pytest plugin): everything alive before the
        # window stays frozen until it ends, so the collections and object counts around the window walk only
        # what the window made, not the whole session's heap each time. Growth is then counted over the objects
        # made in the window, and cyclic garbage is what the window made and dropped.
        self.session = session
        self.target = target
        self.frames = frames
        self.gc_cyclic = gc_cyclic
        self.is_callable = target.kind == "callable"
        self.watcher = PeakWatcher(hint, frames, refine) if hint is not None else None
        self.n = iterations if self.is_callable else 1
        if self.is_callable:
            self.w.iterations, self.w.warmup = iterations, warmup
        self.go = None
        self.args = ()
        self.t0 = 0.0
        self.reserve: mmap.mmap | None = None

    def prepare(self) -> bool:
        """Warm-up calls, live object counts, preallocation. False when a warm-up call failed (no window)."""
        w = self.w
        target = self.target
        if self.is_callable:
            for _ in range(w.warmup):
                exc = _tramp.call(target.fn)
                if exc is not None:
                    w.exc = exc
                    return False
        # Preallocated before tracing starts so the probe's bookkeeping stays out of the traced numbers.
        n = self.n
        self.series = array.array("q", bytes(8 * max(n, 1)))
        self.done = array.array("q", [0])
        self.early = [None]
        self.offset = array.array("q", [0])
        marks = (1,) if self.is_callable and n >= LEAK_MIN_ITERATIONS else ()
        gtm = tracemalloc.get_traced_memory
        take_snapshot = tracemalloc.take_snapshot
        early = self.early
        offset = self.offset

        def mark(i):
            before = gtm()[0]
            early[0] = take_snapshot()
            offset[0] = gtm()[0] - before

        if self.is_callable:
            self.go = _tramp.calls
            self.args = (target.fn, n, self.series, gtm, gc.collect, marks, mark, self.done)
        else:
            self.go = _tramp.run_code
            self.args = (target.code, target.namespace)
        if self.watcher is not None:
            self.watcher.install()
        self.cyc = CyclicStep()
        self.current = lambda: gtm()[0]
        # Address space held back for the bookkeeping after the window: a target that ran into a memory limit
        # leaves none, and tracemalloc failing to allocate its own trace there is a fatal error (in 3.11, one that
        # deadlocks). An untouched anonymous mapping costs no memory, only addresses, and is not traced.
        self.reserve = mmap.mmap(-1, RESERVE_BYTES)
        if not self.session:
            # Last, so that the probe's own objects made above are in both counts.
            gc.collect()
            w.growth_before = count_types()
        return True

    def start(self) -> None:
        # The probe's own heap (argparse, ast, json, ...) would make every full collection in the window slower
        # than in a plain run of the target; frozen objects are skipped until unfreeze() after the window.
        gc.freeze()
        if self.session:
            self.w.growth_before = count_types()
        tracemalloc.start(self.frames)
        tracemalloc.reset_peak()
        if self.watcher is not None:
            self.watcher.arm()
        self.t0 = time.perf_counter()

    def stop(self, exc) -> Window:
        t1 = time.perf_counter()
        if self.reserve is not None:
            # Closed (the addresses are free again) but kept referenced until after the object count, so that the
            # count does not see one object fewer than before the window.
            self.reserve.close()
        w = self.w
        if self.watcher is not None:
            self.watcher.disarm()
        gtm = tracemalloc.get_traced_memory
        w.peak = gtm()[1] if self.watcher is None else self.watcher.peak(gtm()[1])
        w.wall_time = t1 - self.t0
        w.exc = exc
        if not self.session:
            gc.unfreeze()
        if self.early[0] is not None:
            w.early_traces = raw_traces(self.early[0])
            self.early[0] = None
        cyc = self.cyc
        if self.gc_cyclic:
            cyc.run(self.current)
        else:
            gc.collect()
        w.cyclic = cyc
        # Counted while still tracing: its temporaries are the probe's (innermost frame) and freed before the
        # snapshot, so they touch neither the sites nor the retained total.
        w.growth_after = count_types()
        w.retained_traces = raw_traces(tracemalloc.take_snapshot())
        tracemalloc.stop()
        self.reserve = None
        if self.session:
            gc.unfreeze()
        self.go = None
        self.args = ()
        self.current = None
        if self.watcher is not None:
            self.watcher.release()
        if self.watcher is not None:
            w.breakdown = self.watcher.result
        n = self.n
        w.done = self.done[0]
        # Series values taken after the call-2 snapshot include it; take it out again.
        off = self.offset[0]
        w.series = [v - (off if i > 1 else 0) for i, v in enumerate(self.series[: max(0, min(w.done, n - 1))])]
        return w


def run_traced(target, frames: int, iterations: int, warmup: int, hint: int | None,
               refine: tuple | None, gc_cyclic: bool = True) -> Window:
    """Runs the prepared target once (or warmup + iterations calls) under tracemalloc, from this frame."""
    job = Job(target, frames, iterations, warmup, hint, refine, gc_cyclic)
    if not job.prepare():
        return job.w
    job.start()
    return job.stop(job.go(*job.args))


def run_rss(target, iterations: int, warmup: int) -> Window:
    """Runs the target without tracemalloc; only wall time and peak RSS are measured."""
    import resource

    w = Window()
    perf = time.perf_counter
    t0 = perf()
    if target.kind == "callable":
        w.iterations, w.warmup = iterations, warmup
        exc = None
        for _ in range(warmup + iterations):
            exc = _tramp.call(target.fn)
            if exc is not None:
                break
    else:
        exc = _tramp.run_code(target.code, target.namespace)
    w.wall_time = perf() - t0
    w.exc = exc
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    w.rss = int(rss if sys.platform == "darwin" else rss * 1024)
    return w
