from __future__ import annotations


def totals(rows: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        out[row["account"]] = out.get(row["account"], 0) + row["cents"]
    return out


def render(rows: list[dict]) -> str:
    # Keep every row's rendering around so the report can be paginated.
    pages = [f"{row['account']:>16} {row['cents'] / 100:>12.2f}" for row in rows]
    lines = [f"{name:>16} {cents / 100:>12.2f}" for name, cents in sorted(totals(rows).items())]
    return "\n".join(lines) + f"\n{len(pages)} rows"
