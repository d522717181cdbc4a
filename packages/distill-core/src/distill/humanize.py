"""Figures as people read them (the CLI's tables and the web UI's pages share these)."""

from __future__ import annotations


def size(num_bytes: float) -> str:
    """Bytes in B, KB, MB or GB (powers of 1000), one decimal from KB up."""
    for unit in ("B", "KB", "MB"):
        if num_bytes < 1000:
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1000
    return f"{num_bytes:.1f} GB"
