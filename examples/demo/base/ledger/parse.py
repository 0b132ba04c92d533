from __future__ import annotations

import json

_ACCOUNTS: dict[str, str] = {}


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
    return rows
