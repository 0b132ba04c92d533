"""Command line: ``python -m memdelta_probe --out FILE [options] TARGET [ARGS...]`` (see docs/probe.md).

Exit status: the target's own exit status once it has run (a report is always written then); 64 for a bad probe
command line and 70 for a failure of the probe itself, each with one line on stderr and no report.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import traceback

from memdelta_probe import capture, report
from memdelta_probe.target import TargetError, UsageError, exit_code_of, parse_target

EXIT_USAGE = 64
EXIT_INTERNAL = 70
DEFAULT_FRAMES = 8
DEFAULT_MAX_SITES = 300
DEFAULT_ITERATIONS = 20
DEFAULT_WARMUP = 2
_VALUE_OPTIONS = {"--out", "--root", "--frames", "--iterations", "--warmup", "--setup", "--peak-hint", "--max-sites",
                  "--refine", "--memory-limit"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, our exit code
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m memdelta_probe", add_help=True,
                description="Run a Python target under tracemalloc and write a memdelta/probe@1 JSON report.")
    p.add_argument("--out", required=True, help="where the JSON report goes (written atomically)")
    p.add_argument("--root", default=".", help="project root: files under it are the project (default: cwd)")
    p.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="traceback depth (default %d)" % DEFAULT_FRAMES)
    p.add_argument("--iterations", type=int, default=None, help="measured calls of a callable (default %d)"
                   % DEFAULT_ITERATIONS)
    p.add_argument("--warmup", type=int, default=None, help="untraced calls first (default %d)" % DEFAULT_WARMUP)
    p.add_argument("--setup", default=None, help="module:function called once before the window")
    p.add_argument("--no-peak-sites", dest="peak_sites", action="store_false",
                   help="cheap mode: totals and retained sites only")
    p.add_argument("--peak-hint", type=int, default=None, help="peak in bytes measured by a cheap run")
    p.add_argument("--rss-only", action="store_true", help="run untraced, report peak RSS only")
    p.add_argument("--max-sites", type=int, default=DEFAULT_MAX_SITES,
                   help="sites listed before the rest goes to 'other' (default %d)" % DEFAULT_MAX_SITES)
    p.add_argument("--memory-limit", type=int, default=None,
                   help="address-space limit in bytes, set on this process first (RLIMIT_AS)")
    p.add_argument("--refine", default=None, help=argparse.SUPPRESS)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    # Skips the DEBUG_SAVEALL look at cyclic garbage (plain gc.collect); lets tests show it changes nothing else.
    p.add_argument("--no-gc-cyclic", dest="gc_cyclic", action="store_false", help=argparse.SUPPRESS)
    return p


def split_argv(argv: list) -> tuple[list, list]:
    """Probe options first; the target starts at ``-m``, ``--`` or the first word that is not an option."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return argv[:i], argv[i + 1 :]
        if a == "-m" or not a.startswith("-") or a == "-":
            return argv[:i], argv[i:]
        if a in _VALUE_OPTIONS:
            i += 2
        else:
            i += 1
    return argv, []


class Options:
    __slots__ = ("out", "root", "frames", "iterations", "warmup", "setup", "peak_sites", "hint", "rss_only",
                 "max_sites", "refine", "child", "tokens", "cwd", "gc_cyclic", "memory_limit")


