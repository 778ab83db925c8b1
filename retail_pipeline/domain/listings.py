"""Listing drafts as pure functions: per-channel pricing, channel field mapping, channel rules.

No I/O. The `listing_drafts` asset reads products, calls `build_draft`, and stores the result; the
same rules run again in the channel clients' own `validate`, but these run first, before any call.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from retail_pipeline.domain.pricing import PricingPolicy, quote

CHANNELS = ("trademe", "ebay", "shopify", "reverb")
RULES_VERSION = "listings-1"


@dataclass(frozen=True)
class ChannelRules:
    """What one channel needs: its currency, pricing policy and documented limits."""

    channel: str
    currency: str
    pricing: PricingPolicy
    max_title: int | None = None
    max_photos: int | None = None
    min_photos: int = 1
    fx_from: dict[str, Decimal] = field(default_factory=dict)  # supplier currency → channel currency


# Fees are each channel's published selling fees (success/final-value fee + payment processing),
# approximated as rate + fixed per sale. Overridable per deployment by building other ChannelRules.
DEFAULT_RULES: dict[str, ChannelRules] = {
    "trademe": ChannelRules(
        "trademe",
        "NZD",
        PricingPolicy(
            fee_rate=Decimal("0.079"), fixed_fee=Decimal("0"), shipping_cost=Decimal("0"), rounding="charm_99"
        ),
        max_title=80,
        max_photos=20,
    ),
    "ebay": ChannelRules(
        "ebay",
        "USD",
        PricingPolicy(
            fee_rate=Decimal("0.1325"),
            fixed_fee=Decimal("0.30"),
            shipping_cost=Decimal("0"),
            rounding="charm_99",
        ),
        max_title=80,
        max_photos=24,
        fx_from={"NZD": Decimal("0.59")},
    ),
    "shopify": ChannelRules(
        "shopify",
        "NZD",
        PricingPolicy(
            fee_rate=Decimal("0.029"), fixed_fee=Decimal("0.30"), shipping_cost=Decimal("0"), rounding="whole"
        ),
        max_title=255,
        max_photos=250,
        min_photos=0,
    ),
    "reverb": ChannelRules(
        "reverb",
        "NZD",
        PricingPolicy(
            fee_rate=Decimal("0.0819"),
            fixed_fee=Decimal("0.49"),
            shipping_cost=Decimal("0"),
            rounding="charm_99",
        ),
        max_title=255,
        max_photos=25,
    ),
}

# Our categories → channel categories. Unknown categories fall back to a generic one per channel.
TRADEME_CATEGORIES = {"headphones": "0002-0356-", "laptops": "0002-0358-", "guitars": "0005-0384-"}
TRADEME_DEFAULT_CATEGORY = "0002-"
EBAY_CATEGORIES = {"headphones": "112529", "laptops": "177", "guitars": "33034"}
EBAY_DEFAULT_CATEGORY = "9355"
REVERB_CATEGORIES = {
    "guitars": "dfd39027-d134-4353-b9e4-57dc6be791b9",
}
REVERB_DEFAULT_CATEGORY = "dfd39027-d134-4353-b9e4-57dc6be791b9"
REVERB_CONDITIONS = {
    "new": "7c3f45de-2ae0-4c81-8400-fdb6b1d74890",  # Brand New
    "refurbished": "df268ad1-c462-4ba6-b6db-e007e23922ea",  # Excellent
    "used": "f7a3f48c-972a-44c6-b01a-0cd27488d3f6",  # Good
}


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


def _key(category: str | None) -> str:
    return (category or "").strip().lower()


def _condition(product: ProductForListing) -> str:
    return product.condition if product.condition in ("new", "used", "refurbished") else "used"


def map_fields(channel: str, product: ProductForListing) -> dict[str, Any]:
    """The channel's own fields for this product."""
    condition = _condition(product)
    category = _key(product.category)
    if channel == "trademe":
        return {
            "Category": TRADEME_CATEGORIES.get(category, TRADEME_DEFAULT_CATEGORY),
            "Duration": 7,
            "Pickup": 1,  # pick-up allowed
            "PaymentMethods": [1, 2],  # bank deposit, credit card
            "ShippingOptions": [{"Type": 3}],  # free shipping (the price includes it)
        }
    if channel == "ebay":
        aspects: dict[str, Any] = {}
        if product.brand:
            aspects["Brand"] = product.brand
        if product.mpn:
            aspects["MPN"] = product.mpn
        for name, value in sorted(product.attributes.items()):
            if isinstance(value, str | int | float) and name not in aspects and len(name) <= 40:
                aspects[name[:1].upper() + name[1:]] = str(value)[:65]
        return {"categoryId": EBAY_CATEGORIES.get(category, EBAY_DEFAULT_CATEGORY), "aspects": aspects}
    if channel == "shopify":
        tags = sorted({t for t in (*product.keywords, product.brand or "", product.category or "") if t})[
            :200
        ]
        return {"product_type": product.category or "General", "tags": tags, "vendor": product.brand}
    if channel == "reverb":
        return {
            "make": product.brand,
            "model": product.mpn or (product.attributes.get("model") if product.attributes else None),
            "condition_uuid": REVERB_CONDITIONS[condition],
            "category_uuids": [REVERB_CATEGORIES.get(category, REVERB_DEFAULT_CATEGORY)],
        }
    raise ValueError(f"unknown channel {channel!r}")


