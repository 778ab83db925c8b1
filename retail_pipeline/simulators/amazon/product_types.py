"""Amazon product types over the shared taxonomy (`taxonomy_data`): a leaf is a product type named in
UPPER_SNAKE (its branch's name in front where two leaves share a name), its aspects attributes of the
product type's JSON Schema, in Amazon's attribute shape (`[{value, language_tag, marketplace_id}]`),
with the attributes every offer listing takes (title, description, condition, identifiers, offer,
fulfillment availability, images). The schemas use Amazon's meta-schema vocabulary (editable, hidden,
enumNames, selectors) beside standard JSON Schema keywords, as the real ones do."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from ..taxonomy_data import Aspect, Node, leaves

META_SCHEMA = "https://schemas.amazon.com/selling-partners/definitions/product-types/meta-schema/v1"
SCHEMA_ID = "https://schemas.amazon.com/selling-partners/definitions/product-types/schema/v1/{}"
CONDITION_TYPES = (
    "new_new", "new_open_box", "new_oem", "refurbished_refurbished", "used_like_new", "used_very_good",
    "used_good", "used_acceptable", "collectible_like_new", "collectible_very_good", "collectible_good",
    "collectible_acceptable", "club_club",
)  # fmt: skip
# Amazon's own names for the shared aspects (the rest: snake_case of the aspect's name).
ATTRIBUTE_NAMES = {"Brand": "brand", "Model": "model_number", "MPN": "part_number", "Colour": "color"}
# Present on every product type, required for an offer listing.
OFFER_REQUIRED = ("item_name", "brand", "condition_type", "purchasable_offer", "fulfillment_availability")


def upper_snake(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()


def attribute_name(aspect: Aspect) -> str:
    return ATTRIBUTE_NAMES.get(aspect.name) or upper_snake(aspect.name).lower()


@cache
def product_types() -> dict[str, Node]:
    """Product type name → its leaf."""
    counts: dict[str, int] = {}
    for leaf in leaves():
        counts[upper_snake(leaf.name)] = counts.get(upper_snake(leaf.name), 0) + 1
    found = {}
    for leaf in leaves():
        name = upper_snake(leaf.name)
        if counts[name] > 1:
            name = upper_snake(f"{leaf.path[-2]} {leaf.name}")
        found[name] = leaf
    return found


def name_of(node: Node) -> str:
    return next(name for name, leaf in product_types().items() if leaf.key == node.key)


def _values(title: str, value: dict[str, Any], *, max_items: int = 1, text: bool = True) -> dict[str, Any]:
    item_props: dict[str, Any] = {"value": value, "marketplace_id": {"type": "string", "editable": False}}
    if text:
        item_props["language_tag"] = {"type": "string", "editable": False}
    return {
        "title": title,
        "type": "array",
        "minItems": 1,
        "maxItems": max_items,
        "minUniqueItems": 1,
        "selectors": ["marketplace_id", "language_tag"] if text else ["marketplace_id"],
        "items": {
            "type": "object",
            "required": ["value"],
            "additionalProperties": False,
            "properties": item_props,
        },
    }


def _objects(
    title: str, required: list[str], properties: dict[str, Any], max_items: int = 1
) -> dict[str, Any]:
    return {
        "title": title,
        "type": "array",
        "minItems": 1,
        "maxItems": max_items,
        "items": {
            "type": "object",
            "required": required,
            "additionalProperties": False,
            "properties": {**properties, "marketplace_id": {"type": "string", "editable": False}},
        },
    }


def _image(title: str) -> dict[str, Any]:
    location = {"type": "string", "format": "uri", "pattern": "^https?://", "maxLength": 1000}
    return _objects(title, ["media_location"], {"media_location": location})


@cache
def schema(product_type: str) -> dict[str, Any]:
    """The product type's JSON Schema (as `schema.link.resource` serves it)."""
    leaf = product_types()[product_type]
    properties: dict[str, Any] = {
        "item_name": _values("Item Name", {"type": "string", "minLength": 1, "maxLength": 200}),
        "brand": _values("Brand Name", {"type": "string", "minLength": 1, "maxLength": 100}),
        "product_description": _values("Product Description", {"type": "string", "maxLength": 2000}),
        "bullet_point": _values("Bullet Point", {"type": "string", "maxLength": 500}, max_items=5),
        "condition_type": _values(
            "Condition",
            {"type": "string", "enum": list(CONDITION_TYPES), "enumNames": list(CONDITION_TYPES)},
            text=False,
        ),
        "externally_assigned_product_identifier": _objects(
            "External Product ID",
            ["type", "value"],
            {
                "type": {"type": "string", "enum": ["ean", "upc", "gtin", "isbn"]},
                "value": {"type": "string", "pattern": "^[0-9]{8,14}$"},
            },
        ),  # fmt: skip
        "supplier_declared_has_product_identifier_exemption": _values(
            "Product Identifier Exemption", {"type": "boolean"}, text=False
        ),
        "purchasable_offer": _objects(
            "Purchasable Offer",
            ["currency", "our_price"],
            {
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "our_price": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["schedule"],
                        "additionalProperties": False,
                        "properties": {
                            "schedule": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": 1,
                                "items": {
                                    "type": "object",
                                    "required": ["value_with_tax"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "value_with_tax": {"type": "number", "exclusiveMinimum": 0}
                                    },
                                },
                            }
                        },
                    },
                },
            },
        ),  # fmt: skip
        "fulfillment_availability": {
            "title": "Fulfillment Availability",
            "type": "array",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["fulfillment_channel_code", "quantity"],
                "additionalProperties": False,
                "properties": {
                    "fulfillment_channel_code": {"type": "string", "enum": ["DEFAULT"]},
                    "quantity": {"type": "integer", "minimum": 0},
                },
            },
        },
        "main_product_image_locator": _image("Main Image Location"),
        **{f"other_product_image_locator_{n}": _image(f"Other Image Location {n}") for n in range(1, 9)},
    }
    required = list(OFFER_REQUIRED)
    for aspect in leaf.aspects:
        name = attribute_name(aspect)
        if name in properties and name != "brand":
            continue
        value: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 200}
        if aspect.values:
            value |= {"enum": list(aspect.values), "enumNames": list(aspect.values)}
        properties[name] = _values(aspect.name, value, max_items=5 if aspect.multi else 1)
        if aspect.required and name not in required:
            required.append(name)
    return {
        "$schema": META_SCHEMA,
        "$id": SCHEMA_ID.format(product_type),
        "title": f"Amazon Product Type Definition for {product_type}",
        "description": " > ".join(leaf.path),
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def property_groups(product_type: str) -> dict[str, dict[str, Any]]:
    names = list(schema(product_type)["properties"])
    offer = ["condition_type", "purchasable_offer", "fulfillment_availability"]
    images = [n for n in names if n.endswith("image_locator") or "image_locator_" in n]
    return {
        "offer": {"title": "Offer", "description": "Offer details", "propertyNames": offer},
        "images": {"title": "Images", "description": "Image locations", "propertyNames": images},
        "product_details": {
            "title": "Product Details",
            "description": "Product facts",
            "propertyNames": [n for n in names if n not in offer and n not in images],
        },
    }
