"""One parsed page, shared by every layer: the lxml tree, its URLs, its <meta> tags and the "main" area.

The main area is the page without the parts that carry other products' names and prices or the
site's own chrome (header, navigation, footer, recommendation carousels, mini-cart). Visible-page
heuristics only look there, so a related product's price is never mistaken for this one's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

_NON_CONTENT_TAGS = ("script", "style", "noscript", "template", "svg", "iframe")


def remembered(
    pattern: re.Pattern[str], *, anchored: bool = False, size: int = 8192
) -> Callable[[str], bool]:
    """`pattern.search(text)` (`.match` when `anchored`) as a yes/no, remembered per text. The big
    word-list patterns cost microseconds per call, and a shop's pages repeat the same class names
    and labels on every page, so a scrape asks the same questions thousands of times."""
    find = pattern.match if anchored else pattern.search

    @lru_cache(maxsize=size)
    def test(text: str) -> bool:
        return find(text) is not None

    return test


# Containers whose content is about other products or the site, by tag and by class/id/role words.
# A "footer" class is the site's ("footer", "footer-links", "site-footer"); a part's own footer
# ("details-footer", "card-footer") may hold the product's price and buy button.
_CHROME_TAGS = {"header", "footer", "nav", "aside"}
_CHROME_WORDS = re.compile(
    r"related|recommend|upsell|up-sell|cross-?sell|similar|also-?(bought|viewed|like)|recently|carousel"
    r"|slider-products|product-?(list|grid|tiles|slider)|mini-?cart|minicart|cart-drawer|side-?cart|megamenu"
    r"|mega-menu|site-?header|page-?header|(?:site|page|main|global|store|shop)-?footer|(?<![\w-])footer"
    r"|newsletter|cookie|reviews?-list|header-|-header|^header$|navigation|navbar|menu|breadcrumb|modal|popup|compare-products|bundle"
    r"|accessor|complete-the-look|you-may|wishlist-items|sponsored",
    re.I,
)


# Elements a browser does not show: display:none, the hidden attribute, and the class names themes use
# for it ("pl_hidden", "d-none", "is-hidden"). A hidden coupon price or a hidden "sold out" template
# is not what the customer sees. Screen-reader-only classes ("sr-only", "a-offscreen") are NOT hidden:
# shops put the real price text there.
_HIDDEN_CLASS = re.compile(
    r"(?:^|\s)(?:hidden|is-hidden|is--hidden|d-none|hide|js-hide|u-hidden|pl_hidden|display-none|invisible)(?:\s|$)",
    re.I,
)
_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_is_chrome_words, _is_hidden_class, _is_display_none = map(
    remembered, (_CHROME_WORDS, _HIDDEN_CLASS, _DISPLAY_NONE)
)


def is_hidden(el: etree._Element, attrs: Mapping[str, str] | None = None) -> bool:
    """True when `el` itself is not rendered (its own attributes say so). `attrs`: its attributes,
    when the caller already has them."""
    if not isinstance(el.tag, str) or el.tag in ("meta", "link", "input"):
        return False  # microdata <meta>/<link> and hidden form inputs are read as data, not as text
    if attrs is None:
        attrs = el.attrib
    if attrs.get("hidden") is not None:
        return True
    if _is_display_none(attrs.get("style") or ""):
        return True
    return _is_hidden_class(attrs.get("class") or "")


def _attrs_text(attrs: Mapping[str, str]) -> str:
    return " ".join(
        filter(None, (attrs.get("class"), attrs.get("id"), attrs.get("role"), attrs.get("data-section-type")))
    )


def element_text(el: etree._Element) -> str:
    """Visible text of an element with single spaces (script/style content and comments excluded)."""
    parts: list[str] = []
    _collect_text(el, parts)
    # str.split() splits on exactly what `\s` matches: the same as collapsing `\s+` and stripping.
    return " ".join(" ".join(parts).split())


def _collect_text(el: etree._Element, parts: list[str]) -> None:
    if el.text:
        parts.append(el.text)
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _NON_CONTENT_TAGS:
            _collect_text(child, parts)
        if child.tail:
            parts.append(child.tail)


def is_chrome(el: etree._Element, attrs: Mapping[str, str] | None = None) -> bool:
    """True for site chrome and other-product containers (see module doc)."""
    if not isinstance(el.tag, str):
        return False
    if el.tag in _CHROME_TAGS:
        # <header>/<footer> inside an article or <main> head a section of the product, not the site.
        return not (
            el.tag in ("header", "footer") and any(a.tag in ("main", "article") for a in el.iterancestors())
        )
    words = _attrs_text(el.attrib if attrs is None else attrs)
    return bool(words and _is_chrome_words(words))


_NO_ATTRS: Mapping[str, str] = MappingProxyType({})


@dataclass
class Page:
    html: str
    url: str | None
    base_url: str | None
    tree: etree._Element = field(init=False)
    # Per-element memos: the layers ask for the same elements' text and attributes many times.
    _texts: dict[etree._Element, str] = field(init=False, default_factory=dict, repr=False)
    _contents: dict[etree._Element, str] = field(init=False, default_factory=dict, repr=False)
    _attrs: dict[etree._Element, Mapping[str, str]] = field(init=False, default_factory=dict, repr=False)
    _absolute: dict[str, str | None] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=False)
        try:
            self.tree = lxml.html.document_fromstring(self.html.encode("utf-8", "replace"), parser=parser)
        except (etree.ParserError, ValueError):
            self.tree = lxml.html.document_fromstring("<html><body></body></html>")
        base_tag = self.tree.find(".//base[@href]")
        page_url = self.base_url or self.url
        if base_tag is not None:
            page_url = urljoin(page_url or "", base_tag.get("href", "").strip())
        self.resolve_base = page_url

    def absolute(self, link: str | None) -> str | None:
        if not link or not isinstance(link, str):
            return None
        # The same image and page links come from several layers; urljoin is not cheap.
        if link not in self._absolute:
            self._absolute[link] = self._resolve(link)
        return self._absolute[link]

    def _resolve(self, link: str) -> str | None:
        link = link.strip()
        if link.startswith("data:") or link.startswith("javascript:"):
            return None
        if link.startswith("//"):
            scheme = urlsplit(self.resolve_base or "").scheme or "https"
            return f"{scheme}:{link}"
        return urljoin(self.resolve_base, link) if self.resolve_base else link

    @property
    def host(self) -> str | None:
        for candidate in (self.url, self.base_url, self.resolve_base):
            if candidate:
                host = urlsplit(candidate).hostname
                if host:
                    return host
        return None

    @cached_property
    def meta(self) -> dict[str, str]:
        """First value of every <meta> keyed by lower-cased property/name/itemprop."""
        found: dict[str, str] = {}
        for el in self.tree.iter("meta"):
            key = el.get("property") or el.get("name") or el.get("itemprop")
            value = el.get("content")
            if key and value is not None and value.strip():
                found.setdefault(key.strip().lower(), value.strip())
        return found

    @cached_property
    def body(self) -> etree._Element:
        body = self.tree.find("body")
        return body if body is not None else self.tree

    def text(self, el: etree._Element) -> str:
        """`element_text(el)`, worked out once per element."""
        text = self._texts.get(el)
        if text is None:
            text = self._texts[el] = element_text(el)
        return text

    def content(self, el: etree._Element) -> str:
        """`el.text_content()` (every text node, script and style included), worked out once per element."""
        text = self._contents.get(el)
        if text is None:
            text = self._contents[el] = el.text_content()
        return text

    def attrs(self, el: etree._Element) -> Mapping[str, str]:
        """The element's attributes as a plain mapping (`.get` as on the element), read once."""
        attrs = self._attrs.get(el)
        if attrs is None:
            attrs = self._attrs[el] = dict(el.items()) or _NO_ATTRS
        return attrs

    @cached_property
    def main_elements(self) -> list[etree._Element]:
        """Every element of the main area, in document order."""
        out: list[etree._Element] = []
        attrs_of = self.attrs

        def walk(el: etree._Element) -> None:
            # `is_chrome` and `is_hidden` inlined: this visits every element of the body.
            for child in el:
                tag = child.tag
                if not isinstance(tag, str) or tag in _NON_CONTENT_TAGS:
                    continue
                attrs = attrs_of(child)
                if tag in _CHROME_TAGS:
                    chrome = is_chrome(child, attrs)
                else:
                    words = _attrs_text(attrs) if attrs else ""
                    chrome = bool(words and _is_chrome_words(words))
                if chrome and not _holds_main_heading(child):
                    continue
                if attrs and is_hidden(child, attrs):
                    continue
                out.append(child)
                walk(child)

        walk(self.body)
        return out

    @cached_property
    def order(self) -> dict[etree._Element, int]:
        """Document position of each main-area element, for "how close to the buy button" scores."""
        return {el: i for i, el in enumerate(self.main_elements)}

    @cached_property
    def title(self) -> str | None:
        """The document <title> (in <head>; an SVG icon's <title> in the body is not the page's)."""
        head = self.tree.find("head")
        candidates = list(head.iter("title")) if head is not None else []
        candidates += [
            t for t in self.tree.iter("title") if not any(a.tag == "svg" for a in t.iterancestors())
        ]
        for el in candidates:
            text = self.text(el)
            if text:
                return text
        return None


def _holds_main_heading(el: etree._Element) -> bool:
    # Some themes wrap the whole product in a "product-header" or similar; never drop the h1 with it.
    return el.tag not in _CHROME_TAGS and el.find(".//h1") is not None and el.tag not in ("a", "li")
