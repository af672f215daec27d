"""How figures read on the dashboard: money, sizes, and masked identifiers."""

from __future__ import annotations

__all__ = ["format_bytes", "format_money", "mask_identifier"]

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def format_money(value: float) -> str:
    """``1234.5`` -> ``"$1,235"`` (US dollars, whole)."""
    return f"${value:,.0f}"


def format_bytes(value: float) -> str:
    """Binary units, one decimal: ``1536`` -> ``"1.5 KiB"``."""
    size = float(value)
    for unit in _BYTE_UNITS:
        if abs(size) < 1024 or unit == _BYTE_UNITS[-1]:
            return f"{size:,.0f} B" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def mask_identifier(value: str | None, keep: int = 3) -> str:
    """``"12345678"`` -> ``"•••678"``: enough to tell rows apart, not to identify anyone.

    UIDs (they contain dots) keep 6 characters; at most half of any value is shown.
    """
    text = value or ""
    if not text:
        return ""
    keep = min(6 if "." in text else keep, len(text) // 2)
    return "•••" + text[len(text) - keep:]
