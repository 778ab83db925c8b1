"""Listing drafts as pure functions: priced, mapped and checked by the channel's `ListingPolicy`.

No I/O. The `listing_drafts` asset reads products, calls `build_draft`, and stores the result; the
same rules run again in the channel clients' own `validate`, but these run first, before any call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from retail_pipeline.domain.fx import FxRates, MissingRate
from retail_pipeline.domain.pricing import PricingPolicy, quote

RULES_VERSION = "listings-1"


@dataclass(frozen=True)
class ListingPolicy:
    """What one channel needs of a listing: its currency, pricing policy (its published selling fees,
    success/final-value fee + payment processing, as rate + fixed per sale), documented limits, and
    its own fields. Each channel module builds one; a deployment may build another."""

    channel: str
    currency: str
    pricing: PricingPolicy
    fields: Callable[[ProductForListing], dict[str, Any]]  # the channel's own fields for a product
    max_title: int | None = None
    max_photos: int | None = None
    min_photos: int = 1
    max_description: int | None = None
    single_unit_unless_new: bool = False  # several units only for new items
    checks: Callable[[Mapping[str, Any]], list[str]] | None = None  # the channel's own rules


@dataclass(frozen=True)
class ProductForListing:
    """One LaunchLock-passed product, as the draft needs it."""

    product_id: int
    sku: str
    title: str
    description: str
    category: str | None
    condition: str | None
    cost: Decimal | None
    cost_currency: str | None
    quantity: int
    brand: str | None = None
    gtin: str | None = None
    mpn: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()
    photos: tuple[dict[str, str], ...] = ()  # {"sha256", "rel_path", "content_type"}
    # The channel's own category and the attributes filled for it (`channel_categories` asset); None
    # where the channel has no taxonomy. `category_problems` block the draft: no category chosen yet
    # (an operator's pick is pending) or required attributes missing, each named.
    channel_category: str | None = None
    channel_attributes: dict[str, Any] = field(default_factory=dict)
    category_problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Draft:
    product_id: int
    channel: str
    sku: str
    title: str
    description: str
    price: Decimal
    currency: str
    quantity: int
    condition: str
    pricing: dict[str, Any]
    payload: dict[
        str, Any
    ]  # {"fields": channel fields, "brand", "gtin", "mpn", "photos": [...], "description"}
    errors: list[str]

    @property
    def status(self) -> str:
        return "invalid" if self.errors else "valid"

    def input_hash(self) -> str:
        body = {
            "rules": RULES_VERSION,
            "title": self.title,
            "price": str(self.price),
            "currency": self.currency,
            "quantity": self.quantity,
            "pricing": self.pricing,
            "payload": self.payload,
            "errors": self.errors,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def category_key(category: str | None) -> str:
    return (category or "").strip().lower()


def listing_condition(product: ProductForListing) -> str:
    return product.condition if product.condition in ("new", "used", "refurbished") else "used"


def check_rules(rules: ListingPolicy, draft_values: dict[str, Any]) -> list[str]:
    """The channel's documented rules, checked locally before any call."""
    channel = rules.channel
    errors: list[str] = []
    title = draft_values["title"]
    photos = draft_values["photos"]
    if not title.strip():
        errors.append("title is required")
    elif rules.max_title and len(title) > rules.max_title:
        errors.append(f"title is {len(title)} characters; {channel} allows {rules.max_title}")
    if not draft_values["description"].strip():
        errors.append("description is required")
    if draft_values["price"] is None or draft_values["price"] <= 0:
        errors.append("price must be above 0")
    if draft_values["quantity"] < 1:
        errors.append("quantity must be at least 1")
    if len(photos) < rules.min_photos:
        errors.append(f"{channel} needs at least {rules.min_photos} photo")
    if rules.max_photos and len(photos) > rules.max_photos:
        errors.append(f"{len(photos)} photos; {channel} allows {rules.max_photos}")
    if rules.max_description and len(draft_values["description"]) > rules.max_description:
        errors.append(f"description is too long for {channel}")
    if rules.checks is not None:
        errors += rules.checks(draft_values)
    return errors


def build_draft(rules: ListingPolicy, product: ProductForListing, rates: FxRates | None = None) -> Draft:
    """`rates`: the reference rates of the day priced for (latest on or before it); a supplier cost in
    another currency is converted with them, the rate, its date and source kept in `pricing`."""
    errors: list[str] = []
    price = Decimal("0")
    pricing: dict[str, Any] = {}
    cost = product.cost
    if cost is None:
        errors.append("no supplier price: cannot price")
    else:
        if product.cost_currency and product.cost_currency != rules.currency:
            try:
                if rates is None:
                    raise MissingRate(product.cost_currency, rules.currency, None)
                converted = rates.convert(cost, product.cost_currency, rules.currency)
            except MissingRate as missing:
                errors.append(str(missing))
                cost = None
            else:
                pricing.update(converted.record(product.cost_currency, rules.currency))
                pricing["supplier_cost"] = str(cost)
                cost = converted.amount
        if cost is not None:
            q = quote(cost, rules.pricing)
            price = q.price
            pricing.update(q.as_dict())
            pricing["policy"] = rules.pricing.model_dump(mode="json")
    fields = rules.fields(product)
    quantity = product.quantity
    if rules.single_unit_unless_new and listing_condition(product) != "new":
        quantity = min(quantity, 1)
    photos = [dict(p) for p in product.photos]
    values = {
        "sku": product.sku,
        "title": product.title,
        "description": product.description,
        "price": price if cost is not None else None,
        "quantity": quantity,
        "fields": fields,
        "photos": photos,
    }
    errors += check_rules(rules, values)
    errors += product.category_problems
    payload = {
        "fields": fields,
        "photos": photos,
        "brand": product.brand,
        "gtin": product.gtin,
        "mpn": product.mpn,
        "description": product.description,
        "condition": listing_condition(product),
    }
    return Draft(
        product_id=product.product_id,
        channel=rules.channel,
        sku=product.sku,
        title=product.title,
        description=product.description,
        price=price,
        currency=rules.currency,
        quantity=quantity,
        condition=listing_condition(product),
        pricing=pricing,
        payload=payload,
        errors=errors,
    )
