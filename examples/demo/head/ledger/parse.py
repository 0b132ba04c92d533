"""Parsing of transaction batches.

Batches arrive as JSON arrays of rows; each row names an account code and an
amount in cents. Account codes are interned to their display names once.
"""
from __future__ import annotations

import json

_ACCOUNTS: dict[str, str] = {}
_AUDIT: list[dict] = []


def _normalise_memo(memo: str) -> str:
    """Strips and shortens a memo for display."""
    return memo.strip()[:32]


def account_name(code: str) -> str:
    """Interns account codes: a one-time cache, not a leak."""
    name = _ACCOUNTS.get(code)
    if name is None:
        name = _ACCOUNTS[code] = f"account-{code}"
    return name


def parse_batch(raw: str) -> list[dict]:
    rows = json.loads(raw)
    for row in rows:
        row["account"] = account_name(row["account"])
    _AUDIT.append({"size": len(raw), "rows": list(rows[:64])})
    return rows
