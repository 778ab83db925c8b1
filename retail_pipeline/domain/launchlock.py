"""LaunchLock: the rules a product must pass before it may be listed (seed 000). Pure: no I/O.

Each rule is a small function ``(ProductFacts, LaunchLockConfig) -> RuleResult``; ``evaluate`` runs
them all, so a verdict always lists every reason a product is held back, not just the first.

Policy choices the rules encode:

- Enrichment-blocked ≠ listing-blocked. A supplier blocked from enrichment (Cash Converters, seed 002)
  keeps the store's own title, description and category, so its products are judged on those. Only a
  *disabled* supplier (``suppliers.enabled = false``) blocks listing.
- Banned words match whole words and phrases, case-insensitively: "fake" bans "Fake Rolex" and
  "fake-leather" but not "Fakespeare". A trailing ``*`` in the list matches any word continuation
  ("fuck*" also bans "fucking"). Title and description are both checked: marketplaces refuse
  "replica" wherever it appears.
- Rules that cannot apply pass and say so (no GTIN given; no price for the margin rule), so one
  missing fact is counted once among the blockers, under the rule that names it.
- Sold out is a business state, not a fault. ``in_stock`` keeps a product off the channels like any
  rule, but it is a shelf rule: the partition gate, which exists to catch bad data or a bad prompt,
  does not count products that fail only shelf rules (after a good day of sales most may be sold out).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from retail_pipeline.domain import pricing
from retail_pipeline.domain.pricing import PricingPolicy
from retail_pipeline.domain.products import gtin_digits, is_valid_gtin

# Bump when a rule's meaning changes: stored verdicts with another version are re-written.
RULES_VERSION = "launchlock-1"

CENT = Decimal("0.01")

DEFAULT_BANNED_WORDS: tuple[str, ...] = (
    # counterfeit goods: refused by every channel we sell on
    "replica",
    "fake",
    "counterfeit",
    "knockoff",
    "knock-off",
    "bootleg",
    "copy of",
    # bulk lots are not single listings
    "wholesale lot",
    # profanity
    "fuck*",
    "motherfuck*",
    "shit",
    "shitty",
    "bullshit",
    "cunt*",
)


class LaunchLockConfig(BaseModel):
    """Thresholds of the rules and of the partition gate. Defaults are the business's starting point."""

    model_config = ConfigDict(frozen=True)

    title_min_chars: int = Field(default=10, ge=1)
    title_max_chars: int = Field(default=80, ge=1, description="The strictest channels cap titles at 80.")
    description_min_chars: int = Field(default=80, ge=0, description="Visible text, HTML tags excluded.")
    banned_words: tuple[str, ...] = DEFAULT_BANNED_WORDS
    allowed_categories: frozenset[str] | None = Field(
        default=None, description="Mapped categories (case-insensitive); None = any non-empty category."
    )
    min_images: int = Field(default=1, ge=0, description="Images actually downloaded, not just URLs.")
    sellable_availability: frozenset[str] = frozenset({"in_stock", "limited"})
    # Reference pricing for the margin rule (domain/pricing.py does the arithmetic): sell = cost ×
    # (1 + markup); a sale costs fee_rate of the price plus fixed_fee; the margin must clear both floors.
    markup_rate: Decimal = Field(default=Decimal("0.30"), ge=0)
    fee_rate: Decimal = Field(default=Decimal("0.10"), ge=0, lt=1)
    fixed_fee: Decimal = Field(default=Decimal("0.50"), ge=0)
    min_margin: Decimal = Field(default=Decimal("5.00"), ge=0, description="Per sale, supplier currency.")
    min_margin_rate: Decimal = Field(default=Decimal("0.10"), ge=0, lt=1, description="Share of sell price.")
    max_failure_rate: float = Field(
        default=0.5, ge=0, le=1, description="Gate: above this share of faulty products, drafts wait."
    )

    @field_serializer("allowed_categories", "sellable_availability")
    def _sorted(self, values: frozenset[str] | None) -> list[str] | None:
        # Set order varies between processes; a stable dump keeps input_hash stable.
        return None if values is None else sorted(values)

    @model_validator(mode="after")
    def _consistent(self) -> LaunchLockConfig:
        if self.title_min_chars > self.title_max_chars:
            raise ValueError("title_min_chars must not exceed title_max_chars")
        if self.fee_rate + self.min_margin_rate >= 1:
            raise ValueError("fee_rate + min_margin_rate must be below 1, or no price clears the margin")
        return self


