"""Product enrichment, the pure part: what goes to the model, what must come back, how a result is
scored and cached, and the offline enricher used when no LLM is configured. No I/O here.

Cache. A product is re-enriched only when its ``input_hash`` changes. The hash covers exactly what
the enricher sees (``EnrichmentInput``) plus the enricher's identity (prompt version and model, or
the offline enricher's version), so a new prompt, a new model or new supplier content each cost one
call, and nothing else does. Two things are deliberately *not* in it:

- the price: listing copy never quotes a price (prices change hourly and are set per channel), so a
  repricing must not cost an LLM call; LaunchLock reads prices from ``supplier_products``;
- the image count: it only feeds the quality score, which is recomputed on every run without a call.

Blocked suppliers (seed 002: Cash Converters). Their products get a ``products`` row with
``status = 'blocked'``, the reason in ``error``, and the store's own content, so LaunchLock judges
them on what the store wrote (see ``domain.launchlock``) and the ops views can count them.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from retail_pipeline.domain.launchlock import visible_text
from retail_pipeline.domain.parcels import MAX_SIDE_MM, MAX_WEIGHT_GRAMS
from retail_pipeline.domain.products import Condition

# Bump when SYSTEM_PROMPT or EnrichmentOutput changes meaning: every product is re-enriched once.
PROMPT_VERSION = "enrich-2"  # enrich-2: the shipping estimate (issue 13)
# Bump when offline_enrich changes its output.
OFFLINE_VERSION = "offline-1"
# Version label of rows that carry the store's own content (enrichment-blocked suppliers).
STORE_CONTENT_VERSION = "store-1"

TITLE_MAX_CHARS = 80  # the strictest channels' title limit; products.title has the same CHECK
DESCRIPTION_MAX_INPUT_CHARS = 6000  # bounds prompt tokens for pages that paste a manual in
MAX_ATTRIBUTES = 30
MAX_KEYWORDS = 10
# A product that keeps failing with unchanged input is retried on this many runs, then left alone
# (it still shows as failed with its reason) until its input, the prompt or the model changes.
FAILED_RETRY_RUNS = 3
NOTHING_TO_ENRICH = "nothing to enrich: the supplier gives no title or description"

EnricherKind = Literal["llm", "offline"]


# --- what the enricher sees ----------------------------------------------------------------------


class EnrichmentInput(BaseModel):
    """The supplier's facts about one product, as sent to the model (and hashed)."""

    model_config = ConfigDict(frozen=True)

    title: str | None = None
    description: str | None = None
    brand: str | None = None
    categories: tuple[str, ...] = ()  # breadcrumb, most general first
    condition: Condition = "unknown"
    gtin: str | None = None
    mpn: str | None = None
    attributes: tuple[tuple[str, str], ...] = ()  # (name, value), sorted

    @classmethod
    def from_supplier_product(cls, row: Mapping[str, Any]) -> EnrichmentInput:
        """From a ``supplier_products`` row. Source attributes are read from ``raw["attributes"]``
        (an object of scalars, or a list of ``{name, value}``), where adapters keep them."""
        description = _clean(row.get("description"))
        return cls(
            title=_clean(row.get("title")),
            description=description[:DESCRIPTION_MAX_INPUT_CHARS] if description else None,
            brand=_clean(row.get("brand")),
            categories=tuple(c for c in (_clean(c) for c in row.get("categories") or ()) if c),
            condition=row.get("condition") or "unknown",
            gtin=_clean(row.get("gtin")),
            mpn=_clean(row.get("mpn")),
            attributes=source_attributes((row.get("raw") or {}).get("attributes")),
        )

    @property
    def has_content(self) -> bool:
        return bool(self.title or self.description)

    def prompt_payload(self) -> dict[str, Any]:
        """The product as the user message carries it: empty fields left out."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["attributes"] = [{"name": n, "value": v} for n, v in self.attributes]
        return {k: v for k, v in data.items() if v not in ((), [], "")}


def source_attributes(value: Any) -> tuple[tuple[str, str], ...]:
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(value, Mapping):
        pairs = value.items()
    elif isinstance(value, list):
        pairs = ((a.get("name"), a.get("value")) for a in value if isinstance(a, Mapping))
    else:
        return ()
    cleaned = {}
    for name, attr_value in pairs:
        if isinstance(attr_value, bool | int | float | Decimal):
            attr_value = str(attr_value)
        name, attr_value = _clean(name), _clean(attr_value)
        if name and attr_value:
            cleaned.setdefault(name[:60], attr_value[:200])
    return tuple(sorted(cleaned.items()))[:MAX_ATTRIBUTES]


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return re.sub(r"\s+", " ", value).strip() or None


# --- what must come back -------------------------------------------------------------------------


class Attribute(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=60, description="Attribute name, e.g. Colour.")
    value: str = Field(min_length=1, max_length=200, description="Attribute value, e.g. Black.")


class ShippingEstimate(BaseModel):
    """One unit as shipped, in its retail packaging, estimated from the product data."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    weight_grams: int = Field(gt=0, le=MAX_WEIGHT_GRAMS, description="Shipping weight of one unit in grams.")
    length_cm: float = Field(gt=0, le=MAX_SIDE_MM / 10, description="Longest side of the packaged unit, cm.")
    width_cm: float = Field(gt=0, le=MAX_SIDE_MM / 10, description="Middle side of the packaged unit, cm.")
    height_cm: float = Field(gt=0, le=MAX_SIDE_MM / 10, description="Shortest side of the packaged unit, cm.")
    reason: str = Field(
        min_length=1,
        max_length=200,
        description="One sentence on what the estimate rests on, e.g. 'typical 15-inch laptop in its box'.",
    )


