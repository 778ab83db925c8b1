"""Search patterns for SQL."""

from __future__ import annotations


def like_prefix(term: str) -> str:
    """A case-insensitive prefix pattern for `lower(column) LIKE :pattern` (the default escape '\\'): the
    term's own '%', '_' and '\\' match themselves, so a search cannot widen itself."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"
