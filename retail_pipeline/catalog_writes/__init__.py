"""Catalog writes shared by every way products arrive (scrapes, webhook imports)."""