# The docstring below is sent to the model as the schema's description. Limits the strict schema
# cannot carry (lengths, item counts) are stated in the field descriptions and enforced here.
class EnrichmentOutput(BaseModel):
    """Marketplace listing content for one product."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(
        min_length=1,
        max_length=TITLE_MAX_CHARS,
        description="Marketplace listing title: brand, model and the key specs a buyer searches for. "
        "Plain text, no price, no shouting, no emoji.",
    )
    description: str = Field(
        min_length=1,
        description="Listing description in plain text: two to four short paragraphs using only facts "
        "from the product data.",
    )
    category: str = Field(description="The most specific product category, e.g. Headphones.")
    attributes: list[Attribute] = Field(
        description=f"Item specifics as name/value pairs, taken from the product data. At most {MAX_ATTRIBUTES} items.",
    )
    condition: Condition = Field(description="Item condition, as the product data states it.")
    keywords: list[str] = Field(
        description=f"Search keywords buyers would type, most important first. At most {MAX_KEYWORDS} items."
    )
    shipping_estimate: ShippingEstimate | None = Field(
        default=None,
        description="Estimated shipping weight and box of one unit, with the reason; null when the product "
        "data gives no basis for one.",
    )

    # An implausible estimate (0 g, a 4 m side) is dropped, not retried: the category default stands in.
    @field_validator("shipping_estimate", mode="wrap")
    @classmethod
    def _plausible_estimate(cls, value: Any, handler: Any) -> ShippingEstimate | None:
        try:
            return handler(value)
        except ValidationError:
            return None

    # Too many attributes or keywords are harmless: keep the first ones rather than spend a retry.
    @field_validator("attributes")
    @classmethod
    def _first_attributes(cls, attributes: list[Attribute]) -> list[Attribute]:
        return attributes[:MAX_ATTRIBUTES]

    @field_validator("keywords")
    @classmethod
    def _distinct_keywords(cls, keywords: list[str]) -> list[str]:
        seen: dict[str, str] = {}
        for keyword in keywords:
            keyword = keyword.strip()
            if keyword:
                seen.setdefault(keyword.casefold(), keyword)
        return list(seen.values())[:MAX_KEYWORDS]

    def attributes_object(self) -> dict[str, str]:
        """products.attributes: a JSON object, first value wins for a repeated name."""
        result: dict[str, str] = {}
        for attribute in self.attributes:
            result.setdefault(attribute.name, attribute.value)
        return result


class InvalidOutput(ValueError):
    """The model answered, but not with usable content; ``reason`` is what gets recorded."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def parse_output(content: str | None) -> EnrichmentOutput:
    """The model's message content as EnrichmentOutput, or InvalidOutput saying what is wrong."""
    if not content:
        raise InvalidOutput("empty content")
    try:
        return EnrichmentOutput.model_validate_json(content)
    except ValidationError as error:
        first = error.errors()[0]
        if first["type"] == "json_invalid":
            raise InvalidOutput(f"invalid JSON: {first['msg']}") from error
        where = ".".join(str(part) for part in first["loc"]) or "output"
        raise InvalidOutput(f"schema violation at {where}: {first['msg']}") from error