def parse(argv: list) -> tuple[Options, object]:
    head, tokens = split_argv(argv)
    ns = _parser().parse_args(head)
    o = Options()
    o.cwd = os.getcwd()
    o.out = os.path.abspath(ns.out)
    o.root = os.path.abspath(ns.root)
    if not os.path.isdir(o.root):
        raise UsageError("--root is not a directory: %s" % ns.root)
    if not os.path.isdir(os.path.dirname(o.out)):
        raise UsageError("--out directory does not exist: %s" % os.path.dirname(o.out))
    if not 1 <= ns.frames <= 1000:
        raise UsageError("--frames must be between 1 and 1000")
    if ns.iterations is not None and not 1 <= ns.iterations <= 10_000_000:
        raise UsageError("--iterations must be at least 1")
    if ns.warmup is not None and not 0 <= ns.warmup <= 10_000_000:
        raise UsageError("--warmup must be 0 or more")
    if ns.peak_hint is not None and ns.peak_hint < 0:
        raise UsageError("--peak-hint must be 0 or more bytes")
    if ns.max_sites < 1:
        raise UsageError("--max-sites must be at least 1")
    if ns.memory_limit is not None and ns.memory_limit < 1:
        raise UsageError("--memory-limit must be a positive number of bytes")
    target = parse_target(tokens, o.root, ns.setup)
    if ns.setup is not None and target.kind != "callable":
        raise UsageError("--setup applies to module:function targets only")
    o.frames = ns.frames
    o.iterations = ns.iterations if ns.iterations is not None else DEFAULT_ITERATIONS
    o.warmup = ns.warmup if ns.warmup is not None else DEFAULT_WARMUP
    o.setup = ns.setup
    o.peak_sites = ns.peak_sites and not ns.rss_only
    o.hint = ns.peak_hint
    o.rss_only = ns.rss_only
    o.max_sites = ns.max_sites
    o.refine = tuple(json.loads(ns.refine)) if ns.refine else None
    o.child = ns.child
    o.gc_cyclic = ns.gc_cyclic
    o.memory_limit = ns.memory_limit
    o.tokens = tokens
    return o, target


