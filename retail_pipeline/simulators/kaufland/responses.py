"""Kaufland's wire format: every object as the OpenAPI document describes it (all its required fields,
nothing it does not define), single results as `{"data": …}`, lists as `{"data": [...], "pagination":
{offset, limit, total}}`, times in ISO 8601 with Z."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .models import (
    CURRENCY,
    ROOT_ID,
    Attribute,
    Category,
    KauflandBackend,
    OrderUnit,
    ProductData,
    Ticket,
    TicketMessage,
    Unit,
    categories,
)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def collection(items: list[dict[str, Any]], offset: int, limit: int, total: int) -> dict[str, Any]:
    return {"data": items, "pagination": {"offset": offset, "limit": limit, "total": total}}


def category_json(category: Category) -> dict[str, Any]:
    node = category.node
    return {
        "id_category": category.id,
        "name": node.name,
        "id_parent_category": category.parent,
        "title_singular": node.name,
        "title_plural": node.name,
        "level": float(node.depth),
        "url": f"/{node.key}/",
        "is_leaf": node.leaf,
        "shipping_category": "A",
        "variable_fee": 10.5,
        "fixed_fee": 0.0,
        "vat": 19.0,
    }


def tree_json() -> dict[str, Any]:
    children: dict[int, list[Category]] = {}
    for category in categories().values():
        children.setdefault(category.parent, []).append(category)

    def node(category: Category) -> dict[str, Any]:
        body = category_json(category)
        del body["is_leaf"]
        return body | {"children": [node(c) for c in children.get(category.id, ())]}

    return {
        "id_category": ROOT_ID,
        "name": "Startseite",
        "id_parent_category": ROOT_ID,
        "title_singular": "Startseite",
        "title_plural": "Startseite",
        "level": 0.0,
        "url": "/",
        "shipping_category": "A",
        "variable_fee": 0.0,
        "fixed_fee": 0.0,
        "vat": 19.0,
        "children": [node(c) for c in children.get(ROOT_ID, ())],
    }


def attribute_json(attribute: Attribute) -> dict[str, Any]:
    return {
        "id": attribute.id,
        "name": attribute.name,
        "is_multiple": attribute.multiple,
        "is_sharedset": bool(attribute.values),
        "explanation": f"The product's {attribute.title.lower()}",
        "seller_instructions": (
            f"One of the shared set's values ({len(attribute.values)})" if attribute.values else "Free text"
        ),
        "title": attribute.title,
        "type": "text",
    }


def category_with_embedded(category: Category, embedded: list[str]) -> dict[str, Any]:
    body = category_json(category)
    if "required_attributes" in embedded:
        body["required_attributes"] = [attribute_json(a) for a in category.required]
    if "optional_attributes" in embedded:
        body["optional_attributes"] = [attribute_json(a) for a in category.optional]
    if "children" in embedded:
        body["children"] = [category_json(c) for c in categories().values() if c.parent == category.id]
    if "parent" in embedded and category.parent in categories():
        body["parent"] = category_json(categories()[category.parent])
    return body


def product_data_json(record: ProductData) -> dict[str, Any]:
    return {"ean": [record.ean], "attributes": record.attributes}


def product_data_status_json(record: ProductData) -> dict[str, Any]:
    if record.fail_reason:
        status, not_ready = "FAIL", "PROCESSING_FAILED"
    elif record.missing:
        status, not_ready = "SUCCESS", "MISSING_ATTRIBUTES"
    else:
        status, not_ready = "SUCCESS", None
    return {
        "product_ready": record.ready,
        "update_status": status,
        "id_product": record.id_product if record.ready else None,
        "product_not_ready_reason": not_ready,
        "update_fail_reason": record.fail_reason,
        "attribute_values": None,
        "missing_attributes": record.missing or None,
        "min_one_missing_attributes": None,
    }


def product_json(backend: KauflandBackend, ean: str, storefront: str) -> dict[str, Any]:
    record = backend.product_data.get(ean)
    category = record.first("category") if record else ""
    id_product = record.id_product if record else int(ean[-9:]) or 1
    return {
        "id_product": id_product,
        "storefront": storefront,
        "title": record.first("title") if record else "",
        "eans": [ean],
        "id_category": int(category) if category.isdigit() else ROOT_ID,
        "main_picture": record.first("picture") if record else "",
        "manufacturer": record.first("manufacturer") if record else "",
        "url": f"https://www.kaufland.{storefront}/product/{id_product}/",
        "age_rating": 0.0,
        "is_valid": bool(record and record.ready),
        "dangerous_goods_li_shipping": None,
        "danger_label_9A": None,
    }


def unit_json(backend: KauflandBackend, unit: Unit, embedded: list[str] = ()) -> dict[str, Any]:
    record = backend.product_data.get(unit.ean)
    body = {
        "status": unit.status,
        "currency": CURRENCY[unit.storefront],
        "id_unit": unit.id_unit,
        "note": unit.note,
        "condition": unit.condition,
        "listing_price": unit.listing_price,
        "minimum_price": unit.minimum_price or unit.listing_price,
        "price": unit.listing_price,
        "id_offer": unit.id_offer,
        "id_product": record.id_product if record else int(unit.ean[-9:]) or 1,
        "id_shipping_group": unit.id_shipping_group,
        "id_warehouse": unit.id_warehouse,
        "amount": unit.amount,
        "date_inserted_iso": iso(unit.created_at),
        "date_lastchange_iso": iso(unit.updated_at),
        "handling_time": unit.handling_time,
        "shipping_rate": 0,
        "storefront": unit.storefront,
        "transport_time_min": 3,
        "transport_time_max": 7,
        "fulfillment_type": "fulfilled_by_merchant",
        "vat_indicator": unit.vat_indicator,
    }
    if "products" in embedded:  # the spec's UnitAndProductEmbeddedEnum value
        body["product"] = product_json(backend, unit.ean, unit.storefront)
    return body


def address_json(unit: OrderUnit) -> dict[str, Any]:
    buyer = unit.buyer
    return {
        "first_name": buyer.first_name,
        "last_name": buyer.last_name,
        "company_name": None,
        "street": buyer.address1,
        "house_number": "",
        "postcode": buyer.zip,
        "additional_field": buyer.address2 or None,
        "city": buyer.city,
        "phone": buyer.phone,
        "country": buyer.country_code,
    }


def order_unit_json(backend: KauflandBackend, unit: OrderUnit) -> dict[str, Any]:
    return {
        "id_order_unit": unit.id_order_unit,
        "id_order": unit.id_order,
        "ts_created_iso": iso(unit.created_at),
        "is_marketplace_deemed_supplier": False,
        "ts_updated_iso": iso(unit.updated_at),
        "status": unit.status,
        "price": unit.price,
        "id_offer": unit.id_offer,
        "revenue_gross": unit.price + unit.shipping_rate,
        "revenue_net": round((unit.price + unit.shipping_rate) / 1.19),
        "note": None,
        "unit_condition": unit.condition.lower(),
        "storefront": unit.storefront,
        "currency": CURRENCY[unit.storefront],
        "delivery_time_min": 3,
        "delivery_time_max": 7,
        "delivery_time_expires_iso": None,
        "order_received_timestamp_iso": None,
        "shipping_rate": unit.shipping_rate,
        "cancel_reason": unit.cancel_reason,
        "fulfillment_type": "fulfilled_by_merchant",
        "buyer": {"id_buyer": unit.id_buyer, "email": unit.buyer.email},
        "billing_address": address_json(unit),
        "shipping_address": address_json(unit),
        "product": product_json(backend, unit.ean, unit.storefront),
        "vat": 19.0,
    }


def message_json(ticket: Ticket, message: TicketMessage) -> dict[str, Any]:
    return {
        "id_ticket_message": message.id,
        "id_ticket": ticket.id,
        "author": {"role": message.role, "name": message.name},
        "text": message.text,
        "ts_created_iso": iso(message.created_at),
    }


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {
        "id_ticket": ticket.id,
        "ids_order_units": list(ticket.order_unit_ids),
        "id_buyer": ticket.id_buyer,
        "ts_created_iso": iso(ticket.created_at),
        "ts_updated_iso": iso(ticket.updated_at),
        "status": ticket.status,
        "open_reason": ticket.open_reason,
        "topic": ticket.topic,
        "is_seller_responsible": ticket.status == "opened",
        "fulfillment_type": "fulfilled_by_merchant",
    }


def ticket_with_embedded(backend: KauflandBackend, ticket: Ticket, embedded: list[str]) -> dict[str, Any]:
    """The spec requires every embeddable field on this object; those not asked for are empty."""
    units = [backend.order_units[i] for i in ticket.order_unit_ids if i in backend.order_units]
    return ticket_json(ticket) | {
        "messages": [message_json(ticket, m) for m in ticket.messages] if "messages" in embedded else [],
        "order_units": [order_unit_json(backend, u) for u in units] if "order_units" in embedded else [],
        "buyer": {"id_buyer": ticket.id_buyer, "email": ticket.buyer.email} if "buyer" in embedded else None,
        "product": product_json(backend, units[0].ean, ticket.storefront)
        if units and "product" in embedded
        else None,
        "files": [],
        "storefront": ticket.storefront,
    }