# Keywords a strict schema may carry on every OpenAI-compatible server; anything else (length and
# item limits) is said in the description instead and enforced by EnrichmentOutput.
_STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf", "$ref",
    "$defs", "description",
}  # fmt: skip
_LIMIT_WORDING = {
    "maxLength": "At most {} characters.",
    "minLength": "At least {} characters.",
    "maxItems": "At most {} items.",
    "minItems": "At least {} items.",
}


def _limit_note(keyword: str, limit: int) -> str:
    if keyword in ("minLength", "minItems") and limit == 1:
        return "Not empty."
    return _LIMIT_WORDING[keyword].format(limit)


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the form strict structured output requires: every object closed
    (``additionalProperties: false``) with all its properties required, only portable keywords."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        notes = [_limit_note(key, node[key]) for key in _LIMIT_WORDING if key in node]
        out = {}
        for key, value in node.items():
            if key == "properties":
                out[key] = {name: convert(prop) for name, prop in value.items()}
            elif key == "$defs":
                out[key] = {name: convert(sub) for name, sub in value.items()}
            elif key in _STRICT_KEYWORDS:
                out[key] = convert(value)
        if notes:
            out["description"] = " ".join([out.get("description", ""), *notes]).strip()
        if out.get("type") == "object":
            out["properties"] = out.get("properties", {})
            out["required"] = list(out["properties"])
            out["additionalProperties"] = False
        return out

    return convert(model.model_json_schema())


SCHEMA_NAME = "product_enrichment"

SYSTEM_PROMPT = (
    "You write marketplace listings for a reseller of electronics and second-hand goods in New Zealand. "
    "From the product data in the user message, produce the listing content as JSON matching the schema. "
    f"Rules: the title is at most {TITLE_MAX_CHARS} characters and leads with brand and model; use only "
    "facts present in the product data, never invent specifications, warranties or accessories; never "
    "mention a price, shipping, the supplier or a store; keep the product's condition as given; "
    "attributes are name/value pairs taken from the data; give up to "
    f"{MAX_KEYWORDS} search keywords; estimate the shipping weight and box of one packaged unit and say "
    "briefly what the estimate rests on. Write in New Zealand English."
)


def build_messages(product: EnrichmentInput) -> list[dict[str, str]]:
    payload = json.dumps(product.prompt_payload(), ensure_ascii=False, sort_keys=True)
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Product data (JSON):\n{payload}"},
    ]


def response_format() -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": SCHEMA_NAME, "schema": strict_json_schema(EnrichmentOutput), "strict": True},
    }


# --- cache key -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enricher:
    """Who enriches: the LLM (prompt version + model) or the offline enricher."""

    kind: EnricherKind
    version: str  # products.prompt_version
    model: str | None = None

    @classmethod
    def llm(cls, model: str) -> Enricher:
        return cls("llm", PROMPT_VERSION, model)

    @classmethod
    def offline(cls) -> Enricher:
        return cls("offline", OFFLINE_VERSION)


