"""Product identifiers: GTIN check digits, plausible SKUs, and the IDs a product URL carries."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

from retail_pipeline.domain.products import normalise_gtin

__all__ = ["normalise_gtin"]  # the one definition is in domain.products; extractors import it from here

_WHITESPACE = re.compile(r"\s+")
_SKU_NAMESPACE = re.compile(r"^(?:sku|mpn|item|id|art(?:ikel)?(?:nr)?|ref)\s*[:#]\s*(?=\S)", re.I)
_FEW_CODE_WORDS = re.compile(r"[\w\-./]+( [\w\-./]+){0,2}")
_PLACEHOLDER = re.compile(r"\{\{|\$\{|<%")


def clean_sku(value: str | None) -> str | None:
    """A SKU as shops print it, or None when the value is clearly not one (a sentence, a price, empty)."""
    if value is None:
        return None
    text = _WHITESPACE.sub(" ", str(value)).strip().strip(":#").strip()
    # schema.org productID is often namespaced ("sku:XA30202", "isbn:978…"); the value is after the colon.
    text = _SKU_NAMESPACE.sub("", text)
    if not text or len(text) > 64 or text.lower() in {"null", "none", "undefined", "n/a", "na", "-", "0"}:
        return None
    if " " in text and not _FEW_CODE_WORDS.fullmatch(text):
        return None
    if _PLACEHOLDER.search(text):
        return None
    return text


_URL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-.]{3,40}")


def url_id_tokens(url: str | None) -> list[str]:
    """Tokens of a product URL that look like identifiers (contain a digit, not a year or a size)."""
    if not url:
        return []
    parts = urlsplit(url)
    path = unquote(parts.path)
    tokens: list[str] = []
    for _, value in parse_qsl(parts.query):
        tokens.extend(_URL_ID.findall(value))
    segments = [s for s in path.split("/") if s]
    for segment in reversed(segments):
        segment = re.sub(r"\.(html?|php|aspx?|jsp)$", "", segment, flags=re.I)
        if not re.search(r"[a-z]{4,}", segment):
            tokens.append(segment)  # a whole segment is an ID only if it is not a slug of words
        parts = re.split(r"[-_,~.+]", segment)
        tokens.extend(parts)
        # "p01234567", "s59490035", "A-12345678": an ID glued to a one- or two-letter prefix.
        tokens.extend(m.group(1) for part in parts if (m := re.fullmatch(r"[A-Za-z]{1,2}(\d{5,})", part)))
    out: list[str] = []
    for token in tokens:
        token = token.strip(".-_")
        if len(token) < 4 or not re.search(r"\d", token) or token in out:
            continue
        if re.fullmatch(r"(19|20)\d\d", token) or re.fullmatch(
            r"\d+(x\d+)+|\d+(mm|cm|ml|gb|tb|g|kg|w|v)", token, re.I
        ):
            continue
        out.append(token)
    return out


_ITEM_CODE = re.compile(r"(?=[A-Z0-9\-_.]*\d)[A-Z0-9][A-Z0-9\-_.]{3,30}")


def _path_segments(url: str) -> list[str]:
    path = unquote(urlsplit(url).path)
    return [re.sub(r"\.(html?|php|aspx?|jsp)$", "", s, flags=re.I) for s in path.split("/") if s]


def url_item_code(url: str | None, links: Iterable[str]) -> str | None:
    """The upper-case item code a shop ends its product URLs with (".../copper-shade/tom-dixon/
    MSS45UKC/"), when at least two links on the page to other products end the same way at the
    same depth: then the code is the URL scheme's item key, not a one-off token."""
    if not url:
        return None
    segments = _path_segments(url)
    if len(segments) < 2 or not _ITEM_CODE.fullmatch(segments[-1]):
        return None
    host, alike = urlsplit(url).hostname, set()
    for link in links:
        other = _path_segments(link)
        if (
            urlsplit(link).hostname == host
            and len(other) == len(segments)
            and other[-1] != segments[-1]
            and _ITEM_CODE.fullmatch(other[-1])
        ):
            alike.add(other[-1])
            if len(alike) >= 2:
                return segments[-1]
    return None
