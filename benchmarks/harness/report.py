"""Printing what a run found: same-run ratios, where two answers differ, what is left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def ratio(value: float, base: float) -> float:
    """``value`` as a multiple of ``base`` measured in the same run (nan when base is 0)."""
    return value / base if base else float("nan")


def first_difference(a: Any, b: Any, path: str = "data") -> str | None:
    """Where two parsed JSON documents first differ, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{path}.{key}: present on one side only"
            if (found := first_difference(a[key], b[key], f"{path}.{key}")) is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            if (found := first_difference(x, y, f"{path}[{n}]")) is not None:
                return found
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


def tidy(work: Path) -> None:
    """Keep the files in ``work`` that hold something (server logs, profiles); say where."""
    for file in work.iterdir():
        if file.stat().st_size == 0:
            file.unlink()
    kept = sorted(f.name for f in work.iterdir())
    if kept:
        print(f"\nkept in {work}: {', '.join(kept)}")
    else:
        work.rmdir()
