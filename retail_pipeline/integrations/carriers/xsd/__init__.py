"""Canada Post's published XML schemas (see PROVENANCE.md), loaded once per process with lxml."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

XSD_DIR = Path(__file__).parent
SCHEMAS = ("ncshipment", "messages", "track", "rating")


@cache
def schema(name: str) -> etree.XMLSchema:
    """`ncshipment`, `messages`, `track` or `rating`. ncshipment.xsd and rating.xsd pull in common.xsd from
    beside it."""
    if name not in SCHEMAS:
        raise ValueError(f"no schema {name!r}; known: {SCHEMAS}")
    return etree.XMLSchema(etree.parse(str(XSD_DIR / f"{name}.xsd")))


def problems(name: str, document: etree._Element | bytes) -> list[str]:
    """Why `document` is not valid against schema `name` ([] = valid), in lxml's words."""
    if isinstance(document, bytes):
        try:
            document = etree.fromstring(document)
        except etree.XMLSyntaxError as error:
            return [f"not well-formed XML: {error}"]
    validator = schema(name)
    if validator.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in validator.error_log]
