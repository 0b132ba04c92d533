import sys

if __spec__ is None:  # re-executed as a script (see _boot.py): import the package, not from inside it
    sys.path[0] = __file__.rpartition("/memdelta_probe/")[0] or sys.path[0]
from memdelta_probe._boot import s  # noqa: E402

# The window: this call is near the start of this module's code on purpose (see _boot.py and docs/probe.md).
w = None
if s.job is not None:
    try:
        s.job.start()
        w = s.job.stop(s.job.go(*s.job.args))
    except Exception as e:  # the probe's own failure; the target's exceptions are caught in _tramp
        s.fail(e)
sys.exit(s.finish(w))