# Rows of blocked suppliers: the store's content, no enricher involved (products.enricher has no
# such value, and 'offline' is true: no model was called).
STORE_CONTENT = Enricher("offline", STORE_CONTENT_VERSION)


def input_hash(product: EnrichmentInput, enricher: Enricher, *, blocked_reason: str | None = None) -> str:
    payload = {
        "input": product.model_dump(mode="json"),
        "kind": enricher.kind,
        "version": enricher.version,
        "model": enricher.model,
        "blocked": blocked_reason,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def should_enrich(
    *,
    stored_hash: str | None,
    stored_status: str | None,
    stored_attempts: int,
    new_hash: str,
    max_attempts_per_run: int,
) -> bool:
    """Whether a product needs the enricher this run (False = cached).

    Same hash and enriched: cached. Same hash and failed: retried while the calls spent on this
    input stay under FAILED_RETRY_RUNS runs' worth; a failure that cost no call (nothing to enrich)
    would fail the same way again, so it is not retried.
    """
    if stored_hash != new_hash:
        return True
    if stored_status == "failed":
        return 0 < stored_attempts < max_attempts_per_run * FAILED_RETRY_RUNS
    return False


# --- quality score (seed 003: title 30, description 30, images 20, attributes 20) ----------------

TITLE_FULL_CHARS = 50  # a title this long uses the space marketplace search ranks on
DESCRIPTION_FULL_CHARS = 400  # visible characters for full description points


@dataclass(frozen=True)
class QualityScore:
    """Sub-scores, each from 0 to its maximum, and their sum (0..100, two decimals).

    - title (30): 0 when missing or over 80 characters; else 20 × min(length, 50) / 50, plus 10 when
      it names the brand (or no brand is known);
    - description (30): 30 × min(visible characters, 400) / 400 (tags dropped, spaces collapsed);
    - images (20): stored images: none 0, one 10, two 15, three or more 20;
    - attributes (20): 4 per attribute with a name and a value, at most 20.
    """

    title: Decimal
    description: Decimal
    images: Decimal
    attributes: Decimal

    @property
    def total(self) -> Decimal:
        return (self.title + self.description + self.images + self.attributes).quantize(Decimal("0.01"))


def quality_score(
    *,
    title: str | None,
    description: str | None,
    image_count: int,
    attributes: Mapping[str, Any],
    brand: str | None,
) -> QualityScore:
    title = (title or "").strip()
    if not title or len(title) > TITLE_MAX_CHARS:
        title_points = Decimal(0)
    else:
        names_brand = not brand or brand.casefold() in title.casefold()
        title_points = Decimal(20) * min(len(title), TITLE_FULL_CHARS) / TITLE_FULL_CHARS
        title_points += 10 if names_brand else 0
    visible = len(visible_text(description or ""))
    description_points = Decimal(30) * min(visible, DESCRIPTION_FULL_CHARS) / DESCRIPTION_FULL_CHARS
    image_points = Decimal((0, 10, 15, 20)[min(image_count, 3)])
    filled = sum(1 for name, value in attributes.items() if str(name).strip() and str(value).strip())
    attribute_points = Decimal(min(4 * filled, 20))
    return QualityScore(
        _two_places(title_points), _two_places(description_points), image_points, attribute_points
    )


def _two_places(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


# --- the offline enricher ------------------------------------------------------------------------

_CONNECTORS = frozenset(["and", "for", "in", "of", "on", "or", "the", "to", "with", "&", "+", "-", "–", "/"])
_STOPWORDS = frozenset(["a", "an", "and", "for", "in", "of", "on", "or", "the", "to", "with", "x"])


def listing_title(product: EnrichmentInput, limit: int = TITLE_MAX_CHARS) -> str:
    """The supplier title led by the brand, cut at a word boundary to fit ``limit``."""
    title = (
        product.title
        or " ".join(filter(None, [product.brand, product.mpn]))
        or html.unescape(visible_text(product.description or ""))
    )
    if product.brand and product.brand.casefold() not in title.casefold():
        title = f"{product.brand} {title}"
    return fit_words(title, limit)


def fit_words(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, not ending on a connector."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    words = text[: limit + 1].split(" ")[:-1] or [text[:limit]]
    while len(words) > 1 and (words[-1].lower() in _CONNECTORS or not re.search(r"\w", words[-1])):
        words.pop()
    return " ".join(words).rstrip(" ,;:-–/&")


def offline_enrich(product: EnrichmentInput) -> EnrichmentOutput:
    """Deterministic listing content from the supplier's own facts: no model, no invention.

    Raises InvalidOutput when there is nothing to work from (no title and no description).
    """
    if not product.has_content:
        raise InvalidOutput(NOTHING_TO_ENRICH)
    title = listing_title(product)
    facts = [
        f"{label}: {value}."
        for label, value in (
            ("Brand", product.brand),
            ("Model", product.mpn),
            ("Condition", product.condition if product.condition != "unknown" else None),
        )
        if value
    ]
    text = html.unescape(visible_text(product.description or "")) or f"{title}."
    description = "\n\n".join([text, " ".join(facts)]) if facts else text
    attributes = dict(product.attributes)
    for name, value in (("Brand", product.brand), ("MPN", product.mpn), ("GTIN", product.gtin)):
        if value:
            attributes.setdefault(name, value)
    words = re.findall(r"[\w-]+", " ".join(filter(None, [product.brand, title, *product.categories[-1:]])))
    keywords = [w.lower() for w in words if len(w) > 2 and w.lower() not in _STOPWORDS]
    return EnrichmentOutput(
        title=title,
        description=description,
        category=product.categories[-1] if product.categories else "",
        attributes=[Attribute(name=n, value=v) for n, v in list(attributes.items())[:MAX_ATTRIBUTES]],
        condition=product.condition,
        keywords=keywords,
    )


def store_content(row: Mapping[str, Any]) -> dict[str, Any]:
    """The content columns of a blocked supplier's row, from its ``supplier_products`` row: the
    store's own words, unabridged. A title longer than a listing title may be is left out
    (LaunchLock then reads, and flags, the store's title)."""
    title = row.get("title")
    categories = [c for c in row.get("categories") or () if c]
    return {
        "title": title if title and len(title) <= TITLE_MAX_CHARS else None,
        "description": row.get("description"),
        "category": categories[-1] if categories else None,
        "condition": row.get("condition") or "unknown",
        "attributes": dict(source_attributes((row.get("raw") or {}).get("attributes"))),
        "keywords": [],
    }


# --- our SKU -------------------------------------------------------------------------------------

SKU_MAX_CHARS = 50  # the strictest channel's SKU / reference limit; products.sku has the same CHECK
_SKU_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def product_sku(supplier_code: str, supplier_sku: str) -> str:
    """Our SKU for a supplier product: ``<supplier>-<their sku>`` when that is short and plain,
    else a readable prefix plus a hash of both, so it stays unique and within 50 characters."""
    plain = f"{supplier_code}-{supplier_sku}"
    if len(plain) <= SKU_MAX_CHARS and not _SKU_UNSAFE.search(supplier_sku):
        return plain
    digest = hashlib.sha256(f"{supplier_code}\n{supplier_sku}".encode()).hexdigest()[:12]
    readable = _SKU_UNSAFE.sub("-", supplier_sku).strip("-")
    prefix = f"{supplier_code[:16]}-{readable}"[: SKU_MAX_CHARS - len(digest) - 1].rstrip("-")
    return f"{prefix}-{digest}"