@dataclass(frozen=True)
class ProductFacts:
    """Everything the rules look at for one product: the enriched row and its supplier's facts."""

    product_id: int
    sku: str
    enrichment_status: str  # products.status: enriched | failed | blocked
    title: str | None = None
    description: str | None = None
    category: str | None = None
    supplier_title: str | None = None
    supplier_description: str | None = None
    supplier_categories: tuple[str, ...] = ()  # breadcrumb, most general first
    price: Decimal | None = None  # supplier price = our cost
    currency: str | None = None
    gtin: str | None = None
    stored_images: int = 0
    removed: bool = False
    supplier_enabled: bool = True
    availability: str = "unknown"
    stock_quantity: int | None = None  # ours (products.stock_quantity)
    supplier_stock_quantity: int | None = None

    @property
    def uses_store_content(self) -> bool:
        return self.enrichment_status == "blocked"

    @property
    def listing_title(self) -> str | None:
        return self.title or (self.supplier_title if self.uses_store_content else None)

    @property
    def listing_description(self) -> str | None:
        return self.description or (self.supplier_description if self.uses_store_content else None)

    @property
    def listing_category(self) -> str | None:
        store_category = self.supplier_categories[-1] if self.supplier_categories else None
        return self.category or (store_category if self.uses_store_content else None)

    @property
    def units(self) -> int | None:
        """Units we can sell: our own count once we keep one, else the supplier's."""
        return self.stock_quantity if self.stock_quantity is not None else self.supplier_stock_quantity


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    results: tuple[RuleResult, ...]

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    @property
    def failed_rules(self) -> list[str]:
        return [r.rule for r in self.failures]

    @property
    def reasons(self) -> dict[str, str]:
        """rule -> reason for each failed rule (what validation_results.details stores)."""
        return {r.rule: r.reason for r in self.failures}


def _pass(rule: str, reason: str, **details: Any) -> RuleResult:
    return RuleResult(rule, True, reason, details)


def _fail(rule: str, reason: str, **details: Any) -> RuleResult:
    return RuleResult(rule, False, reason, details)


# --- pricing --------------------------------------------------------------------------------------


def pricing_policy(config: LaunchLockConfig) -> PricingPolicy:
    """LaunchLock judges margins with the pricing module's arithmetic, on its own reference fees."""
    return PricingPolicy(
        markup_rate=config.markup_rate,
        fee_rate=config.fee_rate,
        fixed_fee=config.fixed_fee,
        min_margin=config.min_margin,
        min_margin_rate=config.min_margin_rate,
    )


def sell_price(cost: Decimal, config: LaunchLockConfig) -> Decimal:
    return pricing.quote(cost, pricing_policy(config)).price


def margin(price: Decimal, cost: Decimal, config: LaunchLockConfig) -> Decimal:
    """What a sale at ``price`` leaves after the cost and the channel's fees."""
    return pricing.margin(price, cost, pricing_policy(config))


def minimum_sell_price(cost: Decimal, config: LaunchLockConfig) -> Decimal:
    """The lowest price (whole cents) whose margin clears both the absolute and the relative floor."""
    return pricing.minimum_price(cost, pricing_policy(config))


# --- the rules ------------------------------------------------------------------------------------


