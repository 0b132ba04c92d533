"""Allocation sites: path classification, attribution of a traceback to a site, and site identity via ``ast``.

A site's identity across commits is (path, enclosing qualname, normalised statement, ordinal); the line number is
for display only. Everything here runs after tracing has stopped, so it may allocate freely.
"""
from __future__ import annotations

import ast
import io
import linecache
import os
import sys
import sysconfig
import tokenize

IMPORTS = "<imports>"
UNKNOWN = "<unknown>"
_PROBE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_CODE_CAP = 240
_STMT_CAP = 2000

# Frames that never become a site: the probe itself and the machinery it relies on.
_EXCLUDED_STDLIB = ("tracemalloc.py", "threading.py")


def _stdlib_dirs() -> list[str]:
    dirs = []
    paths = sysconfig.get_paths()
    for key in ("stdlib", "platstdlib"):
        p = paths.get(key)
        if p:
            for cand in (os.path.abspath(p), os.path.realpath(p)):
                cand = cand.rstrip(os.sep) + os.sep
                if cand not in dirs:
                    dirs.append(cand)
    return dirs


PROJECT, OTHER, SKIP, PROBE = 0, 1, 2, 3


class PathClassifier:
    """Maps a code filename to (report path, kind). Kinds: PROJECT (under the root), OTHER (stdlib, installed
    packages, pseudo files), SKIP (tracemalloc and threading: looked through) and PROBE (the probe's own code)."""

    __slots__ = ("roots", "stdlib", "cache")

    def __init__(self, root: str) -> None:
        roots = []
        for cand in (os.path.abspath(root), os.path.realpath(root)):
            cand = cand.rstrip(os.sep) + os.sep
            if cand not in roots:
                roots.append(cand)
        self.roots = roots
        self.stdlib = _stdlib_dirs()
        self.cache: dict[str, tuple[str, int]] = {}

    def classify(self, filename: str) -> tuple[str, int]:
        hit = self.cache.get(filename)
        if hit is None:
            hit = self._classify(filename)
            self.cache[filename] = hit
        return hit

    def _classify(self, filename: str) -> tuple[str, int]:
        if filename.startswith("<"):
            if filename.startswith("<frozen importlib") or filename == "<frozen zipimport>":
                return IMPORTS, OTHER
            if filename.startswith("<frozen "):
                name = filename[len("<frozen ") : -1]
                if name in ("tracemalloc", "threading"):
                    return "", SKIP
                return "<stdlib>/" + name.replace(".", "/") + ".py", OTHER
            return _clean(filename), OTHER
        absf = os.path.abspath(filename)
        if absf.startswith(_PROBE_DIR):
            return "", PROBE
        norm = absf.replace(os.sep, "/")
        parts = norm.split("/")
        for marker in ("site-packages", "dist-packages"):
            if marker in parts:
                i = len(parts) - 1 - parts[::-1].index(marker)
                return "site-packages/" + "/".join(parts[i + 1 :]), OTHER
        for root in self.roots:
            if absf.startswith(root):
                return absf[len(root) :].replace(os.sep, "/"), PROJECT
        for base in self.stdlib:
            if absf.startswith(base):
                rel = absf[len(base) :].replace(os.sep, "/")
                if rel in _EXCLUDED_STDLIB:
                    return "", SKIP
                return "<stdlib>/" + rel, OTHER
        real = os.path.realpath(filename)
        if real != absf:
            return self._classify(real)
        return "<external>/" + "/".join(parts[-2:]), OTHER


def _clean(name: str) -> str:
    return "".join(ch for ch in name if ch >= " " and ch != "\x7f")[:200] or UNKNOWN


