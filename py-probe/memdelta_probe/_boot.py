"""Everything ``python -m memdelta_probe`` does before the window, run at import time by ``__main__``.

Kept out of ``__main__`` so that the window call sits at the very start of that module's code: tracemalloc looks up
the line of every captured frame by scanning its code's line table up to the current instruction.
"""
from __future__ import annotations

import os
import sys

if __spec__ is not None and os.name == "posix" and not os.environ.get("MEMDELTA_PROBE_NO_EXEC"):
    main_mod = sys.modules.get("__main__")
    main_file = getattr(main_mod, "__file__", None)
    if main_file and getattr(main_mod, "__spec__", None) is not None:
        # Started with -m: re-execute as a plain script, which drops runpy's two frames from under the target.
        import subprocess

        flags = subprocess._args_from_interpreter_flags()  # keep -X, -W, -O and friends
        os.execv(sys.executable, [sys.executable] + flags + [os.path.abspath(main_file)] + sys.argv[1:])

from memdelta_probe import cli  # noqa: E402


class Boot:
    """The session (or an early exit status) plus the calls ``__main__`` makes around the window."""

    __slots__ = ("session", "status", "job")

    def __init__(self) -> None:
        got = cli.guarded(lambda: cli.begin(sys.argv[1:]))
        self.session = None if isinstance(got, int) else got
        self.status = got if isinstance(got, int) else 0
        self.job = self.session.job if self.session is not None else None

    def fail(self, e: BaseException) -> None:
        self.status = cli.internal_error(e)
        self.session = None

    def finish(self, window) -> int:
        if self.session is None:
            return self.status
        s = self.session
        if window is not None:
            s.window = window
        self.job = None
        return cli.guarded(lambda: cli.finish(s))


s = Boot()
