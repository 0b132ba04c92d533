"""``python -m memdelta_probe``: see cli.py and docs/probe.md.

The window is entered from this module's top level: every frame under the target's code is captured by tracemalloc
(up to --frames) and costs a line-table scan per allocation, so the frames below the target are kept tiny. On POSIX
the probe first re-executes itself as a plain script, which drops runpy's two frames from under the target.
"""
import os
import sys

if __spec__ is not None and os.name == "posix" and not os.environ.get("MEMDELTA_PROBE_NO_EXEC"):
    import subprocess

    flags = subprocess._args_from_interpreter_flags()  # keep -X, -W, -O and friends
    os.execv(sys.executable, [sys.executable] + flags + [os.path.abspath(__file__)] + sys.argv[1:])

if __spec__ is None:
    # Run as a script: make the package importable, not its directory (target.prepare sets sys.path[0] later).
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from memdelta_probe import cli  # noqa: E402

s = cli.guarded(lambda: cli.begin(sys.argv[1:]))
if not isinstance(s, int):
    try:
        if s.job is not None:
            s.job.start()
            s.window = s.job.stop(s.job.go(*s.job.args))
    except Exception as e:  # the probe's own failure; the target's exceptions are caught in _tramp
        s = cli.guarded(lambda: cli.internal_error(e))
    else:
        s = cli.guarded(lambda: cli.finish(s))
sys.exit(s)