def attribute(frames, classify):
    """Picks the site frame of a traceback given innermost first as (filename, lineno) pairs.

    Returns (path, filename, lineno, via), via being ``path:line`` of the innermost frame when it is not the site
    itself; or None for the probe's own allocations (innermost frame in the probe, looking through SKIP frames).
    """
    inner = None
    for filename, lineno in frames:
        path, kind = classify(filename)
        if kind == SKIP:
            continue
        if kind == PROBE:
            if inner is None:
                return None
            continue
        if inner is None:
            inner = (path, filename, lineno)
        if kind == PROJECT:
            if inner[1] == filename and inner[2] == lineno:
                return path, filename, lineno, None
            return path, filename, lineno, "%s:%d" % (inner[0], inner[2])
    if inner is None:
        return UNKNOWN, "", 0, None
    if inner[0] == IMPORTS:
        return IMPORTS, "", 0, None
    return inner[0], inner[1], inner[2], None


class FileIndex:
    """One parsed source file: for each line, the enclosing qualname and the statement that covers it."""

    __slots__ = ("lines", "scope", "stmt_of", "ok")

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.scope: dict[int, str] = {}
        self.stmt_of: dict[int, tuple[str, int, int]] = {}  # line -> (stmt, ordinal, first line)
        self.ok = False
        source = "".join(lines)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            return
        self.ok = True
        stmts: list[tuple[int, int, str, str]] = []  # (start, end, scope, text)
        spans: list[tuple[int, int, str]] = []
        self._walk(tree.body, "<module>", "", stmts, spans)
        for start, end, scope in sorted(spans):
            for ln in range(start, end + 1):
                self.scope[ln] = scope
        counts: dict[tuple[str, str], int] = {}
        for start, end, scope, text in sorted(stmts, key=lambda s: (s[0], -s[1])):
            key = (scope, text)
            ordinal = counts.get(key, 0)
            counts[key] = ordinal + 1
            for ln in range(start, end + 1):
                # Nested statements come later in the sort order for the same lines and win (innermost).
                self.stmt_of[ln] = (text, ordinal, start)
                self.scope[ln] = scope

    def _walk(self, body, scope: str, prefix: str, out, spans) -> None:
        for node in body:
            start = node.lineno
            end = getattr(node, "end_lineno", None) or start
            inner_body = _bodies(node)
            if not inner_body:
                out.append((start, end, scope, _normalise(self._segment(start, node.col_offset, end, node))))
                continue
            first_body_line = min(b[0].lineno for b in inner_body if b)
            header_end = max(start, first_body_line - 1) if first_body_line > start else start
            decorators = getattr(node, "decorator_list", None) or []
            dstart = min([d.lineno for d in decorators] + [start])
            header = self._header(start, node.col_offset)
            out.append((dstart, header_end, scope, header))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                child = prefix + node.name
                spans.append((first_body_line, end, child))
                sub = child + (".<locals>." if not isinstance(node, ast.ClassDef) else ".")
                self._walk(node.body, child, sub, out, spans)
            else:
                for b in inner_body:
                    self._walk(b, scope, prefix, out, spans)

    def _segment(self, start: int, col: int, end: int, node) -> str:
        end_col = getattr(node, "end_col_offset", None)
        chunk = self.lines[start - 1 : end]
        if not chunk:
            return ""
        if end_col is not None:
            chunk[-1] = _char_slice(chunk[-1], 0, end_col)
        chunk[0] = _char_slice(chunk[0], col, None)
        return "".join(chunk)

    def _header(self, start: int, col: int) -> str:
        """The compound statement's header: tokens from its start to the ':' that ends it."""
        text = "".join(self.lines[start - 1 : start + 200])
        text = _char_slice(text, col, None)
        toks = []
        depth = 0
        lambdas = 0
        try:
            for tok in tokenize.generate_tokens(io.StringIO(text).readline):
                if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                    continue
                s = tok.string
                if tok.type == tokenize.OP:
                    if s in "([{":
                        depth += 1
                    elif s in ")]}":
                        depth -= 1
                    elif s == ":" and depth == 0:
                        if lambdas:
                            lambdas -= 1
                        else:
                            toks.append(tok)
                            break
                elif tok.type == tokenize.NAME and s == "lambda" and depth == 0:
                    lambdas += 1
                toks.append(tok)
        except (tokenize.TokenError, IndentationError, SyntaxError):
            pass
        return _join(toks)[:_STMT_CAP]