def check_enriched(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    if product.enrichment_status == "failed":
        return _fail("enriched", "enrichment failed: there is no listing content to check")
    if product.uses_store_content:
        return _pass("enriched", "supplier blocked from enrichment: the store's own content is used")
    return _pass("enriched", "enriched")


def check_price(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    if product.price is None:
        return _fail("price", "the supplier shows no price")
    if product.price <= 0:
        return _fail("price", f"supplier price {product.price} is not above zero", price=str(product.price))
    return _pass("price", f"supplier price {product.price} {product.currency or ''}".strip())


def check_margin(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    if product.price is None or product.price <= 0:
        return _pass("margin", "not applicable: no usable price (see the price rule)")
    cost = product.price
    price, floor = sell_price(cost, config), minimum_sell_price(cost, config)
    details = {
        "cost": str(cost),
        "sell_price": str(price),
        "minimum_sell_price": str(floor),
        "margin": str(margin(price, cost, config).quantize(CENT)),
    }
    if price < floor:
        return _fail(
            "margin", f"sell price {price} is below the {floor} needed for the minimum margin", **details
        )
    return _pass("margin", f"sell price {price} clears the minimum {floor}", **details)


def check_title_length(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    title = (product.listing_title or "").strip()
    bounds = f"{config.title_min_chars}..{config.title_max_chars}"
    if not config.title_min_chars <= len(title) <= config.title_max_chars:
        return _fail("title_length", f"title has {len(title)} characters, needs {bounds}", length=len(title))
    return _pass("title_length", f"title has {len(title)} characters", length=len(title))


def check_banned_words(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    found = sorted(
        {
            hit
            for text in (product.listing_title, product.listing_description)
            for hit in banned_words_in(text or "", config.banned_words)
        }
    )
    if found:
        return _fail("banned_words", f"banned wording: {', '.join(found)}", words=found)
    return _pass("banned_words", "no banned wording")


def check_images(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    if product.stored_images < config.min_images:
        return _fail(
            "images",
            f"{product.stored_images} image(s) downloaded, needs {config.min_images}",
            stored=product.stored_images,
        )
    return _pass("images", f"{product.stored_images} image(s) downloaded", stored=product.stored_images)


def check_category(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    category = (product.listing_category or "").strip()
    if not category:
        return _fail("category", "no category")
    if config.allowed_categories is not None and category.casefold() not in {
        c.casefold() for c in config.allowed_categories
    }:
        return _fail("category", f"category {category!r} is not mapped", category=category)
    return _pass("category", f"category {category!r}", category=category)


def check_description(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    length = len(visible_text(product.listing_description or ""))
    if length < config.description_min_chars:
        return _fail(
            "description",
            f"description has {length} characters, needs at least {config.description_min_chars}",
            length=length,
        )
    return _pass("description", f"description has {length} characters", length=length)


def check_gtin(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    if not (product.gtin or "").strip():
        return _pass("gtin", "no GTIN given")
    if not is_valid_gtin(product.gtin):
        return _fail("gtin", f"GTIN {product.gtin!r} is not a valid GTIN-8/12/13/14", gtin=product.gtin)
    return _pass("gtin", "GTIN check digit is valid", gtin=gtin_digits(product.gtin))


def check_not_removed(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    if product.removed:
        return _fail("not_removed", "the supplier no longer lists this product")
    return _pass("not_removed", "still listed by the supplier")


def check_supplier_enabled(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    if not product.supplier_enabled:
        return _fail("supplier_enabled", "the supplier is disabled")
    return _pass("supplier_enabled", "supplier enabled")


def check_in_stock(product: ProductFacts, config: LaunchLockConfig) -> RuleResult:
    units, availability = product.units, product.availability
    if units == 0:
        return _fail("in_stock", "no units in stock", units=0, availability=availability)
    # A count without a stated availability is still a fact about the shelf.
    if availability in config.sellable_availability or (availability == "unknown" and units):
        # No count in the details: a sale moves it, and a verdict that has not changed is not rewritten.
        return _pass("in_stock", f"availability {availability}", availability=availability)
    return _fail("in_stock", f"availability is {availability}", availability=availability)


RULES: tuple[Callable[[ProductFacts, LaunchLockConfig], RuleResult], ...] = (
    check_enriched,
    check_price,
    check_margin,
    check_title_length,
    check_banned_words,
    check_images,
    check_category,
    check_description,
    check_gtin,
    check_not_removed,
    check_supplier_enabled,
    check_in_stock,
)

DEFAULT_CONFIG = LaunchLockConfig()

# Rules about stock, not data: failing them keeps a product off the channels, but says nothing about
# whether the batch is broken (see the module docstring).
SHELF_RULES: frozenset[str] = frozenset({"in_stock"})


def evaluate(product: ProductFacts, config: LaunchLockConfig = DEFAULT_CONFIG) -> Verdict:
    results = tuple(rule(product, config) for rule in RULES)
    return Verdict(passed=all(r.passed for r in results), results=results)


def input_hash(product: ProductFacts, config: LaunchLockConfig) -> str:
    """Fingerprint of what a verdict was computed from: the facts, the config and the rules version."""
    rule_config = config.model_dump(mode="json", exclude={"max_failure_rate"})  # the gate is not a rule
    facts = asdict(product)
    # The rules only ask whether units are known and whether any are left, so a sale that leaves
    # some does not change the fingerprint (orders move stock between every validation).
    units = product.units
    facts.pop("stock_quantity"), facts.pop("supplier_stock_quantity")
    facts["units"] = None if units is None else min(units, 1)
    payload = json.dumps(
        {"facts": facts, "config": rule_config, "rules": RULES_VERSION},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def gate_passes(checked: int, failed: int, max_failure_rate: float) -> bool:
    """The partition gate: at most ``max_failure_rate`` of the checked products may be faulty (``failed``
    counts faulty products only; sold-out ones are checked, not failed)."""
    return checked == 0 or failed / checked <= max_failure_rate


# --- helpers the rules share ----------------------------------------------------------------------

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def visible_text(text: str) -> str:
    """Text as a buyer reads it: tags dropped, runs of whitespace as one space."""
    return _SPACE.sub(" ", _TAG.sub(" ", text)).strip()


@lru_cache(maxsize=16)
def _banned_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    alternatives = []
    for word in words:
        stem, open_ended = (word[:-1], True) if word.endswith("*") else (word, False)
        # Inner whitespace may be any run of spaces; a phrase still has to appear whole.
        phrase = r"\s+".join(re.escape(part) for part in stem.split())
        if phrase:
            alternatives.append(phrase + (r"\w*" if open_ended else ""))
    if not alternatives:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", re.IGNORECASE)


def banned_words_in(text: str, words: tuple[str, ...]) -> list[str]:
    """The banned words and phrases present in ``text``, lower-cased, as they appear."""
    pattern = _banned_pattern(words)
    if pattern is None:
        return []
    return [_SPACE.sub(" ", m.group(0).lower()) for m in pattern.finditer(text)]
