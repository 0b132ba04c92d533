"""memdelta's Python probe: runs a target under tracemalloc and writes a ``memdelta/probe@1`` JSON report."""
from __future__ import annotations

__version__ = "1.0.0"
SCHEMA = "memdelta/probe@1"
