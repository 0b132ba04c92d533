from __future__ import annotations


def totals(rows: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        out[row["account"]] = out.get(row["account"], 0) + row["cents"]
    return out


def render(rows: list[dict]) -> str:
    lines = [f"{name:>16} {cents / 100:>12.2f}" for name, cents in sorted(totals(rows).items())]
    return "\n".join(lines)