def _bodies(node) -> list:
    """The statement lists nested in a compound statement (empty for a simple statement)."""
    out = []
    for field in ("body", "orelse", "finalbody"):
        val = getattr(node, field, None)
        if isinstance(val, list) and val and isinstance(val[0], ast.stmt):
            out.append(val)
    for field in ("handlers", "cases"):
        for h in getattr(node, field, None) or ():
            if h.body:
                out.append(h.body)
    return out


def _char_slice(line: str, start: int, end) -> str:
    # ast offsets are UTF-8 byte offsets.
    raw = line.encode("utf-8")
    return raw[start:end].decode("utf-8", "replace")


def _join(toks) -> str:
    out = []
    prev_word = False
    for tok in toks:
        word = tok.type in (tokenize.NAME, tokenize.NUMBER) or (tok.string[:1].isalnum() and tok.type != tokenize.OP)
        if word and prev_word:
            out.append(" ")
        out.append(tok.string)
        prev_word = word
    return "".join(out)


def _normalise(text: str) -> str:
    """Statement text without comments and whitespace (a single space only where two words would merge)."""
    try:
        toks = [
            t
            for t in tokenize.generate_tokens(io.StringIO(text).readline)
            if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
            and t.type != tokenize.ENDMARKER
        ]
        return _join(toks)[:_STMT_CAP]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "".join(text.split())[:_STMT_CAP]


class SourceIndex:
    """Parses each source file at most once."""

    __slots__ = ("files", "stdlib")

    def __init__(self) -> None:
        self.files: dict[str, FileIndex | None] = {}
        self.stdlib = _stdlib_dirs()

    def get(self, filename: str) -> FileIndex | None:
        if filename in self.files:
            return self.files[filename]
        lines = linecache.getlines(filename)
        if not lines and filename.startswith("<frozen ") and self.stdlib:
            rel = filename[len("<frozen ") : -1].replace(".", os.sep)
            for cand in (rel + ".py", os.path.join(rel, "__init__.py")):
                path = os.path.join(self.stdlib[0], cand)
                if os.path.exists(path):
                    lines = linecache.getlines(path)
                    break
        idx = FileIndex(lines) if lines else None
        self.files[filename] = idx
        return idx

    def describe(self, filename: str, lineno: int) -> tuple[str, str, str, int]:
        """(function, code, stmt, ordinal) for a line."""
        idx = self.get(filename) if filename else None
        if idx is None:
            return UNKNOWN, "", "", 0
        code = idx.lines[lineno - 1].strip()[:_CODE_CAP] if 0 < lineno <= len(idx.lines) else ""
        if not idx.ok:
            return UNKNOWN, code, _normalise(code), 0
        stmt = idx.stmt_of.get(lineno)
        scope = idx.scope.get(lineno, "<module>")
        if stmt is None:
            return scope, code, _normalise(code), 0
        return scope, code, stmt[0], stmt[1]


class SiteAcc:
    """Accumulator for one site while aggregating."""

    __slots__ = ("file", "function", "line", "code", "stmt", "ordinal", "via", "peak", "retained", "count", "leak",
                 "best")

    def __init__(self, file: str, function: str, line: int, code: str, stmt: str, ordinal: int) -> None:
        self.file = file
        self.function = function
        self.line = line
        self.code = code
        self.stmt = stmt
        self.ordinal = ordinal
        self.via: str | None = None
        self.peak = 0
        self.retained = 0
        self.count = 0
        self.leak = 0
        self.best = -1

    def as_dict(self, callable_target: bool) -> dict:
        return {
            "file": self.file,
            "function": self.function,
            "line": self.line,
            "code": self.code,
            "stmt": self.stmt,
            "ordinal": self.ordinal,
            "via": self.via,
            "peak": self.peak,
            "retained": self.retained,
            "leak": self.leak if callable_target else None,
            "count": self.count,
        }


def sys_version() -> str:
    return "%d.%d.%d" % sys.version_info[:3]