def _child(o: Options, hint: int | None, refine: tuple | None, out: str) -> int | None:
    """Runs the probe again in a fresh process (same interpreter, cwd and environment); its output is discarded."""
    cmd = [sys.executable, "-m", "memdelta_probe", "--out", out, "--root", o.root, "--frames", str(o.frames),
           "--iterations", str(o.iterations), "--warmup", str(o.warmup), "--max-sites", str(o.max_sites), "--child"]
    if not o.gc_cyclic:
        cmd.append("--no-gc-cyclic")
    if o.setup:
        cmd += ["--setup", o.setup]
    if hint is None:
        cmd.append("--no-peak-sites")
    else:
        cmd += ["--peak-hint", str(hint)]
    if refine is not None:
        cmd += ["--refine", json.dumps(list(refine))]
    cmd += ["--"] + o.tokens
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.run(cmd, cwd=o.cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    except OSError:
        return None
    return proc.returncode if os.path.exists(out) else None


def _child_report(o: Options, hint: int | None, refine: tuple | None) -> dict | None:
    fd, tmp = tempfile.mkstemp(prefix=".memdelta-probe-pass-", suffix=".json", dir=os.path.dirname(o.out))
    os.close(fd)
    os.unlink(tmp)
    try:
        if _child(o, hint, refine, tmp) is None:
            return None
        with open(tmp, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def limit_memory(limit: int) -> bool:
    """Caps this process's address space (inherited by its children) at ``limit`` bytes; an allocation beyond it
    raises MemoryError. Where the platform has no such limit, one line on stderr says the run is unlimited."""
    try:
        import resource
    except ImportError:  # Windows
        sys.stderr.write("memdelta-probe: warning: no memory limit on this platform (no resource module)\n")
        return False
    for name in ("RLIMIT_AS", "RLIMIT_DATA"):
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            hard = resource.getrlimit(which)[1]
            cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
            resource.setrlimit(which, (cap, cap))  # hard too: the benchmark cannot raise it again
            return True
        except (ValueError, OSError):
            continue
    sys.stderr.write("memdelta-probe: warning: the memory limit could not be set on this platform\n")
    return False


def _echo_exit(exc: BaseException | None) -> None:
    """Prints what Python would print for an uncaught exit of the target."""
    if exc is None:
        return
    if isinstance(exc, SystemExit):
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
        return
    err = report.describe_error(exc)
    sys.stderr.write("\n".join(err["traceback"]) + "\n")


class Session:
    """A probe run between ``begin`` and ``finish``. ``job`` is set when a traced window is to be run."""

    __slots__ = ("o", "target", "hint", "job", "window", "code")

    def __init__(self, o: Options, target) -> None:
        self.o = o
        self.target = target
        self.hint = None
        self.job = None
        self.window = None
        self.code = None


def begin(argv: list) -> Session | int:
    """Everything before the window: parse, the first pass (a child), preparing the target. An int is an exit."""
    try:
        o, target = parse(argv)
    except UsageError as e:
        msg = str(e).splitlines()[0] if str(e) else "bad usage"
        sys.stderr.write("memdelta-probe: error: %s\n" % msg)
        return EXIT_USAGE
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    if o.memory_limit is not None:
        limit_memory(o.memory_limit)
    s = Session(o, target)
    s.hint = o.hint
    if o.peak_sites and s.hint is None and not o.child:
        first = _child_report(o, None, None)
        s.hint = first["peak"] if first else None
    try:
        target.prepare()
    except TargetError as e:
        _echo_exit(e.exc)
        doc = report.build(o, target, None, e.exit_code, report.describe_error(e.exc))
        report.write_atomic(o.out, doc)
        return e.exit_code
    if o.rss_only:
        s.window = capture.run_rss(target, o.iterations, o.warmup)
        return s
    # A zero hint has nothing to break down (and would snapshot at every rise); _improve retries with the peak.
    job = capture.Job(target, o.frames, o.iterations, o.warmup, s.hint if o.peak_sites and s.hint else None,
                      o.refine, o.gc_cyclic)
    if job.prepare():
        s.job = job
    else:
        s.window = job.w
    return s


def finish(s: Session) -> int:
    """Everything after the window: report, second chances for the breakdown, the atomic write. The exit status."""
    o, target, window = s.o, s.target, s.window
    exc = window.exc
    code = exit_code_of(exc)
    error = None
    if exc is not None and not (isinstance(exc, SystemExit) and code == 0):
        error = report.describe_error(exc)
    window.exc = None
    doc = report.build(o, target, window, code, error)
    target.release()
    _echo_exit(exc)
    del exc
    if o.peak_sites and not o.child:
        doc = _improve(o, doc, window, s.hint)
    report.write_atomic(o.out, doc)
    return code


def run_session(s: Session) -> int:
    """The window from a function frame (for in-process use; ``__main__`` enters it from module level)."""
    if s.job is not None:
        s.job.start()
        s.window = s.job.stop(s.job.go(*s.job.args))
    return finish(s)


def _improve(o: Options, doc: dict, window, hint: int | None) -> dict:
    """Second chances for the breakdown, each in a fresh process: a missed threshold, or a gap to place by line."""
    bd = window.breakdown
    if bd is None or bd.traces is None:
        if doc["peak"] > 0:
            again = _child_report(o, doc["peak"], None)
            if again is not None and again.get("peak_sites_total") is not None:
                return again
        return doc
    if bd.python_event and bd.code_key is not None and bd.gap > REFINE_GAP_SHARE * max(1, doc["peak"]):
        again = _child_report(o, hint, bd.code_key)
        if again is not None and again.get("peak_sites_total") is not None:
            return again
    return doc


REFINE_GAP_SHARE = capture.REFINE_GAP


def main(argv: list | None = None) -> int:
    """In-process entry (tests, tools); ``python -m memdelta_probe`` goes through ``__main__``."""
    args = sys.argv[1:] if argv is None else argv
    return guarded(lambda: _main(args))


def _main(args: list) -> int:
    s = begin(args)
    return s if isinstance(s, int) else run_session(s)


def internal_error(e: BaseException) -> int:
    last = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    where = " at %s:%d" % (os.path.basename(last.filename), last.lineno) if last else ""
    sys.stderr.write("memdelta-probe: internal error: %s: %s%s\n" % (type(e).__name__, e, where))
    return EXIT_INTERNAL


def guarded(fn):
    """Runs ``fn``; a failure of the probe itself becomes one line on stderr and EXIT_INTERNAL."""
    try:
        return fn()
    except Exception as e:
        return internal_error(e)