def check_rules(channel: str, rules: ChannelRules, draft_values: dict[str, Any]) -> list[str]:
    """The channel's documented rules, checked locally before any call."""
    errors: list[str] = []
    title = draft_values["title"]
    fields = draft_values["fields"]
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
    if channel == "ebay":
        if not fields["aspects"].get("Brand"):
            errors.append("item specific Brand is required")
        if len(draft_values["sku"]) > 50:
            errors.append("SKU must be 1 to 50 characters")
    if channel == "reverb":
        if not fields.get("make"):
            errors.append("make is required (the brand)")
        if not fields.get("model"):
            errors.append("model is required (the MPN or a model attribute)")
    if channel == "trademe" and len(draft_values["description"]) > 2048 * 10:
        errors.append("description is too long for Trade Me")
    return errors


def build_draft(channel: str, product: ProductForListing, rules: ChannelRules | None = None) -> Draft:
    rules = rules or DEFAULT_RULES[channel]
    errors: list[str] = []
    price = Decimal("0")
    pricing: dict[str, Any] = {}
    cost = product.cost
    if cost is None:
        errors.append("no supplier price: cannot price")
    else:
        if product.cost_currency and product.cost_currency != rules.currency:
            rate = rules.fx_from.get(product.cost_currency)
            if rate is None:
                errors.append(f"no exchange rate {product.cost_currency}→{rules.currency}")
                cost = None
            else:
                pricing["fx_rate"] = str(rate)
                pricing["supplier_cost"] = str(cost)
                cost = (cost * rate).quantize(Decimal("0.01"))
        if cost is not None:
            q = quote(cost, rules.pricing)
            price = q.price
            pricing.update(q.as_dict())
            pricing["policy"] = rules.pricing.model_dump(mode="json")
    fields = map_fields(channel, product)
    quantity = product.quantity
    if channel == "reverb" and _condition(product) != "new":
        quantity = min(quantity, 1)  # Reverb: several units only for Brand New / B-Stock / Mint
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
    errors += check_rules(channel, rules, values)
    payload = {
        "fields": fields,
        "photos": photos,
        "brand": product.brand,
        "gtin": product.gtin,
        "mpn": product.mpn,
        "description": product.description,
        "condition": _condition(product),
    }
    return Draft(
        product_id=product.product_id,
        channel=channel,
        sku=product.sku,
        title=product.title,
        description=product.description,
        price=price,
        currency=rules.currency,
        quantity=quantity,
        condition=_condition(product),
        pricing=pricing,
        payload=payload,
        errors=errors,
    )
