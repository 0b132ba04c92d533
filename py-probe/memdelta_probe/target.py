"""Resolving and preparing the target: a script, a module run as ``__main__``, or a ``module:function`` callable.

Preparation (reading and compiling a script, finding a module, importing a callable's module, calling setup) happens
before the measured window; only the target's own code runs inside it.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import os
import runpy
import sys
import types


class UsageError(Exception):
    """A bad probe command line; reported as one line on stderr."""


class TargetError(Exception):
    """The target could not be prepared (missing file, import failure); reported in the report like a crash."""

    def __init__(self, exc: BaseException, exit_code: int) -> None:
        super().__init__(str(exc))
        self.exc = exc
        self.exit_code = exit_code


class Target:
    """What to run and the namespace it runs in."""

    __slots__ = ("kind", "spec", "args", "root", "setup", "code", "namespace", "fn", "module", "setup_result")

    def __init__(self, kind: str, spec: str, args: list, root: str, setup: str | None) -> None:
        self.kind = kind
        self.spec = spec
        self.args = list(args)
        self.root = root
        self.setup = setup
        self.code = None
        self.namespace: dict | None = None
        self.fn = None
        self.module = None
        self.setup_result = None

    def prepare(self) -> None:
        """Sets sys.argv, sys.path[0] and ``__main__`` as ``python`` would, and readies the code. Outside the window."""
        if self.kind == "script":
            self._prepare_script()
        elif self.kind == "module":
            self._prepare_module()
        else:
            self._prepare_callable()

    def _main_module(self, attrs: dict) -> None:
        mod = types.ModuleType("__main__")
        mod.__dict__.update(attrs)
        mod.__dict__["__builtins__"] = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)
        sys.modules["__main__"] = mod
        self.module = mod
        self.namespace = mod.__dict__

    def _prepare_script(self) -> None:
        path = self.spec if os.path.isabs(self.spec) else os.path.join(self.root, self.spec)
        try:
            with open(path, "rb") as f:
                source = f.read()
        except OSError as e:
            raise TargetError(e, 2) from None
        try:
            self.code = compile(source, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as e:
            raise TargetError(e, 1) from None
        sys.argv[:] = [self.spec] + self.args
        sys.path[0] = os.path.dirname(os.path.abspath(path))
        self._main_module(
            {
                "__name__": "__main__",
                "__file__": path,
                "__cached__": None,
                "__doc__": None,
                "__loader__": importlib.machinery.SourceFileLoader("__main__", path),
                "__package__": None,
                "__spec__": None,
            }
        )

    def _prepare_module(self) -> None:
        sys.path[0] = self.root
        sys.argv[:] = [self.spec] + self.args
        try:
            # The same lookup ``python -m`` does; it imports parent packages (start-up, outside the window).
            name, spec, code = runpy._get_module_details(self.spec)  # type: ignore[attr-defined]
        except BaseException as e:  # noqa: B036 - any failure of the target's import is reported
            raise TargetError(e, 1) from None
        self.code = code
        sys.argv[0] = spec.origin or self.spec
        self._main_module(
            {
                "__name__": "__main__",
                "__file__": spec.origin,
                "__cached__": spec.cached,
                "__doc__": None,
                "__loader__": spec.loader,
                "__package__": spec.parent,
                "__spec__": spec,
            }
        )

    def _prepare_callable(self) -> None:
        sys.path[0] = self.root
        sys.argv[:] = [self.spec] + self.args
        self.fn = resolve_callable(self.spec)
        if self.setup:
            setup_fn = resolve_callable(self.setup)
            try:
                self.setup_result = setup_fn()
            except BaseException as e:  # noqa: B036
                raise TargetError(e, _exit_code_of(e)) from None

    def release(self) -> None:
        """Lets go of the target's namespace once the retained snapshot has been taken."""
        self.namespace = None
        self.module = None
        self.fn = None
        self.setup_result = None
        self.code = None


def resolve_callable(spec: str):
    mod_name, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(mod_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except BaseException as e:  # noqa: B036
        raise TargetError(e, _exit_code_of(e)) from None
    if not callable(obj):
        raise TargetError(TypeError("%s is not callable" % spec), 1)
    return obj


def parse_target(tokens: list, root: str, setup: str | None) -> Target:
    """The target part of the command line: ``script.py ARGS``, ``-m module ARGS`` or ``module:function``."""
    if not tokens:
        raise UsageError("missing TARGET (script.py, -m module, or module:function)")
    if tokens[0] == "-m":
        if len(tokens) < 2 or not tokens[1] or tokens[1].startswith("-"):
            raise UsageError("-m needs a module name")
        if not _is_dotted(tokens[1]):
            raise UsageError("not a module name: %r" % tokens[1])
        return Target("module", tokens[1], tokens[2:], root, setup)
    spec = tokens[0]
    if spec.startswith("-"):
        raise UsageError("unknown option %r" % spec)
    if ":" in spec and not spec.endswith(".py") and not os.path.exists(os.path.join(root, spec)):
        mod, _, fn = spec.partition(":")
        if not _is_dotted(mod) or not _is_dotted(fn):
            raise UsageError("not a module:function target: %r" % spec)
        if len(tokens) > 1:
            raise UsageError("a module:function target takes no arguments")
        return Target("callable", spec, [], root, setup)
    return Target("script", spec, tokens[1:], root, setup)


def _is_dotted(name: str) -> bool:
    return bool(name) and all(p.isidentifier() for p in name.split("."))


def _exit_code_of(exc: BaseException) -> int:
    if isinstance(exc, SystemExit):
        return exit_code_of_systemexit(exc)
    if isinstance(exc, KeyboardInterrupt):
        return 130
    return 1


def exit_code_of_systemexit(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, bool):
        return int(code)
    if isinstance(code, int):
        return code & 0xFF if code >= 0 else max(code, -255)
    return 1


def exit_code_of(exc: BaseException | None) -> int:
    return 0 if exc is None else _exit_code_of(exc)
